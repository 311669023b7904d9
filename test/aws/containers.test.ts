// Containers beside Lambda on the modelled deployed path (`MCP_AWS_CONTAINERS=true npm run
// start:aws`): CloudFront's viewer-request function (infra/edge/route-streams.js, evaluated as is)
// sends notification streams to container tasks behind the ALB model, calls stay on Lambda. Real
// redis-server, real DynamoDB emulator, real MCP SDK clients; the Lambda model's own accounting
// (environments by state) says whether a stream holds an environment. The control runs the same
// thirty streams without containers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport, type McpSubscription } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath, type AwsPathOptions } from '../helpers/aws.ts';

const ECHO = 'functions/echo/handler.ts';
const CALLERS = ['alice', 'bob', 'carol'] as const;
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'containers', version: '1' },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };

interface Setup {
  path: AwsPath;
  keys: Record<(typeof CALLERS)[number], string>;
}

async function start(options: AwsPathOptions, env: Record<string, string> = {}): Promise<Setup> {
  const path = await startAwsPath(ECHO, { MCP_AUTH_MODE: 'apikey', MCP_EVENT_POLL_MS: '100', ...env }, { redis: true, ...options });
  const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), {
    cacheSeconds: 1,
  });
  const created = await Promise.all(CALLERS.map(async (principalId) => [principalId, (await store.create({ principalId })).key] as const));
  return { path, keys: Object.fromEntries(created) as Setup['keys'] };
}

async function modernClient(s: Setup, key: string): Promise<ModernClient> {
  const client = new ModernClient({ name: 'containers', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new ModernTransport(new URL(s.path.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

/** A raw listen request, for the answers an SDK client would turn into an exception. */
function listenRaw(s: Setup, key: string, id: number, signal?: AbortSignal) {
  return fetch(s.path.url, {
    method: 'POST',
    signal,
    headers: { ...HEADERS, 'mcp-method': 'subscriptions/listen', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

function call(s: Setup, key: string, name: string, args: Record<string, unknown> = {}) {
  return fetch(s.path.url, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-method': 'tools/call', 'mcp-name': name, authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, _meta: META } }),
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

const isStream = (res: Response) => (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
const registered = (s: Setup) => s.path.containers!.service.tasks.filter((t) => t.registered);

describe('MCP_AWS_CONTAINERS=true: 30 listen streams from 3 API-key callers on two container tasks', () => {
  let s: Setup;
  const clients: ModernClient[] = [];
  const subscriptions: McpSubscription[] = [];
  let changes = 0;

  before(async () => {
    s = await start({ containers: { tasks: 2 } });
    for (const caller of CALLERS) {
      const client = await modernClient(s, s.keys[caller]);
      client.setNotificationHandler('notifications/tools/list_changed', () => void changes++);
      clients.push(client);
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await s?.path.stop();
  });

  it('holds all thirty at once on the containers while calls are served, and no Lambda environment is held by a stream', async () => {
    const opened = await Promise.all(clients.flatMap((client) => Array.from({ length: 10 }, () => client.listen({ toolsListChanged: true }))));
    subscriptions.push(...opened);
    assert.equal(subscriptions.length, 30);
    const { service } = s.path.containers!;
    await waitFor(() => service.inFlight() >= 30, 'thirty streams open on the tasks');
    // Both tasks hold streams: the ALB spreads them by requests in flight.
    assert.ok(
      service.tasks.every((t) => t.inFlight >= 10),
      `streams per task: ${service.tasks.map((t) => t.inFlight).join(', ')}`,
    );
    // One call per caller at a time, four rounds (the model's Lambda throttles a burst of new environments, as Lambda's scaling rate does).
    for (let round = 0; round < 4; round++) {
      const calls = await Promise.all(clients.map((client, i) => client.callTool({ name: 'echo', arguments: { text: `call ${i}.${round}` } })));
      for (const [i, result] of calls.entries()) assert.equal((result.content as { text: string }[])[0]!.text, `call ${i}.${round}`);
    }
    // Calls ended: whatever Lambda environments exist are idle, with thirty streams open.
    await waitFor(() => s.path.lambda.counts().busy === 0, 'every Lambda environment idle');
    const counts = s.path.lambda.counts();
    assert.ok(counts.idle >= 1 && counts.idle <= 10, `environments: ${JSON.stringify(counts)}`);
    assert.ok(service.inFlight() >= 30, 'the streams are still open');
    assert.ok(s.path.logs().every((l) => !/\[cloudfront\].*origin unreachable/.test(l)));
  });

  it('an event a tool publishes on Lambda reaches every listener on the containers (Redis bus)', async (t) => {
    const before = changes;
    const started = performance.now();
    const result = await clients[0]!.callTool({ name: 'announce', arguments: {} });
    const answered = performance.now();
    assert.equal((result.content as { text: string }[])[0]!.text, 'announced');
    await waitFor(() => changes - before >= 30, `tools/list_changed on all thirty streams (got ${changes - before})`);
    // MCP_EVENT_POLL_MS is 100 here; the machine is shared, so this is a rough figure.
    t.diagnostic(
      `all 30 listeners had the event ${Math.round(performance.now() - started)} ms after the call began (its answer took ${Math.round(answered - started)} ms)`,
    );
    await Promise.all(subscriptions.splice(0).map((sub) => sub.close()));
    await waitFor(() => s.path.containers!.service.inFlight() === 0, 'closed streams leave the tasks');
  });

  it('a 2025 session: calls on Lambda, its GET stream on a container (GET streams on again), and the event reaches it', async () => {
    const client = new LegacyClient({ name: 'legacy', version: '1' });
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await client.connect(new LegacyTransport(new URL(s.path.url), { requestInit: { headers: { authorization: `Bearer ${s.keys.bob}` } } }));
    try {
      await waitFor(() => s.path.containers!.service.inFlight() === 1, 'the session GET stream open on a task');
      // The ALB counts the stream before the task subscribes it to the bus: announce until it arrives.
      let arrived = false;
      void changed.then(() => (arrived = true));
      for (let i = 0; i < 20 && !arrived; i++) {
        await call(s, s.keys.alice, 'announce').then((r) => r.text());
        await withTimeout(changed, 500, 'tools/list_changed').catch(() => {});
      }
      assert.ok(arrived, 'tools/list_changed on the GET stream');
      assert.match(JSON.stringify(await client.callTool({ name: 'echo', arguments: { text: 'legacy' } })), /legacy/);
    } finally {
      await client.close();
    }
  });

  it('SIGTERM to a task ends its listen stream with the final result, exits 0, and the next listen lands on the other task', async () => {
    const client = clients[1]!;
    const first = await client.listen({ toolsListChanged: true });
    const { service } = s.path.containers!;
    await waitFor(() => service.tasks.some((t) => t.inFlight === 1), 'the stream held by one task');
    const holder = service.tasks.find((t) => t.inFlight === 1)!;
    const code = await service.stopTask(holder);
    assert.equal(code, 0, 'the task exits 0 after draining');
    assert.equal(await withTimeout(first.closed, 10_000, 'the first stream ending'), 'graceful', "the stream ended with the listen request's result");
    const again = await client.listen({ toolsListChanged: true });
    const other = registered(s);
    assert.equal(other.length, 1);
    await waitFor(() => other[0]!.inFlight === 1, 'the new stream on the remaining task');
    const before = changes;
    await call(s, s.keys.alice, 'announce').then((r) => r.text());
    await waitFor(() => changes > before, 'the event on the new stream');
    await again.close();
    await service.startTask();
  });

  it('a stopping task answers the call it is serving before it exits (a call reached it on the ALB, as a misrouted one would)', async () => {
    const { service, albUrl } = s.path.containers!;
    const answer = fetch(`${albUrl}/mcp`, {
      method: 'POST',
      headers: {
        ...HEADERS,
        ...s.path.originHeaders,
        accept: 'application/json',
        'mcp-method': 'tools/call',
        'mcp-name': 'wait',
        authorization: `Bearer ${s.keys.carol}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'wait', arguments: { seconds: 1.5 }, _meta: META } }),
    });
    await waitFor(() => service.tasks.some((t) => t.registered && t.inFlight === 1), 'the call in flight on a task');
    const serving = service.tasks.find((t) => t.registered && t.inFlight === 1)!;
    const exited = service.stopTask(serving);
    const res = await answer;
    assert.equal(res.status, 200);
    assert.match(await res.text(), /waited 1\.5 s/);
    assert.equal(await exited, 0);
    await service.startTask();
  });
});

describe('stream caps on containers (Redis leases, two tasks of 3 streams, 4 server-wide, 3 per caller)', () => {
  let s: Setup;
  const streams = new AbortController();

  before(async () => {
    s = await start({ containers: { tasks: 2, streamsPerTask: 3, environment: { MCP_MAX_OPEN_STREAMS: '4', MCP_STREAMS_PER_PRINCIPAL: '3' } } });
  });
  after(async () => {
    streams.abort();
    await s?.path.stop();
  });

  it("a caller's fourth stream gets 429, the server's fifth 503, both with Retry-After, never 500; calls go on", async () => {
    const alice = await Promise.all([1, 2, 3].map((id) => listenRaw(s, s.keys.alice, id, streams.signal)));
    assert.ok(alice.every(isStream), `alice: ${alice.map((r) => r.status).join(', ')}`);
    const fourth = await listenRaw(s, s.keys.alice, 4, streams.signal);
    assert.equal(fourth.status, 429);
    assert.ok(Number(fourth.headers.get('retry-after')) > 0);
    assert.match(((await fourth.json()) as { error: { message: string } }).error.message, /MCP_STREAMS_PER_PRINCIPAL/);
    const bob = await listenRaw(s, s.keys.bob, 1, streams.signal);
    assert.ok(isStream(bob), `bob's first: ${bob.status}`);
    const fifth = await listenRaw(s, s.keys.carol, 1, streams.signal);
    assert.equal(fifth.status, 503);
    assert.ok(Number(fifth.headers.get('retry-after')) > 0);
    assert.match(((await fifth.json()) as { error: { message: string } }).error.message, /MCP_MAX_OPEN_STREAMS/);
    const echo = await call(s, s.keys.carol, 'echo', { text: 'still served' });
    assert.equal(echo.status, 200);
    assert.match(await echo.text(), /still served/);
    assert.ok(!s.path.logs().some((l) => /" 500 |"status":500/.test(l)), 'no 500 anywhere');
  });

  it('no container reachable: a stream gets 503 with Retry-After and a JSON-RPC error, calls on Lambda still 200', async () => {
    streams.abort();
    const { service } = s.path.containers!;
    await Promise.all(service.tasks.filter((t) => t.registered).map((t) => service.stopTask(t)));
    const listen = await listenRaw(s, s.keys.alice, 9);
    assert.equal(listen.status, 503);
    assert.ok(Number(listen.headers.get('retry-after')) > 0);
    const body = (await listen.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /listen again after Retry-After/);
    const get = await fetch(s.path.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'any', authorization: `Bearer ${s.keys.alice}` } });
    assert.equal(get.status, 503);
    assert.ok(get.headers.get('retry-after'));
    await get.body?.cancel();
    const echo = await call(s, s.keys.alice, 'echo', { text: 'lambda unaffected' });
    assert.equal(echo.status, 200);
    assert.match(await echo.text(), /lambda unaffected/);
    // Control: a task back, and the stream is served again.
    await service.startTask();
    const back = await listenRaw(s, s.keys.alice, 10, AbortSignal.timeout(5000));
    assert.ok(isStream(back), `with a task back: ${back.status}`);
    await back.body?.cancel();
  });
});

describe('control, containers off: the same thirty listen streams on Lambda', () => {
  let s: Setup;
  const streams = new AbortController();
  before(async () => {
    s = await start({});
  });
  after(async () => {
    streams.abort();
    await s?.path.stop();
  });

  it('take Lambda environments or are refused (caps, throttling): at most five open, each holding an environment', async () => {
    const answers = await Promise.all(CALLERS.flatMap((caller) => Array.from({ length: 10 }, (_, i) => listenRaw(s, s.keys[caller], i + 1, streams.signal))));
    const open = answers.filter(isStream);
    const refused = answers.filter((r) => !isStream(r));
    for (const r of refused) await r.body?.cancel();
    assert.ok(open.length <= 5, `${open.length} streams opened on Lambda`);
    assert.ok(refused.length >= 25);
    // 429/503 from the stream caps, and 500: API Gateway's answer when Lambda throttles the burst.
    assert.ok(
      refused.every((r) => [429, 500, 503].includes(r.status)),
      `refused with ${[...new Set(refused.map((r) => r.status))].join(', ')}`,
    );
    assert.ok(s.path.lambda.counts().busy >= open.length, `busy environments ${s.path.lambda.counts().busy} for ${open.length} streams`);
  });
});
