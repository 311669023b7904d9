// Bad input gets the right HTTP status and a JSON-RPC error that says what to fix, and the server
// keeps serving afterwards. Each row is sent raw over HTTP to a real server.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'bad-input', version: '1' },
};

interface Row {
  name: string;
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else is JSON-encoded. */
  body?: unknown;
  status: number;
  code?: number;
  message?: RegExp;
  /** For errors reported inside a 200 tools/call result. */
  toolError?: RegExp;
}

describe('bad input', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let session: { id: string; version: string };

  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_REQUEST_STATE_KEY: 'bad-input-request-state-key-0123456789',
      MCP_MAX_BODY_BYTES: '4096',
      MCP_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      MCP_ALLOWED_ORIGINS: 'http://localhost:6274',
    });
    const init = await fetch(server.url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bad-input', version: '1' } },
      }),
    });
    session = { id: init.headers.get('mcp-session-id')!, version: '2025-06-18' };
  });
  after(async () => {
    await server.stop();
    await dynamo.stop();
  });

  const legacyHeaders = () => ({ 'mcp-session-id': session.id, 'mcp-protocol-version': session.version });
  const modernHeaders = (method: string, name?: string) => ({
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(name && { 'mcp-name': name }),
  });
  const call = (name: string, args: unknown) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args, _meta: MODERN_META } });

  const rows: Row[] = [
    { name: 'malformed JSON', body: '{"jsonrpc": "2.0", "id": 1,', status: 400, code: -32700, message: /not valid JSON/ },
    { name: 'empty body', body: '', status: 400, code: -32700, message: /body is empty/ },
    { name: 'text/plain content type', headers: { 'content-type': 'text/plain' }, body: '{}', status: 415, message: /Content-Type must be application\/json/ },
    { name: 'oversized body', body: { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(5000) } }, status: 413, message: /must not exceed 4096 bytes/ },
    { name: 'legacy request without a session id', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, status: 400, code: -32600, message: /Mcp-Session-Id header is required/ },
    {
      name: 'unknown session id',
      headers: { 'mcp-session-id': 'not-a-session' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      status: 404,
      code: -32001,
      message: /Session not found.*send initialize/,
    },
    {
      name: 'unsupported protocol version header',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '1999-01-01' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      status: 400,
      message: /unsupported MCP-Protocol-Version "1999-01-01"/,
    },
    {
      name: 'initialize carrying a session id',
      headers: { 'mcp-session-id': 'SESSION' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      status: 400,
      message: /must not carry an Mcp-Session-Id/,
    },
    {
      name: 'batch on a 2025-06-18 session',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: [{ jsonrpc: '2.0', id: 1, method: 'ping' }],
      status: 400,
      message: /batches are not part of protocol 2025-06-18/,
    },
    {
      name: 'reply to a server request nobody is waiting for',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 'nope', result: {} },
      status: 409,
      message: /No request with id "nope" is waiting/,
    },
    {
      name: 'wrong jsonrpc version',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '1.0', id: 1, method: 'ping' },
      status: 400,
      code: -32600,
      message: /"jsonrpc" must be "2.0"/,
    },
    {
      name: 'message that is neither request nor response',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 3 },
      status: 400,
      code: -32600,
      message: /needs a "method"/,
    },
    {
      name: 'Mcp-Method header that does not match the body',
      headers: modernHeaders('tools/list'),
      body: call('echo', { text: 'x' }),
      status: 400,
      message: /Mcp-Method/i,
    },
    {
      name: 'Mcp-Name header that does not match the tool',
      headers: modernHeaders('tools/call', 'note_add'),
      body: call('echo', { text: 'x' }),
      status: 400,
      message: /Mcp-Name/i,
    },
    {
      name: 'unsupported modern protocol version in _meta',
      headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
      status: 400,
      message: /[Uu]nsupported protocol version/,
    },
    { name: 'unknown tool', headers: modernHeaders('tools/call', 'nope'), body: call('nope', {}), status: 200, toolError: /nope/ },
    { name: 'argument of the wrong type', headers: modernHeaders('tools/call', 'echo'), body: call('echo', { text: 42 }), status: 200, toolError: /text/ },
    { name: 'PUT', method: 'PUT', body: '{}', status: 405, message: /Method Not Allowed/ },
    { name: 'GET stream without text/event-stream', method: 'GET', headers: { accept: 'application/json' }, status: 406, message: /Accept: text\/event-stream/ },
    { name: 'GET without a session', method: 'GET', headers: { accept: 'text/event-stream' }, status: 400, message: /Mcp-Session-Id header is required/ },
    { name: 'DELETE of an unknown session', method: 'DELETE', headers: { 'mcp-session-id': 'gone' }, status: 404, message: /Session not found/ },
    { name: 'Origin not on the allow-list', headers: { origin: 'http://evil.example' }, body: { jsonrpc: '2.0', id: 1, method: 'ping' }, status: 403 },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.status}`, async () => {
      const headers: Record<string, string> = { ...JSON_HEADERS, ...row.headers };
      if (headers['mcp-session-id'] === 'SESSION') headers['mcp-session-id'] = session.id;
      const method = row.method ?? 'POST';
      const res = await fetch(server.url, {
        method,
        headers,
        ...(method !== 'GET' && method !== 'DELETE' && { body: typeof row.body === 'string' ? row.body : JSON.stringify(row.body) }),
      });
      assert.equal(res.status, row.status, `status for ${row.name}`);
      const text = await res.text();
      if (row.toolError) {
        const body = JSON.parse(text) as { result?: { isError?: boolean; content: { text: string }[] }; error?: { message: string } };
        // The SDK answers an unknown tool or invalid arguments either as an isError result or a JSON-RPC error.
        const message = body.result ? (assert.equal(body.result.isError, true), body.result.content[0]!.text) : body.error!.message;
        assert.match(message, row.toolError);
        return;
      }
      if (row.message) {
        const body = JSON.parse(text) as { error?: { code: number; message: string } };
        assert.ok(body.error, `expected a JSON-RPC error body, got ${text}`);
        assert.match(body.error.message, row.message);
        if (row.code !== undefined) assert.equal(body.error.code, row.code);
      }
    });
  }

  it('Host not on the allow-list → 403 (DNS rebinding)', async () => {
    // fetch() will not send a forged Host header; node:http will.
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...JSON_HEADERS, host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
    });
    assert.equal(status, 403);
  });

  it('keeps serving both eras after all of the above', async () => {
    const health = await fetch(server.url.replace(/\/mcp$/, '/health'));
    assert.equal(health.status, 200);
    const legacy = await fetch(server.url, { method: 'POST', headers: { ...JSON_HEADERS, ...legacyHeaders() }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
    assert.equal(legacy.status, 200);
    const modern = await fetch(server.url, { method: 'POST', headers: { ...JSON_HEADERS, ...modernHeaders('tools/call', 'echo') }, body: JSON.stringify(call('echo', { text: 'still here' })) });
    const body = (await modern.json()) as { result: { content: { text: string }[] } };
    assert.equal(body.result.content[0]!.text, 'still here');
  });
});
