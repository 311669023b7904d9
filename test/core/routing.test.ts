// The kit's era-routing shortcut must agree with the SDK's own classification on every shape of
// request; this pins it, so an SDK upgrade that changes the rules fails here first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { isLegacy } from '../../shared/http/app.ts';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
};

const bodies: [string, unknown][] = [
  ['modern request', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } }],
  ['request without envelope', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
  [
    'initialize',
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
  ],
  ['notification', { jsonrpc: '2.0', method: 'notifications/initialized' }],
  ['modern notification', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: META } }],
  ['response', { jsonrpc: '2.0', id: 'x', result: {} }],
  ['batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }]],
  [
    'legacy call with a progress token',
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: { progressToken: 'p1' } } },
  ],
  ['legacy call with a numeric progress token', { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', _meta: { progressToken: 7 } } }],
  ['progress token of a type the schema refuses', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: 1.5 } } }],
  ['progress token that is not a token', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: true } } }],
  ['empty _meta', { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: {} } }],
  [
    '2025-11-25 related-task meta',
    { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't' } } } },
  ],
  ['other _meta keys', { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'echo', _meta: { trace: 'x', progressToken: 1 } } }],
  ['envelope claim alone', { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }],
  ['2025-era notification with params', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'stop' } }],
  [
    'legacy notification with a progress token',
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1, _meta: { progressToken: 1 } } },
  ],
  [
    'envelope naming an unknown revision',
    { jsonrpc: '2.0', id: 1, method: 'ping', params: { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
  ],
];
const headers: [string, Record<string, string>][] = [
  ['no version header', {}],
  ['2026-07-28 header', { 'mcp-protocol-version': '2026-07-28' }],
  ['2025-06-18 header', { 'mcp-protocol-version': '2025-06-18' }],
  ['session header', { 'mcp-session-id': 'abc', 'mcp-protocol-version': '2025-11-25' }],
  ['2024-11-05 header', { 'mcp-protocol-version': '2024-11-05' }],
  ['unknown version header', { 'mcp-protocol-version': '2099-01-01' }],
];

describe('era routing shortcut', () => {
  for (const [bodyName, body] of bodies) {
    for (const [headerName, extra] of headers) {
      it(`${bodyName}, ${headerName}: same verdict as the SDK`, async () => {
        const request = () =>
          new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
        assert.equal(await isLegacy(request(), body, async () => ({ isLegacyRequest }) as never), await isLegacyRequest(request(), body));
      });
    }
  }
});
