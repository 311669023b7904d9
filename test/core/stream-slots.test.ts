// The caps on open notification streams, counted in Redis across instances: per caller
// (MCP_STREAMS_PER_PRINCIPAL) and server-wide (MCP_MAX_OPEN_STREAMS). On Lambda each open stream
// holds an execution environment and an environment serves one request, so a count kept in one
// process never binds; two app instances sharing one Redis stand for two environments here.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { createStreamSlots, streamSlotKeys } from '../../shared/http/stream-slots.ts';
import type { KitLogger } from '../../shared/log.ts';
import { PendingWork } from '../../shared/pending-work.ts';
import { createRedis } from '../../shared/redis.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startChild, startInProcess, startTestDynamo } from '../helpers/server.ts';
import { postToolCall } from '../helpers/raw-call.ts';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'slots', version: '1' },
};
const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as KitLogger;
type Server = Awaited<ReturnType<typeof startInProcess>>;

function listen(url: string, signal: AbortSignal, key?: string) {
  return fetch(url, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
      ...(key && { authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

const message = async (res: Response) => ((await res.json()) as { error: { message: string } }).error.message;

/** Polls until `check` holds, or fails after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('server-wide cap on open notification streams', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let servers: Server[] = [];

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const env = {
      ...redis.env,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      MCP_MAX_OPEN_STREAMS: '2',
      MCP_STREAM_MAX_SECONDS: '60',
    };
    servers = await Promise.all([startInProcess(notes, env), startInProcess(notes, env)]);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.dispose();
    await dynamo?.stop();
  });

  it('past the cap, a stream on any instance is refused with 503 and Retry-After; a closed stream frees its slot', async () => {
    const [a, b] = servers.map((s) => s.url) as [string, string];
    const first = new AbortController();
    const second = new AbortController();
    const open = [await listen(a, first.signal), await listen(b, second.signal)];
    assert.deepEqual(
      open.map((r) => r.status),
      [200, 200],
    );

    const refused = await listen(a, AbortSignal.timeout(5000));
    assert.equal(refused.status, 503);
    const wait = Number(refused.headers.get('retry-after'));
    assert.ok(wait > 50 && wait <= 60, `Retry-After ${wait}: when the oldest of the streams reaches the 60 s stream cap`);
    assert.equal(
      await message(refused),
      `Too many notification streams open on this server: at most 2 at once (MCP_MAX_OPEN_STREAMS), so calls keep the capacity they need; retry after ${wait} s, when the oldest reaches the stream cap`,
    );

    first.abort();
    const deadline = Date.now() + 5000;
    let again: Response | undefined;
    while (Date.now() < deadline) {
      const attempt = new AbortController();
      again = await listen(b, attempt.signal);
      if (again.status === 200) {
        attempt.abort();
        break;
      }
      await again.text();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(again?.status, 200, 'a slot freed by a closed stream is taken again');
    second.abort();
  });

  it('a slot whose instance never released it frees itself when its lease ends, in both counts', async () => {
    const client = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    const pending = new PendingWork();
    const slots = createStreamSlots({ redis: client, server: 'lease-test', max: 1, perPrincipal: 1, streamMaxSeconds: 1, pending, log: quiet });
    const held = await slots.claim('apikey:alice');
    assert.ok('release' in held, 'the first claim gets the only slot');
    // A slot frees at the latest when the held stream reaches its 1 s cap.
    assert.deepEqual(await slots.claim('apikey:alice'), { refused: 'principal', retryAfterSeconds: 1 }, 'its caller is at its cap');
    assert.deepEqual(await slots.claim('apikey:bob'), { refused: 'server', retryAfterSeconds: 1 }, 'another caller meets the server-wide cap');
    const keys = streamSlotKeys('lease-test', 'apikey:alice');
    for (const key of keys) assert.ok((await client.pttl(key)) > 0, `${key} expires by itself`);
    // Never released, as when its instance died: the lease (stream cap plus a minute) runs out.
    const [member] = await client.zrange<string[]>(keys[0], 0, 0);
    for (const key of keys) await client.zadd(key, { score: Date.now() - 1, member: member! });
    const again = await slots.claim('apikey:alice');
    assert.ok('release' in again, 'the expired lease no longer counts against the caller nor the server');
    again.release();
    await pending.settled(2000);
    for (const key of keys) assert.equal(await client.zcard(key), 0, 'one release removes the slot from both counts');
  });

  it('with Redis unreachable, a claim is refused (fail closed); failing open, streams open uncounted', async () => {
    const slots = (failOpen?: boolean) =>
      createStreamSlots({
        redis: createRedis({ url: 'http://127.0.0.1:9', token: 't', timeoutMs: 200 }),
        server: 'down',
        max: 1,
        perPrincipal: 1,
        streamMaxSeconds: 60,
        failOpen,
        pending: new PendingWork(),
        log: quiet,
      });
    assert.deepEqual(await slots().claim('anonymous'), { refused: 'unreachable', retryAfterSeconds: 5 });
    const open = slots(true);
    assert.ok('release' in (await open.claim('anonymous')));
    assert.ok('release' in (await open.claim('anonymous')), 'control: failing open, no cap is counted');
  });
});

describe('stream caps while Redis is down', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  /** Serves one request at a time, as a Lambda environment does: a count of its own never binds. */
  let lambdaLike: Server;
  let failingOpen: Server;
  /** A server process (npm start, a container task): its own count binds. */
  let process: Server;

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const env = {
      ...redis.env,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      MCP_REDIS_TIMEOUT_MS: '300',
      MCP_STREAMS_PER_PRINCIPAL: '1',
    };
    [lambdaLike, failingOpen, process] = await Promise.all([
      startInProcess(notes, env, { oneRequestPerInstance: true }),
      startInProcess(notes, { ...env, MCP_STREAM_CAPS_FAIL_OPEN: 'true' }, { oneRequestPerInstance: true }),
      startInProcess(notes, env),
    ]);
  });
  after(async () => {
    await Promise.all([lambdaLike, failingOpen, process].map((s) => s?.stop()));
    await redis?.dispose();
    await dynamo?.stop();
  });

  const call = (url: string) => postToolCall(url, { name: 'echo', arguments: { text: 'still here' } }, { meta: META });

  it('on Lambda refuses a new stream with 503, Retry-After and a message naming the store, while calls go on; streams come back with Redis', async (t) => {
    const streams = new AbortController();
    t.after(() => streams.abort());
    const first = new AbortController();
    assert.equal((await listen(lambdaLike.url, first.signal)).status, 200, 'with Redis up the stream opens');
    // An anonymous caller's streams are counted by its address (client-address.ts).
    const [, anonymous] = streamSlotKeys('notes', 'anonymous@127.0.0.1');
    const slots = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    assert.equal(await slots.zcard(anonymous), 1, 'the stream holds a slot');
    first.abort();
    await until(async () => (await slots.zcard(anonymous)) === 0, 'the first stream gave its slot back');
    await redis.stop();
    try {
      const refused = await listen(lambdaLike.url, AbortSignal.timeout(5000));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '5');
      assert.equal(
        await message(refused),
        'Notification streams are refused for now: the stream limit store (Redis) is unreachable, so the caps on open streams cannot be counted; calls still work; retry after 5 s',
      );
      const answered = await call(lambdaLike.url);
      assert.equal(answered.status, 200, 'a call does not need the stream limit store');
      assert.match(await answered.text(), /still here/);
      assert.equal((await listen(failingOpen.url, streams.signal)).status, 200, 'control: MCP_STREAM_CAPS_FAIL_OPEN=true opens it uncounted');
      // A server process falls back on its own count, which binds there: one stream per caller here.
      assert.equal((await listen(process.url, streams.signal)).status, 200, 'a server process counts the stream itself');
      const second = await listen(process.url, AbortSignal.timeout(5000));
      assert.equal(second.status, 429, 'and its own per-caller cap still binds');
      assert.match(await message(second), /at most 1 per caller on one server instance/);
    } finally {
      await redis.restart();
    }
    await until(async () => {
      const attempt = new AbortController();
      const again = await listen(lambdaLike.url, attempt.signal);
      attempt.abort();
      return again.status === 200;
    }, 'a stream opens again once Redis is back');
  });
});

describe('per-caller cap on open notification streams, across instances', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  const running: Server[] = [];
  const keys: Record<string, string> = {};
  const env = () => ({
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    MCP_AUTH_MODE: 'apikey',
    MCP_STREAMS_PER_PRINCIPAL: '2',
    MCP_STREAM_MAX_SECONDS: '60',
  });
  /** Two instances (two Lambda environments): sharing Redis, or each on its own count. */
  async function pair(shared: boolean): Promise<[string, string]> {
    const pair = await Promise.all([0, 1].map(() => startInProcess(notes, { ...env(), ...(shared && redis.env) })));
    running.push(...pair);
    return pair.map((s) => s.url) as [string, string];
  }

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      cacheSeconds: 1,
    });
    for (const who of ['alice', 'bob', 'carol', 'dave']) keys[who] = (await store.create({ principalId: who })).key;
  });
  after(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await redis?.dispose();
    await dynamo?.stop();
  });

  it('a caller holding its 2 streams on two instances is refused a third on either with 429; another caller is served', async (t) => {
    const [a, b] = await pair(true);
    const streams = new AbortController();
    t.after(() => streams.abort());
    assert.equal((await listen(a, streams.signal, keys.alice)).status, 200);
    assert.equal((await listen(b, streams.signal, keys.alice)).status, 200);
    for (const url of [a, b]) {
      const refused = await listen(url, AbortSignal.timeout(5000), keys.alice);
      assert.equal(refused.status, 429);
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait > 50 && wait <= 60, `Retry-After ${wait}: when her oldest stream reaches the 60 s stream cap`);
      assert.equal(
        await message(refused),
        `Too many open notification streams: at most 2 per caller at once across this server (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, or retry after ${wait} s, when your oldest reaches the stream cap`,
      );
    }
    assert.equal((await listen(a, streams.signal, keys.bob)).status, 200, 'control: another caller on the same instance is served');
  });

  it('control: instances that do not share Redis count per instance, so the same caller opens a third stream', async (t) => {
    const [a, b] = await pair(false);
    const streams = new AbortController();
    t.after(() => streams.abort());
    assert.equal((await listen(a, streams.signal, keys.alice)).status, 200);
    assert.equal((await listen(b, streams.signal, keys.alice)).status, 200);
    assert.equal((await listen(a, streams.signal, keys.alice)).status, 200, 'each instance has seen one of her streams');
  });

  it('an instance killed while holding a stream leaves its lease counted until the lease ends, then the slot is free', async (t) => {
    const [a] = await pair(true);
    const dying = await startChild({ ...env(), ...redis.env });
    t.after(() => dying.stop());
    const streams = new AbortController();
    t.after(() => streams.abort());
    const [, daves] = streamSlotKeys('notes', 'apikey:dave');
    const client = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    assert.equal((await listen(dying.url, streams.signal, keys.dave)).status, 200);
    assert.equal((await listen(a, streams.signal, keys.dave)).status, 200);
    dying.process.kill('SIGKILL');
    await once(dying.process, 'exit');
    assert.equal(await client.zcard(daves), 2, 'a killed instance releases nothing');
    assert.equal((await listen(a, streams.signal, keys.dave)).status, 429, "the dead instance's stream still counts");
    // Its lease (the stream cap plus a minute) runs out: moved into the past rather than waited for.
    const leases = await client.zrange<string[]>(daves, 0, -1, { withScores: true });
    const ends = leases.filter((_, i) => i % 2 === 1).map(Number);
    const dead = leases[ends.indexOf(Math.min(...ends)) * 2]!;
    for (const key of streamSlotKeys('notes', 'apikey:dave')) await client.zadd(key, { xx: true }, { score: Date.now() - 1, member: dead });
    assert.equal((await listen(a, streams.signal, keys.dave)).status, 200, 'the expired lease frees the slot');
  });

  it('a client that aborts its stream gives the slot back (listen and legacy GET alike)', async () => {
    const [a] = await pair(true);
    const client = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    const [, carols] = streamSlotKeys('notes', 'apikey:carol');
    const held = () => client.zcard(carols);

    const stream = new AbortController();
    assert.equal((await listen(a, stream.signal, keys.carol)).status, 200);
    assert.equal(await held(), 1, 'an open listen stream holds a slot');
    stream.abort();
    await until(async () => (await held()) === 0, 'the aborted listen stream released its slot');

    const init = await fetch(a, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${keys.carol}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'slots', version: '1' } },
      }),
    });
    assert.equal(init.status, 200);
    await init.text();
    const get = new AbortController();
    const res = await fetch(a, {
      signal: get.signal,
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${keys.carol}`,
        'mcp-session-id': init.headers.get('mcp-session-id')!,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    assert.equal(res.status, 200);
    assert.equal(await held(), 1, 'an open GET stream holds a slot');
    get.abort();
    await until(async () => (await held()) === 0, 'the aborted GET stream released its slot');
  });
});
