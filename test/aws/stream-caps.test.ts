// Stream caps on the modelled deployed path (`npm run start:aws`: ten Lambda environments, one
// request each). One caller holding listen streams must not take the function from everyone else:
// its streams past its cap are refused with 429 (past the server-wide cap, 503), never 500, and
// another caller's calls, its own stream and /health are served. The caps follow the modelled
// concurrency (MCP_AWS_CONCURRENCY 10: five streams server-wide, two per caller). Without Redis no
// cap binds and no event would reach a stream, so the kit on Lambda refuses streams outright.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, ProtocolError, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { PATH_DEFAULTS } from '../../infra/deployed-path.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { waitFor } from '../helpers/wait.ts';

const NOTES = 'functions/notes/handler.ts';
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'stream-caps', version: '1' },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };

interface Callers {
  path: AwsPath;
  keys: { alice: string; bob: string };
  streams: AbortController;
}

async function start(redis: boolean, env: Record<string, string> = {}): Promise<Callers> {
  const path = await startAwsPath(NOTES, { MCP_AUTH_MODE: 'apikey', ...env }, { redis });
  const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), {
    cacheSeconds: 1,
  });
  const [alice, bob] = await Promise.all(['alice', 'bob'].map(async (principalId) => (await store.create({ principalId })).key));
  return { path, keys: { alice: alice!, bob: bob! }, streams: new AbortController() };
}

function listen(c: Callers, key: string, id: number) {
  return fetch(c.path.url, {
    method: 'POST',
    signal: c.streams.signal,
    headers: { ...HEADERS, 'mcp-method': 'subscriptions/listen', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

function echo(c: Callers, key: string) {
  return fetch(c.path.url, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-method': 'tools/call', 'mcp-name': 'echo', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'still here' }, _meta: META } }),
  });
}

/** Alice opens twelve listen streams one after the other, keeping every one that opens. */
async function twelveStreams(c: Callers): Promise<Response[]> {
  const answers: Response[] = [];
  for (let i = 1; i <= 12; i++) {
    const res = await listen(c, c.keys.alice, i);
    if (!res.headers.get('content-type')?.startsWith('text/event-stream'))
      await res.text().then((body) => Object.defineProperty(res, 'bodyText', { value: body }));
    answers.push(res);
  }
  return answers;
}

const bodyOf = (res: Response) => JSON.parse((res as Response & { bodyText: string }).bodyText) as { id: unknown; error: { code: number; message: string } };

describe('one caller holding 12 listen streams on the modelled deployed path (Redis counts the caps)', () => {
  let c: Callers;
  let answers: Response[];
  before(async () => {
    c = await start(true);
    answers = await twelveStreams(c);
  });
  after(async () => {
    c?.streams.abort();
    await c?.path.stop();
  });

  it('opens her first two and refuses the other ten with 429, Retry-After and a JSON-RPC error saying what to do', () => {
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, ...Array(10).fill(429)],
    );
    for (const refused of answers.slice(2)) {
      // Her oldest stream reaches the construct's stream cap this long from now.
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait > PATH_DEFAULTS.streamMaxSeconds - 60 && wait <= PATH_DEFAULTS.streamMaxSeconds, `Retry-After ${wait}`);
      const { error } = bodyOf(refused);
      assert.equal(error.code, -32000);
      assert.equal(
        error.message,
        `Too many open notification streams: at most 2 per caller at once across this server (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, or retry after ${wait} s, when your oldest reaches the stream cap`,
      );
    }
  });

  it("serves another caller's calls, its own stream and /health while hers stay open", async () => {
    const call = await echo(c, c.keys.bob);
    assert.equal(call.status, 200);
    assert.match(await call.text(), /still here/);
    const own = await listen(c, c.keys.bob, 1);
    assert.equal(own.status, 200, "bob's own listen stream opens");
    assert.equal((await fetch(`${c.path.baseUrl}/health`)).status, 200);
    // The environments that answered the call and /health go idle once their invocations end.
    const deadline = Date.now() + 5000;
    while (c.path.lambda.counts().busy > 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(c.path.lambda.counts().busy, 3, 'three environments hold streams (two of hers, his); the other seven serve calls');
  });
});

const NOT_SERVED =
  /^subscriptions\/listen is not served here: on Lambda without Redis no change notification would reach the stream .*; list again when you need a fresh list\. Streams need UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN set on the server$/;

describe('the same twelve streams on a deployed stage without Redis (GET streams enabled)', () => {
  let c: Callers;
  let answers: Response[];
  before(async () => {
    c = await start(false, { MCP_GET_STREAMS: 'true' });
    answers = await twelveStreams(c);
  });
  after(async () => {
    c?.streams.abort();
    await c?.path.stop();
  });

  it('answers each of hers at once with -32601 saying streams need Redis here, and none holds an environment', async () => {
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
    answers.forEach((answer, i) => {
      const { id, error } = bodyOf(answer);
      assert.equal(id, i + 1);
      assert.equal(error.code, -32601);
      assert.match(error.message, NOT_SERVED);
    });
    await waitFor('every environment idle', () => c.path.lambda.counts().busy === 0, 5000);
  });

  it("serves another caller's calls and /health, which says why streams are off", async () => {
    const call = await echo(c, c.keys.bob);
    assert.equal(call.status, 200);
    assert.match(await call.text(), /still here/);
    const health = await fetch(`${c.path.baseUrl}/health`);
    assert.equal(((await health.json()) as { features: { streamCaps: string } }).features.streamCaps, 'no streams: Redis is not configured');
    await c.path.waitForLog(/notification streams \(subscriptions\/listen, GET\) are refused/);
  });

  it("the SDK v2 client's listen() rejects with that error, and a client that listens for list changes on connect connects, calls and does not listen again", async () => {
    const listens: string[] = [];
    const counting: typeof fetch = (url, init) => {
      if (new Headers(init?.headers).get('mcp-method') === 'subscriptions/listen') listens.push(String(init?.body));
      return fetch(url, init);
    };
    const transport = () => new ModernTransport(new URL(c.path.url), { fetch: counting, requestInit: { headers: { authorization: `Bearer ${c.keys.bob}` } } });
    const plain = new ModernClient({ name: 'listen', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await plain.connect(transport());
    try {
      const refused = await plain.listen({ toolsListChanged: true }).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(refused instanceof ProtocolError, `listen() rejected with ${String(refused)}`);
      assert.equal(refused.code, -32601);
      assert.match(refused.message, /UPSTASH_REDIS_REST_URL/);
    } finally {
      await plain.close();
    }
    const errors: Error[] = [];
    const auto = new ModernClient(
      { name: 'list-changed', version: '1' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } }, listChanged: { tools: { onChanged: () => {} } } },
    );
    auto.onerror = (error) => errors.push(error);
    await auto.connect(transport());
    try {
      assert.equal(auto.autoOpenedSubscription, undefined);
      assert.equal(errors.length, 1, 'its failed listen reported once to onerror');
      assert.match(errors[0]!.message, /UPSTASH_REDIS_REST_URL/);
      const result = await auto.callTool({ name: 'echo', arguments: { text: 'after listen' } });
      assert.equal((result as { content: { text: string }[] }).content[0]!.text, 'after listen');
      assert.equal(listens.length, 2, 'one listen from each client, none repeated');
    } finally {
      await auto.close();
    }
  });

  it('a 2025 session (SDK 1.x) gets 405 for its GET stream and carries on', async () => {
    const gets: number[] = [];
    const counting: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      if ((init?.method ?? 'GET') === 'GET') gets.push(res.status);
      return res;
    };
    const client = new LegacyClient({ name: 'get', version: '1' });
    const transport = new LegacyTransport(new URL(c.path.url), { fetch: counting, requestInit: { headers: { authorization: `Bearer ${c.keys.bob}` } } });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'no stream needed' } });
      assert.equal((result as { content: { text: string }[] }).content[0]!.text, 'no stream needed');
      await waitFor('the client tries its GET stream after initialize', () => gets.length > 0, 5000);
      assert.deepEqual(gets, [405], 'tried once, not again');
      const get = await fetch(c.path.url, {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${c.keys.bob}`,
          'mcp-session-id': transport.sessionId!,
          'mcp-protocol-version': '2025-11-25',
        },
      });
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST, DELETE');
      assert.match(
        ((await get.json()) as { error: { message: string } }).error.message,
        /^Method Not Allowed: this server opens no GET notification stream: on Lambda without Redis .*UPSTASH_REDIS_REST_URL.*; use POST$/,
      );
    } finally {
      await client.close();
    }
  });
});

describe('control: the same twelve streams without Redis, the kit told an environment serves many requests (as Lambda Managed Instances say)', () => {
  let c: Callers;
  let answers: Response[];
  before(async () => {
    // The model still serves one request per environment; only what the kit is told differs.
    c = await start(false, { MCP_GET_STREAMS: 'true', AWS_LAMBDA_MAX_CONCURRENCY: '10' });
    answers = await twelveStreams(c);
  });
  after(async () => {
    c?.streams.abort();
    await c?.path.stop();
  });

  it("her streams take all ten environments, and API Gateway answers a throttled invoke with 500, for her and for another caller's call", async () => {
    assert.deepEqual(
      answers.map((a) => a.status),
      [...Array(10).fill(200), 500, 500],
    );
    assert.equal(bodyOf(answers[10]!).error, undefined, 'the 500 is API Gateway\'s {"message":"Internal server error"}, not the kit\'s');
    const call = await echo(c, c.keys.bob);
    assert.equal(call.status, 500);
    await call.text();
  });
});
