// What broke after `cdk deploy` while every local test passed, each shown on the modelled path
// with the construct's settings: a long tool call behind CloudFront's origin timeout, listen
// streams running into the function timeout, GET error answers cached for other clients, OAuth
// challenges renamed by API Gateway, a first deploy without Redis.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { waitFor } from '../helpers/wait.ts';

const NOTES = 'functions/notes/handler.ts';
const FIXTURE = 'test/fixtures/aws/round-trips.ts';
const JSON_AND_SSE = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'deployed-test', version: '1' },
};
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe('a tool that runs longer than CloudFront waits for a first byte', () => {
  let path: AwsPath;
  before(async () => {
    // The origin timeout scaled down from 60 s to 1.5 s, the keep-alive from 15 s to 0.4 s; API
    // keys on, as deployed, so the origin-response edge function is in the path.
    path = await startAwsPath(
      FIXTURE,
      { MCP_SSE_KEEPALIVE_MS: '400', MCP_STREAM_MAX_SECONDS: '10' },
      { originReadTimeoutMs: 1500, concurrency: 6, apiKey: { scopes: [] } },
    );
  });
  after(() => path.stop());

  it('sends the first keep-alive through the edge function before the origin timeout', async () => {
    const started = Date.now();
    const res = await fetch(path.url, {
      method: 'POST',
      headers: { ...JSON_AND_SSE, ...path.auth, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { ms: 3000 }, _meta: MODERN_META } }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const firstAt = Date.now() - started;
    await reader.cancel();
    assert.doesNotMatch(first, /waited/, 'the first bytes are a keep-alive, not the answer');
    assert.ok(firstAt < 1500, `the first bytes arrived after ${firstAt} ms, past the origin timeout`);
    // The edge function is in this path: it restores a 401's challenge that API Gateway renamed.
    const denied = await fetch(path.url, {
      method: 'POST',
      headers: { ...JSON_AND_SSE, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN_META } }),
    });
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  it('answers a 2026-07-28 client (SDK v2)', async () => {
    const client = new ModernClient({ name: 'long', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(path.url), { requestInit: { headers: path.auth } }));
    try {
      assert.equal(text(await client.callTool({ name: 'wait', arguments: { ms: 3000 } })), 'waited 3000 ms');
    } finally {
      await client.close();
    }
  });

  it('answers a 2025 session (SDK 1.x)', async () => {
    const client = new LegacyClient({ name: 'long', version: '1' });
    await client.connect(new LegacyTransport(new URL(path.url), { requestInit: { headers: path.auth } }));
    try {
      assert.equal(text(await client.callTool({ name: 'wait', arguments: { ms: 3000 } })), 'waited 3000 ms');
    } finally {
      await client.close();
    }
  });

  it('quick answers stay plain JSON', async () => {
    const res = await fetch(path.url, {
      method: 'POST',
      headers: { ...JSON_AND_SSE, ...path.auth, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { ms: 10 }, _meta: MODERN_META } }),
    });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(((await res.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, 'waited 10 ms');
  });

  it("control: a client that takes no SSE gets CloudFront's 504, as the answer cannot be kept alive", async () => {
    const res = await fetch(path.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...path.auth,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'wait',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { ms: 3000 }, _meta: MODERN_META } }),
    });
    assert.equal(res.status, 504);
  });
});

describe('notification streams on Lambda', () => {
  let path: AwsPath;
  before(async () => {
    // With Redis: on Lambda without it the kit refuses streams (test/aws/stream-caps.test.ts). Its
    // clients all hold the one API key, and a 2025 client opens a GET stream of its own.
    const streamCaps = { MCP_MAX_OPEN_STREAMS: '2', MCP_STREAMS_PER_PRINCIPAL: '2' };
    path = await startAwsPath(
      NOTES,
      { MCP_STREAM_MAX_SECONDS: '2', MCP_SSE_KEEPALIVE_MS: '500', MCP_GET_STREAMS: 'true', ...streamCaps },
      { concurrency: 4, timeoutSeconds: 30, redis: true, apiKey: { scopes: [] } },
    );
  });
  after(() => path.stop());

  it('a subscriptions/listen stream ends with its final result at the stream cap, and its invocation ends cleanly', async () => {
    const opened = Date.now();
    const res = await fetch(path.url, {
      method: 'POST',
      headers: { ...JSON_AND_SSE, ...path.auth, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'listen-1',
        method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: MODERN_META },
      }),
    });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const frames = (await res.text()).split('\n\n').filter((f) => f.startsWith('event: message'));
    const last = JSON.parse(frames.at(-1)!.split('data: ')[1]!) as { id: string; result: { resultType: string; _meta: Record<string, unknown> } };
    assert.equal(last.id, 'listen-1');
    assert.equal(last.result.resultType, 'complete');
    assert.equal(last.result._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
    const lasted = Date.now() - opened;
    assert.ok(lasted >= 1900 && lasted < 6000, `the stream lasted ${lasted} ms`);
    await waitFor("the stream's invocation, ended", () => path.lambda.invocations.some((i) => i.startedAt >= opened - 50 && i.durationMs >= 1900), 5000);
    assert.ok(
      path.lambda.invocations.every((i) => i.error === undefined),
      'no invocation ended in an error',
    );
  });

  it("a 404 for one client's GET stream is not served to the next client (no error caching)", async () => {
    const missing = await fetch(path.url, {
      headers: { accept: 'text/event-stream', ...path.auth, 'mcp-session-id': 'x'.repeat(43), 'mcp-protocol-version': '2025-11-25' },
    });
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const client = new LegacyClient({ name: 'get', version: '1' });
    const transport = new LegacyTransport(new URL(path.url), { requestInit: { headers: path.auth } });
    await client.connect(transport);
    try {
      const stream = await fetch(path.url, {
        headers: { accept: 'text/event-stream', ...path.auth, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
      });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
      await stream.body?.cancel();
    } finally {
      await client.close();
    }
  });
});

describe('OAuth and API key challenges through API Gateway and CloudFront', () => {
  let path: AwsPath;
  let key: string;
  before(async () => {
    path = await startAwsPath(FIXTURE, { MCP_AUTH_MODE: 'apikey' });
    const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), {
      cacheSeconds: 1,
    });
    ({ key } = await store.create({ principalId: 'ci', scopes: ['read'] }));
  });
  after(() => path.stop());

  const call = (url: string, headers: Record<string, string> = {}, tool = 'cancelled_at') =>
    fetch(url, {
      method: 'POST',
      headers: { ...JSON_AND_SSE, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': tool, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {}, _meta: MODERN_META } }),
    });

  it('a 401 reaches the client with WWW-Authenticate', async () => {
    const res = await call(path.url);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(res.headers.get('x-amzn-remapped-www-authenticate'), null);
  });

  it('a 403 insufficient_scope reaches the client with WWW-Authenticate', async () => {
    const res = await call(path.url, { authorization: `Bearer ${key}` }, 'audit');
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  });

  it('control: on the API Gateway URL, without CloudFront, the challenge arrives renamed', async () => {
    // With the origin header CloudFront adds, else the function refuses the request before auth.
    const res = await call(path.apiUrl, path.originHeaders);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.match(res.headers.get('x-amzn-remapped-www-authenticate') ?? '', /^Bearer/);
  });
});

describe('a first deploy whose secret has no Upstash credentials', () => {
  let path: AwsPath;
  before(async () => {
    path = await startAwsPath(NOTES, {});
  });
  after(() => path.stop());

  it('serves, and GET /health says what is off', async () => {
    const health = (await (await fetch(`${path.baseUrl}/health`)).json()) as { status: string; features: Record<string, string> };
    assert.equal(health.status, 'ok');
    assert.equal(health.features.rateLimit, 'off: Redis is not configured');
    await path.waitForLog(/rate limiting is off/);
  });

  it('answers a GET stream with 405 (the construct leaves them off), and a 2025 client carries on', async () => {
    const client = new LegacyClient({ name: 'no-get', version: '1' });
    const transport = new LegacyTransport(new URL(path.url));
    await client.connect(transport);
    try {
      const get = await fetch(path.url, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
      });
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST, DELETE');
      assert.match(((await get.json()) as { error: { message: string } }).error.message, /MCP_GET_STREAMS/);
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'still fine' } })), 'still fine');
    } finally {
      await client.close();
    }
  });

  it('passes the smoke check (npm run smoke) in both eras', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', '--url', path.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 0, out);
  });
});
