// The kit's one entry for a server file: defining a server and its tools, prompts and resources,
// the tool context and its state, `inputRequired(...)` for MRTR questions, and the errors a
// handler may catch or throw. Everything here loads without the MCP SDK (a cold start that serves
// only direct-lane calls never loads it; test/core/entry-cold-start.test.ts holds it), which is
// why `inputRequired` is the kit's own (server/input-required.ts), not the SDK's re-exported.
// Adapters (shared/adapters/) are imported by entry points.
export { defineServer, prompt, resource, resourceTemplate, tool } from './server/define.ts';
export type {
  PromptDefinition,
  PromptReturn,
  ReadReturn,
  ResourceDefinition,
  ResourceTemplateDefinition,
  ServerDefinition,
  ServerModule,
  TaskMode,
  TaskRuntime,
  ToolDefinition,
  ToolReturn,
} from './server/define.ts';
export type { LogData, ToolArtifacts, ToolContext, ToolTask } from './server/context.ts';
export { confirmToken, type Confirmation } from './server/confirm.ts';
export { inputRequired } from './server/input-required.ts';
export { StateConflictError, StateHandleError, UPDATE_ATTEMPTS, type PutOptions, type StateScope, type Versioned } from './store/state.ts';
export { ArtifactInputError, ArtifactNotFoundError } from './artifacts/errors.ts';
export type { CachePolicy } from './cache/tool-cache.ts';
export type { Principal } from './principal.ts';
export type { CallToolResult, InputRequiredResult } from '@modelcontextprotocol/server';
