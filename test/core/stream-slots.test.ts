// The server-wide cap on open notification streams (MCP_MAX_OPEN_STREAMS), counted in Redis across
// instances: on Lambda each open stream holds an execution environment, so the cap is what keeps
// listeners from taking the account's concurrency from the calls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { createStreamSlots } from '../../shared/http/stream-slots.ts';
import type { KitLogger } from '../../shared/log.ts';
import { PendingWork } from '../../shared/pending-work.ts';
import { createRedis } from '../../shared/redis.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'slots', version: '1' },
};
const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as KitLogger;

describe('server-wide cap on open notification streams', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let servers: Awaited<ReturnType<typeof startInProcess>>[] = [];

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const env = { ...redis.env, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', MCP_MAX_OPEN_STREAMS: '2', MCP_STREAM_MAX_SECONDS: '60' };
    servers = await Promise.all([startInProcess(notes, env), startInProcess(notes, env)]);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.dispose();
    await dynamo?.stop();
  });

  function listen(url: string, signal: AbortSignal) {
    return fetch(url, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
    });
  }

  it('past the cap, a stream on any instance is refused with 503 and Retry-After; a closed stream frees its slot', async () => {
    const [a, b] = servers.map((s) => s.url) as [string, string];
    const first = new AbortController();
    const second = new AbortController();
    const open = [await listen(a, first.signal), await listen(b, second.signal)];
    assert.deepEqual(open.map((r) => r.status), [200, 200]);

    const refused = await listen(a, AbortSignal.timeout(5000));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '30');
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /at most 2 at once \(MCP_MAX_OPEN_STREAMS\)/);

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

  it('a slot whose instance never released it frees itself when its lease ends', async () => {
    const client = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    const pending = new PendingWork();
    const slots = createStreamSlots({ redis: client, server: 'lease-test', max: 1, streamMaxSeconds: 1, pending, log: quiet });
    assert.ok(await slots.claim(), 'the first claim gets the only slot');
    assert.equal(await slots.claim(), undefined, 'the second waits');
    // The lease is the stream cap plus a minute: move the held one's end into the past.
    await client.zadd('mcp:streams:lease-test', { score: Date.now() - 1, member: (await client.zrange<string[]>('mcp:streams:lease-test', 0, 0))[0]! });
    const release = await slots.claim();
    assert.ok(release, 'the expired lease no longer counts');
    release();
    await pending.settled(2000);
    assert.equal(await client.zcard('mcp:streams:lease-test'), 0, 'a release removes the slot');
  });

  it('with Redis unreachable, streams open uncounted rather than failing', async () => {
    const slots = createStreamSlots({ redis: createRedis({ url: 'http://127.0.0.1:9', token: 't', timeoutMs: 200 }), server: 'down', max: 1, streamMaxSeconds: 60, pending: new PendingWork(), log: quiet });
    assert.ok(await slots.claim());
    assert.ok(await slots.claim());
  });
});
