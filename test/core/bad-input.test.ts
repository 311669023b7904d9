// Bad input gets the right HTTP status and a JSON-RPC error that says what to fix, and the server
// keeps serving afterwards. Each row is sent raw over HTTP to a real server. Token rows live in
// test/auth/oauth.test.ts.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { MAX_JSON_DEPTH } from '../../shared/http/body.ts';
import { MAX_CLIENT_DESCRIPTION_CHARS } from '../../shared/http/legacy.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'bad-input', version: '1' },
};

const MAX_BODY_BYTES = 65_536;
/** Session id placeholders in a row's headers, replaced by real sessions started in `before`. */
type SessionName = 'SESSION' | 'BATCH_SESSION' | 'DOOMED';

interface Row {
  name: string;
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else is JSON-encoded. */
  body?: unknown;
  /** Sent once before, and answered with this status; the row asserts the second answer. */
  first?: number;
  status: number;
  /** The JSON-RPC error code; every row with a `message` names one. */
  code?: number;
  message?: RegExp;
  /** For errors reported inside a 200 tools/call result. */
  toolError?: RegExp;
  /** The input is acceptable: the answer is a JSON-RPC result. */
  result?: true;
  /** Known wrong today: the row asserts the right behaviour and says why it is not there yet. */
  todo?: string;
}

describe('bad input', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let session: { id: string; version: string };
  let sessions: Record<SessionName, string>;

  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_REQUEST_STATE_KEY: 'bad-input-request-state-key-0123456789',
      MCP_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MCP_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      MCP_ALLOWED_ORIGINS: 'http://localhost:6274',
    });
    const start = async (protocolVersion: string) => {
      const init = await fetch(server.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion, capabilities: {}, clientInfo: { name: 'bad-input', version: '1' } },
        }),
      });
      assert.equal(init.status, 200);
      return init.headers.get('mcp-session-id')!;
    };
    session = { id: await start('2025-06-18'), version: '2025-06-18' };
    sessions = { SESSION: session.id, BATCH_SESSION: await start('2025-03-26'), DOOMED: await start('2025-06-18') };
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
  const modern = (method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 9, method, params: { ...params, _meta: MODERN_META } });
  const inSession = { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' };
  // The answer names what there is to call instead.
  const UNKNOWN_TOOL =
    /^Tool nope not found: this server's tools are echo, note_add, note_list, notebook_clear, notebook_export, word_stats; tools\/list describes them$/;
  const inBatchSession = { 'mcp-session-id': 'BATCH_SESSION', 'mcp-protocol-version': '2025-03-26' };
  const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
  const initialize = (params: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params });
  const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

  const rows: Row[] = [
    { name: 'malformed JSON', body: '{"jsonrpc": "2.0", "id": 1,', status: 400, code: -32700, message: /not valid JSON/ },
    { name: 'empty body', body: '', status: 400, code: -32700, message: /body is empty/ },
    {
      name: 'text/plain content type',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
      status: 415,
      code: -32000,
      message: /Content-Type must be application\/json/,
    },
    {
      name: 'oversized body',
      body: { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(MAX_BODY_BYTES) } },
      status: 413,
      code: -32000,
      message: new RegExp(`must not exceed ${MAX_BODY_BYTES} bytes`),
    },
    {
      name: 'legacy request without a session id',
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      status: 400,
      code: -32600,
      message: /Mcp-Session-Id header is required/,
    },
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
      code: -32600,
      message: /unsupported MCP-Protocol-Version "1999-01-01" \(supported: 2025-11-25/,
    },
    {
      name: 'initialize carrying a session id',
      headers: { 'mcp-session-id': 'SESSION' },
      body: {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      },
      status: 400,
      code: -32600,
      message: /must not carry an Mcp-Session-Id/,
    },
    {
      name: 'batch on a 2025-06-18 session',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: [{ jsonrpc: '2.0', id: 1, method: 'ping' }],
      status: 400,
      code: -32600,
      message: /batches are not part of protocol 2025-06-18/,
    },
    {
      name: 'reply with an id the server never sent',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 'nope', result: {} },
      status: 400,
      code: -32600,
      message: /this session was sent no request with id "nope"/,
    },
    {
      name: 'reply with a forged wire id naming no request',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 'k1.%%%.1', result: {} },
      status: 400,
      code: -32600,
      message: /this session was sent no request with id "k1\.%%%\.1"/,
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
      code: -32020,
      message: /Mcp-Method/i,
    },
    {
      name: 'Mcp-Name header that does not match the tool',
      headers: modernHeaders('tools/call', 'note_add'),
      body: call('echo', { text: 'x' }),
      status: 400,
      code: -32020,
      message: /Mcp-Name/i,
    },
    {
      name: 'unsupported modern protocol version in _meta',
      headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
      status: 400,
      code: -32022,
      message: /[Uu]nsupported protocol version: 2099-01-01/,
    },
    { name: 'unknown tool', headers: modernHeaders('tools/call', 'nope'), body: call('nope', {}), status: 200, toolError: UNKNOWN_TOOL },
    {
      name: 'unknown tool in a session',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'nope', arguments: {} } },
      status: 200,
      code: -32602,
      message: UNKNOWN_TOOL,
    },
    { name: 'argument of the wrong type', headers: modernHeaders('tools/call', 'echo'), body: call('echo', { text: 42 }), status: 200, toolError: /text/ },
    { name: 'PUT', method: 'PUT', body: '{}', status: 405, code: -32000, message: /Method Not Allowed/ },
    {
      name: 'GET stream without text/event-stream',
      method: 'GET',
      headers: { accept: 'application/json' },
      status: 406,
      code: -32000,
      message: /Accept: text\/event-stream/,
    },
    {
      name: 'GET without a session',
      method: 'GET',
      headers: { accept: 'text/event-stream' },
      status: 400,
      code: -32600,
      message: /Mcp-Session-Id header is required/,
    },
    { name: 'DELETE of an unknown session', method: 'DELETE', headers: { 'mcp-session-id': 'gone' }, status: 404, code: -32001, message: /Session not found/ },
    {
      name: 'Origin not on the allow-list',
      headers: { origin: 'http://evil.example' },
      body: ping,
      status: 403,
      code: -32000,
      message: /Invalid Origin: evil\.example/,
    },

    // JSON-RPC envelopes: each refusal names the member that is wrong.
    { name: 'JSON array of non-objects', body: [1, 'two', null], status: 400, code: -32600, message: /each JSON-RPC message must be an object/ },
    { name: 'empty batch', headers: inBatchSession, body: [], status: 400, code: -32600, message: /empty JSON-RPC batch/ },
    {
      name: 'batch containing initialize',
      body: [ping, initialize({ protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } })],
      status: 400,
      code: -32600,
      message: /initialize must not be part of a batch; send it alone/,
    },
    {
      name: 'batch with one malformed message',
      headers: inBatchSession,
      body: [ping, { jsonrpc: '2.0', id: 2, method: 'ping', params: 'x' }],
      status: 400,
      code: -32600,
      message: /"params" must be an object/,
    },
    {
      name: 'notification with id: null',
      headers: inSession,
      body: { jsonrpc: '2.0', id: null, method: 'notifications/initialized' },
      status: 400,
      code: -32600,
      message: /"id" must not be null.*leave "id" out of a notification/,
    },
    {
      name: 'params a string',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: 'all' },
      status: 400,
      code: -32600,
      message: /"params" must be an object/,
    },
    {
      name: 'method a number',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1, method: 42 },
      status: 400,
      code: -32600,
      message: /"method" must be a string/,
    },
    {
      name: 'huge numeric id',
      headers: inSession,
      body: `{"jsonrpc":"2.0","id":${'9'.repeat(400)},"method":"ping"}`,
      status: 400,
      code: -32600,
      message: /"id" must be a string or an integer/,
    },
    {
      name: 'fractional id',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1.5, method: 'ping' },
      status: 400,
      code: -32600,
      message: /"id" must be a string or an integer/,
    },
    {
      name: 'unexpected top-level member',
      headers: inSession,
      body: { ...ping, extra: true },
      status: 400,
      code: -32600,
      message: /unexpected member "extra" in a JSON-RPC request \(allowed: jsonrpc, id, method, params\)/,
    },
    {
      name: 'response whose result is not an object',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 'x', result: 5 },
      status: 400,
      code: -32600,
      message: /"result" must be an object/,
    },
    {
      name: 'initialize sent as a notification',
      body: { jsonrpc: '2.0', method: 'initialize', params: {} },
      status: 400,
      code: -32600,
      message: /initialize is a request: give it an "id"/,
    },

    // Bodies: media type, encoding, nesting, size of what a session stores.
    {
      name: 'application/json-patch+json content type',
      headers: { ...inSession, 'content-type': 'application/json-patch+json' },
      body: ping,
      status: 415,
      code: -32000,
      message: /must be application\/json \(got application\/json-patch\+json\)/,
    },
    // RFC 8259 §8.1: a parser MAY ignore a byte order mark; the web's TextDecoder does.
    { name: 'body starting with a byte order mark', headers: inSession, body: `\uFEFF${JSON.stringify(ping)}`, status: 200, result: true },
    {
      name: 'JSON nested 10k levels deep',
      headers: inSession,
      body: deep(10_000),
      status: 400,
      code: -32600,
      message: new RegExp(`more than ${MAX_JSON_DEPTH} levels deep`),
    },
    {
      name: 'initialize with capabilities nested 10k levels deep',
      body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","clientInfo":{"name":"x","version":"1"},"capabilities":{"x":${deep(10_000)}}}}`,
      status: 400,
      code: -32600,
      message: new RegExp(`more than ${MAX_JSON_DEPTH} levels deep`),
    },
    {
      name: 'initialize with 20 KB of capabilities',
      body: initialize({
        protocolVersion: '2025-06-18',
        capabilities: { experimental: { pad: { text: 'x'.repeat(20_000) } } },
        clientInfo: { name: 'x', version: '1' },
      }),
      status: 400,
      code: -32600,
      message: new RegExp(`"clientInfo" and "capabilities" must not exceed ${MAX_CLIENT_DESCRIPTION_CHARS} characters`),
    },

    // Sessions.
    {
      name: 'session id with non-ASCII characters',
      headers: { 'mcp-session-id': 'sé-ssion' },
      body: ping,
      status: 404,
      code: -32001,
      message: /Session not found.*send initialize/,
    },
    {
      name: 'session id of 10 KB',
      headers: { 'mcp-session-id': 'a'.repeat(10_240) },
      body: ping,
      status: 404,
      code: -32001,
      message: /Session not found.*send initialize/,
    },
    {
      name: 'DELETE of a session twice',
      method: 'DELETE',
      headers: { 'mcp-session-id': 'DOOMED' },
      first: 204,
      status: 404,
      code: -32001,
      message: /Session not found/,
    },

    // Era mix-ups.
    { name: 'Mcp-Method on a legacy request (ignored)', headers: { ...inSession, 'mcp-method': 'ping' }, body: ping, status: 200, result: true },
    {
      name: 'Mcp-Method disagreeing with a legacy request',
      headers: { ...inSession, 'mcp-method': 'tools/list' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
      status: 400,
      code: -32020,
      message: /Mcp-Method header \(tools\/list\) does not match the request's method \(tools\/call\)/,
    },
    {
      name: 'MCP-Protocol-Version 2026-07-28 with a legacy session id',
      headers: { 'mcp-session-id': 'SESSION', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      status: 400,
      code: -32602,
      message: /header names protocol revision 2026-07-28, but the request is missing .*_meta/,
    },
    {
      name: 'JSON-RPC response to an unknown id in the 2026-07-28 era',
      headers: { 'mcp-protocol-version': '2026-07-28' },
      body: { jsonrpc: '2.0', id: 'elicit-1', result: {} },
      status: 400,
      code: -32600,
      message: /2026-07-28 has no server-to-client requests to reply to; answer an input_required result by retrying/,
    },
    {
      name: '2026-07-28 request without Mcp-Method',
      headers: { 'mcp-protocol-version': '2026-07-28' },
      body: modern('tools/list'),
      status: 400,
      code: -32020,
      message: /Mcp-Method header is absent/,
    },
    {
      name: 'malformed _meta envelope',
      headers: modernHeaders('tools/list'),
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': 20260728 } } },
      status: 400,
      code: -32602,
      message: /io\.modelcontextprotocol\/protocolVersion: .*expected string/,
    },
    {
      name: '_meta a string',
      headers: modernHeaders('tools/list'),
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: '2026-07-28' } },
      status: 400,
      code: -32600,
      message: /"params\._meta" must be an object/,
    },

    // Well-formed requests for things that do not exist: JSON-RPC errors in a 200.
    {
      name: 'tools/call without a name',
      headers: modernHeaders('tools/call'),
      body: modern('tools/call', { arguments: {} }),
      status: 200,
      code: -32602,
      message: /"name"[\s\S]*expected string/,
    },
    {
      name: 'tools/call with arguments an array',
      headers: modernHeaders('tools/call', 'echo'),
      body: call('echo', ['x']),
      status: 200,
      code: -32602,
      message: /"arguments"[\s\S]*expected record, received array/,
    },
    {
      name: 'prompts/get of an unknown prompt',
      headers: modernHeaders('prompts/get', 'nope'),
      body: modern('prompts/get', { name: 'nope' }),
      status: 200,
      code: -32602,
      message: /Prompt nope not found/,
    },
    {
      name: 'resources/read of an unknown URI',
      headers: modernHeaders('resources/read', 'nowhere://x'),
      body: modern('resources/read', { uri: 'nowhere://x' }),
      status: 200,
      code: -32602,
      message: /Resource not found: nowhere:\/\/x/,
    },
    {
      name: 'resources/read of an artifact:// URI with a garbage path',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'artifact://s/%ZZ/../../etc/passwd' } },
      status: 200,
      code: -32602,
      message: /Resource not found: artifact:\/\//,
    },
    {
      name: 'resources/read of a notebook with an unknown handle',
      headers: modernHeaders('resources/read', 'notes://notebook/h_nope'),
      body: modern('resources/read', { uri: 'notes://notebook/h_nope' }),
      status: 200,
      code: -32602,
      message: /Resource not found: notes:\/\/notebook\/h_nope/,
    },
    {
      name: 'prompts/get with an unknown notebook handle',
      headers: modernHeaders('prompts/get', 'summarize_notebook'),
      body: modern('prompts/get', { name: 'summarize_notebook', arguments: { notebook: 'h_nope' } }),
      status: 200,
      code: -32602,
      // The argument is required: the answer says what to pass, not to omit it.
      message: /^unknown or expired notebook handle "h_nope": pass a handle note_add returned$/,
    },
    {
      name: 'resources/read with a uri that is not a string',
      headers: modernHeaders('resources/read'),
      body: modern('resources/read', { uri: 42 }),
      status: 200,
      code: -32602,
      message: /^Invalid params for resources\/read: params\.uri: expected string, received number$/,
    },
    {
      name: 'initialize without params',
      body: { jsonrpc: '2.0', id: 1, method: 'initialize' },
      status: 200,
      code: -32602,
      message: /^Invalid params for initialize: params: expected object, received undefined$/,
    },
    {
      name: 'logging/setLevel with an unknown level',
      headers: inSession,
      body: { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'loud' } },
      status: 200,
      code: -32602,
      message: /^Invalid params for logging\/setLevel: params\.level: Invalid option: expected one of "debug"/,
    },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.status}`, { ...(row.todo && { todo: row.todo }) }, async () => {
      const headers: Record<string, string> = { ...JSON_HEADERS, ...row.headers };
      const placeholder = headers['mcp-session-id'] as SessionName | undefined;
      if (placeholder && placeholder in sessions) headers['mcp-session-id'] = sessions[placeholder];
      const method = row.method ?? 'POST';
      const send = () =>
        fetch(server.url, {
          method,
          headers,
          ...(method !== 'GET' && method !== 'DELETE' && { body: typeof row.body === 'string' ? row.body : JSON.stringify(row.body) }),
          signal: AbortSignal.timeout(5000),
        });
      if (row.first !== undefined) {
        const first = await send();
        await first.arrayBuffer();
        assert.equal(first.status, row.first, `first status for ${row.name}`);
      }
      const res = await send();
      const text = await res.text();
      assert.equal(res.status, row.status, `status for ${row.name}: ${text.slice(0, 300)}`);
      if (row.result) {
        const body = JSON.parse(text) as { result?: unknown; error?: unknown };
        assert.ok(body.result && !body.error, `expected a JSON-RPC result, got ${text}`);
        return;
      }
      if (row.toolError) {
        const body = JSON.parse(text) as { result?: { isError?: boolean; content: { text: string }[] }; error?: { message: string } };
        // The SDK answers an unknown tool or invalid arguments either as an isError result or a JSON-RPC error.
        const message = body.result ? (assert.equal(body.result.isError, true), body.result.content[0]!.text) : body.error!.message;
        assert.match(message, row.toolError);
        return;
      }
      assert.ok(row.message && row.code !== undefined, `row ${row.name} must assert a message and a JSON-RPC code`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = JSON.parse(text) as { error?: { code: number; message: string } };
      assert.ok(body.error, `expected a JSON-RPC error body, got ${text}`);
      assert.equal(body.error.code, row.code, `code for ${row.name}: ${body.error.message}`);
      assert.match(body.error.message, row.message);
    });
  }

  it('Host not on the allow-list → 403 (DNS rebinding)', async () => {
    // fetch() will not send a forged Host header; node:http will.
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...JSON_HEADERS, host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
    });
    assert.equal(status, 403);
  });

  it('keeps serving both eras after all of the above', async () => {
    const health = await fetch(server.url.replace(/\/mcp$/, '/health'));
    assert.equal(health.status, 200);
    const legacy = await fetch(server.url, {
      method: 'POST',
      headers: { ...JSON_HEADERS, ...legacyHeaders() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    assert.equal(legacy.status, 200);
    const modern = await fetch(server.url, {
      method: 'POST',
      headers: { ...JSON_HEADERS, ...modernHeaders('tools/call', 'echo') },
      body: JSON.stringify(call('echo', { text: 'still here' })),
    });
    const body = (await modern.json()) as { result: { content: { text: string }[] } };
    assert.equal(body.result.content[0]!.text, 'still here');
  });
});
