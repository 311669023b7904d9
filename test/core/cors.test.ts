// CORS for browser-based clients: only origins on MCP_ALLOWED_ORIGINS get CORS headers and a
// preflight answer; other origins are refused; without an allow-list no CORS headers are sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import notes from '../../functions/notes/server.ts';
import { call, type Call } from '../helpers/lanes.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

describe('CORS', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let withList: Awaited<ReturnType<typeof startInProcess>>;
  let open: Awaited<ReturnType<typeof startInProcess>>;
  let echoListed: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    dynamo = await startTestDynamo();
    withList = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_ALLOWED_ORIGINS: 'https://app.example' });
    open = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });
    echoListed = await startInProcess(echo, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_ALLOWED_ORIGINS: 'https://app.example' });
  });
  after(async () => {
    await Promise.all([withList.stop(), open.stop(), echoListed.stop()]);
    await dynamo.stop();
  });

  const initialize = (url: string, origin?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(origin && { origin }) },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser', version: '1' } },
      }),
    });

  it('answers a preflight from an allowed origin with the methods and headers MCP needs', async () => {
    const res = await fetch(withList.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, mcp-session-id' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(res.headers.get('access-control-allow-methods')!, /POST/);
    assert.match(res.headers.get('access-control-allow-headers')!, /mcp-session-id/);
    assert.match(res.headers.get('access-control-allow-headers')!, /traceparent, tracestate/, 'a browser client may send its trace context');
  });

  it('exposes Mcp-Session-Id to an allowed origin', async () => {
    const res = await initialize(withList.url, 'https://app.example');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(res.headers.get('access-control-expose-headers')!, /mcp-session-id/);
  });

  it('refuses other origins, preflight included, without CORS headers', async () => {
    const preflight = await fetch(withList.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const post = await initialize(withList.url, 'https://evil.example');
    assert.equal(post.status, 403);
    assert.equal(post.headers.get('access-control-allow-origin'), null);
  });

  it('sends no CORS headers without an allow-list', async () => {
    const res = await initialize(open.url, 'https://app.example');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  // The direct lane builds its JSON answer with the request's answer headers in it (security-headers.ts);
  // the SDK lane's answer gets them set afterwards. A client must not tell them apart.
  it('gives a direct-lane answer the same security, request id and CORS headers as an SDK-lane answer', async () => {
    const send = async (c: Call, origin?: string) => {
      const res = await fetch(echoListed.url, {
        method: 'POST',
        headers: { ...c.headers, 'x-request-id': 'cors-headers', ...(origin && { origin }) },
        body: JSON.stringify(c.body),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      // What the HTTP server adds, and the body's own type and length, aside.
      const skip = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'content-type']);
      return { headers: Object.fromEntries([...res.headers].filter(([name]) => !skip.has(name))), type: res.headers.get('content-type'), text };
    };
    const direct = call('echo', { text: 'hi' });
    // A log level in the envelope: the SDK lane's call.
    const viaSdk = call('echo', { text: 'hi' }, (c) => (c.body.params._meta['io.modelcontextprotocol/logLevel'] = 'debug'));
    for (const origin of ['https://app.example', undefined]) {
      const [fast, sdk] = await Promise.all([send(direct, origin), send(viaSdk, origin)]);
      assert.equal(fast.type, 'application/json');
      assert.match(fast.text, /"text":"hi"/);
      assert.deepEqual(fast.headers, sdk.headers, `origin ${origin}`);
      assert.equal(fast.headers['x-request-id'], 'cors-headers');
      assert.equal(fast.headers['x-content-type-options'], 'nosniff');
      assert.equal(fast.headers['cache-control'], 'no-store');
      assert.equal(fast.headers['access-control-allow-origin'], origin);
      assert.equal(fast.headers.vary, origin && 'Origin');
    }
  });

  // The legacy lane builds its JSON answer the same way (legacy-exchange.ts); an answer the SDK
  // serves on a session gets the headers set afterwards. JSON and SSE (progress mid-call), with
  // and without an allowed Origin.
  it('gives a legacy-lane answer the same headers as the SDK path on a session, JSON and SSE', async () => {
    const session = (await initialize(withList.url)).headers.get('mcp-session-id')!;
    let id = 0;
    const send = async (name: string, args: object, meta: object | undefined, origin?: string) => {
      const res = await fetch(withList.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-06-18',
          'x-request-id': 'legacy-headers',
          ...(origin && { origin }),
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: args, ...(meta && { _meta: meta }) } }),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const skip = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
      return { headers: Object.fromEntries([...res.headers].filter(([name]) => !skip.has(name))), text };
    };
    // A `_meta` member besides the progress token: the lane leaves the call to the SDK.
    const viaSdk = { progressToken: 'p', 'example.com/other': 1 };
    for (const origin of ['https://app.example', undefined]) {
      const [fast, sdk] = [await send('echo', { text: 'hi' }, undefined, origin), await send('echo', { text: 'hi' }, viaSdk, origin)];
      assert.match(fast.text, /"text":"hi"/);
      assert.deepEqual(fast.headers, sdk.headers, `JSON, origin ${origin}`);
      assert.equal(fast.headers['content-type'], 'application/json');
      assert.equal(fast.headers['x-request-id'], 'legacy-headers');
      assert.equal(fast.headers['cache-control'], 'no-store');
      assert.equal(fast.headers['access-control-allow-origin'], origin);
      assert.equal(fast.headers.vary, origin && 'Origin');
      // word_stats reports progress: the answer is a stream. A new text each time, past its cache.
      const text = `a b c ${id}`;
      const streamed = await send('word_stats', { text }, { progressToken: 'p' }, origin);
      const streamedSdk = await send('word_stats', { text: `${text} d` }, viaSdk, origin);
      assert.match(streamed.text, /notifications\/progress/);
      assert.deepEqual(streamed.headers, streamedSdk.headers, `SSE, origin ${origin}`);
      assert.equal(streamed.headers['content-type'], 'text/event-stream');
      assert.equal(streamed.headers['access-control-allow-origin'], origin);
    }
  });
});
