// A process's own stream cap (MCP_CONTAINER_STREAMS) and its drain (what the container adapter
// runs on SIGTERM), on a real HTTP server with the DynamoDB emulator: past the cap a stream gets
// 503 with Retry-After, never 500; draining ends each listen stream with the listen request's
// result and closes a session's GET stream; a stream asked for while draining gets 503. The edge
// function that answers for an absent container is checked here too, with its pass-through cases.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import notes from '../../functions/notes/server.ts';
import { RETRY_AFTER_SECONDS, handler as streamUnavailable } from '../../infra/edge/stream-unavailable.mjs';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'subscriptions/listen',
};
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'open-streams', version: '1' },
};

function listen(url: string, id: number, signal?: AbortSignal) {
  return fetch(url, {
    method: 'POST',
    signal,
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

describe("a process's own stream cap and its drain", () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_CONTAINER_STREAMS: '2', MCP_STREAM_MAX_SECONDS: '0' });
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
  });

  it('past MCP_CONTAINER_STREAMS a stream gets 503 with Retry-After; draining ends the open ones with their result and refuses new ones', async () => {
    const legacy = new LegacyClient({ name: 'legacy', version: '1' });
    const transport = new LegacyTransport(new URL(server.url));
    await legacy.connect(transport);
    // The session's GET stream holds one place (opened by the SDK client after initialize).
    const deadline = Date.now() + 5000;
    while (server.kit.stats().openStreams < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.kit.stats().openStreams, 1, 'the GET stream is open');
    const first = await listen(server.url, 1);
    assert.match(first.headers.get('content-type') ?? '', /text\/event-stream/);
    const third = await listen(server.url, 2);
    assert.equal(third.status, 503);
    assert.ok(Number(third.headers.get('retry-after')) > 0);
    assert.match(((await third.json()) as { error: { message: string } }).error.message, /MCP_CONTAINER_STREAMS/);

    const body = first.text();
    assert.equal(server.kit.drainStreams(), 2);
    const frames = await body;
    assert.match(frames, /"id":1,"result":\{"resultType":"complete"/, 'the listen stream ended with its result');
    assert.equal(server.kit.stats().openStreams, 0);
    const late = await listen(server.url, 3);
    assert.equal(late.status, 503);
    assert.match(((await late.json()) as { error: { message: string } }).error.message, /shutting down/);
    // Calls are still served while the process drains.
    assert.equal((await legacy.listTools()).tools.length, notes.tools.length);
    await legacy.close();
  });
});

describe('stream-unavailable.mjs (Lambda@Edge, origin response, with containers)', () => {
  const event = (method: string, headers: Record<string, string>, status: string, response: Record<string, string> = {}) =>
    ({
      Records: [
        {
          cf: {
            request: { method, uri: '/mcp', headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [{ key: k, value: v }]])) },
            response: { status, headers: Object.fromEntries(Object.entries(response).map(([k, v]) => [k, [{ key: k, value: v }]])) },
          },
        },
      ],
    }) as Parameters<typeof streamUnavailable>[0];

  it("turns the ALB's 502/503/504 for a stream into a JSON-RPC 503 with Retry-After", async () => {
    for (const status of ['502', '503', '504']) {
      for (const [method, headers] of [
        ['POST', { 'mcp-method': 'subscriptions/listen' }],
        ['GET', { 'mcp-session-id': 's' }],
      ] as const) {
        const out = await streamUnavailable(event(method, headers, status));
        assert.equal(out.status, '503');
        assert.equal(out.headers['retry-after']![0]!.value, String(RETRY_AFTER_SECONDS));
        assert.equal(JSON.parse(out.body!).error.code, -32000);
      }
    }
  });

  it("passes everything else through: calls, the kit's own 503 with Retry-After, a 200 stream; and still restores WWW-Authenticate", async () => {
    const call = await streamUnavailable(event('POST', { 'mcp-method': 'tools/call' }, '502'));
    assert.equal(call.status, '502');
    const capped = await streamUnavailable(event('POST', { 'mcp-method': 'subscriptions/listen' }, '503', { 'retry-after': '30' }));
    assert.equal(capped.body, undefined);
    assert.equal(capped.headers['retry-after']![0]!.value, '30');
    const ok = await streamUnavailable(event('POST', { 'mcp-method': 'subscriptions/listen' }, '200'));
    assert.equal(ok.status, '200');
    const challenged = await streamUnavailable(event('POST', {}, '401', { 'x-amzn-remapped-www-authenticate': 'Bearer realm="x"' }));
    assert.equal(challenged.headers['www-authenticate']![0]!.value, 'Bearer realm="x"');
  });
});
