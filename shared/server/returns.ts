// What handlers return, as types only: a leaf that the definition, the confirmation flow and the
// tool runner share without importing each other.
import type { CallToolResult, GetPromptResult, InputRequiredResult, ReadResourceResult } from '@modelcontextprotocol/server';

/** What a tool handler may return: a full result, an MRTR `inputRequired(...)`, or plain text. */
export type ToolReturn = CallToolResult | InputRequiredResult | string;
/** Prompts and resource reads may also answer with an MRTR `inputRequired(...)` (2026-07-28). */
export type PromptReturn = GetPromptResult | InputRequiredResult;
export type ReadReturn = ReadResourceResult | InputRequiredResult;
