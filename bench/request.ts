// The exchanges the rows measure: a `tools/call` (of `echo` unless a row names another tool) in the
// modern (2026-07-28) and the legacy (2025-06-18) era, as plain headers and JSON bodies, and the
// check that an answer is the expected one.
const MODERN_VERSION = '2026-07-28';
const LEGACY_VERSION = '2025-06-18';
const ECHO_TEXT = 'hello from the benchmark';
export const MCP_PATH = '/mcp';

export interface HttpCall {
  headers: Record<string, string>;
  body: string;
}

/** A tool call a row makes, and the text content that a correct answer carries. */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  text: string;
}

export const ECHO: ToolCall = { name: 'echo', arguments: { text: ECHO_TEXT }, text: ECHO_TEXT };

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1.0.0' },
};

/** A stateless `tools/call`: version and client in `_meta`, method and tool name mirrored in headers. */
export function modernCall(id: number, tool: ToolCall = ECHO): HttpCall {
  return {
    headers: { ...JSON_HEADERS, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': tool.name },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool.name, arguments: tool.arguments, _meta: META } }),
  };
}

/** The `initialize` that opens a legacy session (the answer carries `Mcp-Session-Id`). */
export function legacyInitialize(): HttpCall {
  return {
    headers: JSON_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } },
    }),
  };
}

export function legacyInitialized(sessionId: string): HttpCall {
  return {
    headers: { ...JSON_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  };
}

/** A `tools/call` inside an established legacy session. */
export function legacyCall(id: number, sessionId: string): HttpCall {
  return {
    headers: { ...JSON_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: ECHO_TEXT } } }),
  };
}

/**
 * Throws unless an answer is the successful result of `tool`. Every measured call is checked, so a
 * variant that fails fast cannot look fast.
 */
export function assertResult(label: string, status: number, body: string, tool: ToolCall = ECHO): void {
  if (status !== 200 || !body.includes(`"text":${JSON.stringify(tool.text)}`) || body.includes('"error"') || body.includes('"isError":true')) {
    throw new Error(`${label}: expected a ${tool.name} result, got HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

export const assertEcho = (label: string, status: number, body: string) => assertResult(label, status, body, ECHO);
