// One 2026-07-28 `tools/call` as raw HTTP, for tests that need what is on the wire: the headers a
// stateless client mirrors from its body (version, method, tool name) and the JSON-RPC envelope.

export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
};

export interface RawCallOptions {
  /** The request's `_meta` in full. @default MODERN_META */
  meta?: Record<string, unknown>;
  /** Added to the request's headers (a traceparent, another Accept). */
  headers?: Record<string, string>;
}

/** POSTs a `tools/call` of these params, their `name` mirrored in Mcp-Name; the response, unread. */
export function postToolCall(url: string, params: { name: string } & Record<string, unknown>, options: RawCallOptions = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': params.name,
      ...options.headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { ...params, _meta: options.meta ?? MODERN_META } }),
  });
}
