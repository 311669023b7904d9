import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, describe, test } from 'node:test';
import type { ServerEvent } from '@modelcontextprotocol/server';
import type { Redis } from '@upstash/redis';
import { startRedis, type LocalRedis } from '../../local/redis.ts';
import { redisRequired } from '../helpers/redis.ts';
import { createRedisEventBus, type RedisEventBus } from '../../shared/events/redis-bus.ts';
import type { KitLogger } from '../../shared/log.ts';
import { createRedis } from '../../shared/redis.ts';

const POLL_MS = 50;
const token = 'bus-test-token';
const dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-bus-'));
let local: LocalRedis | undefined = redisRequired(await startRedis({ dataDir, token }));

after(async () => {
  await local?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** One simulated server process: its own Redis client (every call counted and timed), logger and bus. */
function instance(stream: string, url = local!.url, pollMaxMs = POLL_MS, readDelayMs = 0) {
  const calls = { started: 0, settled: 0, at: [] as number[] };
  const client = createRedis({ url, token, timeoutMs: 2000 });
  const redis = new Proxy(client, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.started++;
        calls.at.push(performance.now());
        // A slow link for this instance's reads (a cold environment, a far region): they start late.
        if (readDelayMs && (key === 'xrange' || key === 'xrevrange')) return sleep(readDelayMs).then(() => value.apply(target, args));
        const result = value.apply(target, args);
        if (result instanceof Promise) result.finally(() => calls.settled++).catch(() => {});
        return result;
      };
    },
  }) as Redis;
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, error() {}, warn: (message: string) => void warnings.push(message) } as unknown as KitLogger;
  const bus = createRedisEventBus({ redis, stream, pollMs: POLL_MS, pollMaxMs, log });
  buses.push(bus);
  const received: ServerEvent[] = [];
  /** Subscribes a recording listener and resolves once the bus has read the stream's end. */
  const listen = async () => {
    const before = calls.settled;
    const unsubscribe = bus.subscribe((event) => void received.push(event));
    await until(() => calls.settled > before, 'first read of the stream');
    return unsubscribe;
  };
  return { bus, calls, warnings, received, listen };
}

const buses: RedisEventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

let streams = 0;
const freshStream = () => `mcp:events:test-${process.pid}-${++streams}`;

describe('Redis event bus across instances', () => {
  test('an event published on A reaches B within a poll or two, and each listener gets it exactly once', async (t) => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    await Promise.all([a.listen(), b.listen()]);

    const sent = performance.now();
    a.bus.publish({ kind: 'tools_list_changed' });
    assert.deepEqual(a.received, [{ kind: 'tools_list_changed' }], 'A delivers to its own listeners synchronously');
    await until(() => b.received.length > 0, "B's listener");
    const latency = performance.now() - sent;
    assert.ok(latency < 1000, `latency ${latency.toFixed(0)} ms`);
    t.diagnostic(`A→B latency ${latency.toFixed(0)} ms at pollMs ${POLL_MS}`);

    b.bus.publish({ kind: 'prompts_list_changed' });
    await until(() => a.received.length > 1, "A's listener");
    await sleep(4 * POLL_MS);
    assert.deepEqual(a.received, [{ kind: 'tools_list_changed' }, { kind: 'prompts_list_changed' }]);
    assert.deepEqual(b.received, [{ kind: 'tools_list_changed' }, { kind: 'prompts_list_changed' }]);
    assert.deepEqual([...a.warnings, ...b.warnings], []);
  });

  test('resource_updated keeps its uri and params; events keep their order', async () => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    await b.listen();
    const updated: ServerEvent = {
      kind: 'resource_updated',
      uri: 'artifact://reports/ü 1.csv',
      params: { uri: 'artifact://reports/ü 1.csv', _meta: { 'example.com/rev': 7, nested: [1, 'x', null] } },
    };
    a.bus.publish({ kind: 'resources_list_changed' });
    a.bus.publish(updated);
    a.bus.publish({ kind: 'tools_list_changed' });
    await until(() => b.received.length === 3, 'three events on B');
    assert.deepEqual(b.received, [{ kind: 'resources_list_changed' }, updated, { kind: 'tools_list_changed' }]);
  });

  test('a listener sees only events published after it subscribed', async () => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    a.bus.publish({ kind: 'resource_updated', uri: 'mem://old' });
    await until(() => a.calls.settled === a.calls.started, 'the append');
    await b.listen();
    a.bus.publish({ kind: 'resource_updated', uri: 'mem://new' });
    await until(() => b.received.length > 0, "B's listener");
    await sleep(3 * POLL_MS);
    assert.deepEqual(b.received, [{ kind: 'resource_updated', uri: 'mem://new' }]);
  });

  test("an event appended right after a first listener subscribes reaches it, however late the listener's first read", async () => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream, local!.url, POLL_MS, 100);
    a.bus.publish({ kind: 'resource_updated', uri: 'mem://before' });
    await until(() => a.calls.settled === a.calls.started, 'the earlier append');
    await sleep(5);
    // B answers `subscriptions/listen` as soon as it subscribes; A's change lands before B's first read does.
    b.bus.subscribe((event) => void b.received.push(event));
    a.bus.publish({ kind: 'resource_updated', uri: 'mem://after' });
    await until(() => a.calls.settled === a.calls.started, 'the append');
    await until(() => b.received.length > 0, "B's listener", 3000);
    await sleep(3 * POLL_MS);
    assert.deepEqual(b.received, [{ kind: 'resource_updated', uri: 'mem://after' }]);
  });

  test('an instance without listeners sends nothing to Redis; the last unsubscribe stops polling', async () => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    for (let i = 0; i < 5; i++) {
      a.bus.publish({ kind: 'tools_list_changed' });
      await sleep(POLL_MS);
    }
    assert.equal(b.calls.started, 0, 'idle B made no Redis calls');

    const first = await b.listen();
    const second = b.bus.subscribe(() => {});
    first();
    const afterFirst = b.calls.started;
    await until(() => b.calls.started - afterFirst >= 2, 'B to keep polling while a listener remains');

    second();
    second();
    await until(() => b.calls.settled === b.calls.started, 'the last poll to settle');
    const stoppedAt = b.calls.started;
    a.bus.publish({ kind: 'tools_list_changed' });
    await sleep(6 * POLL_MS);
    assert.equal(b.calls.started, stoppedAt, 'B stopped polling');

    await b.listen();
    await sleep(3 * POLL_MS);
    assert.deepEqual(b.received, [], 'a new subscription starts from the end, not from where polling stopped');
    await b.bus.close();
    await until(() => b.calls.settled === b.calls.started, 'the last poll to settle');
    const closedAt = b.calls.started;
    await sleep(4 * POLL_MS);
    assert.equal(b.calls.started, closedAt, 'close() stops polling');
  });

  test('one poller per instance: fifty listeners on one instance cost Redis what one listener costs', async () => {
    const stream = freshStream();
    const crowded = instance(stream);
    const single = instance(stream);
    await Promise.all([crowded.listen(), single.listen()]);
    for (let i = 0; i < 49; i++) crowded.bus.subscribe(() => {});
    const [crowdedFrom, singleFrom] = [crowded.calls.started, single.calls.started];
    await until(() => single.calls.started - singleFrom >= 8, 'eight reads by the single listener');
    const reads = crowded.calls.started - crowdedFrom;
    assert.ok(reads <= 10, `fifty listeners made ${reads} reads while one listener made 8`);
  });

  test('a quiet stream: after three empty reads the interval doubles up to pollMaxMs, bounding an idle listener to about 1/pollMaxMs commands a second; an event brings it back to pollMs', async (t) => {
    const MAX = 8 * POLL_MS;
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream, local!.url, MAX);
    await b.listen();
    await until(() => b.calls.started >= 9, 'nine reads of a quiet stream', 10_000);
    const gaps = b.calls.at.slice(1).map((at, i) => at - b.calls.at[i]!);
    t.diagnostic(`gaps while quiet: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    // gaps[0] follows the read of the stream's end; the next three reads find nothing at pollMs.
    // Timers fire late, never early: the lower bounds hold on a busy machine too.
    assert.ok(gaps[2]! < 2 * POLL_MS + 200, 'three empty reads at pollMs first');
    assert.ok(gaps[4]! >= 2 * POLL_MS - 5 && gaps[5]! >= 4 * POLL_MS - 5, 'then the interval doubles');
    const steady = gaps.slice(-2);
    assert.ok(
      steady.every((g) => g >= MAX - 5),
      `steady gaps ${steady.map((g) => g.toFixed(0))} reach the ceiling`,
    );
    assert.ok(
      steady.every((g) => g < MAX + 500),
      `and stay near it`,
    );

    const sent = performance.now();
    a.bus.publish({ kind: 'tools_list_changed' });
    await until(() => b.received.length === 1, "B's listener", 5_000);
    const latency = performance.now() - sent;
    assert.ok(latency < MAX + 500, `the first event after a quiet spell arrives within pollMaxMs (${latency.toFixed(0)} ms)`);
    const delivered = b.calls.started;
    await until(() => b.calls.started >= delivered + 1, 'the read after the event');
    const fast = b.calls.at[delivered]! - b.calls.at[delivered - 1]!;
    assert.ok(fast < 2 * POLL_MS + 500 && fast < MAX, `after an event the next read comes after pollMs (${fast.toFixed(0)} ms)`);
  });

  test('publishing on an instance brings its own reads back to pollMs at once', async () => {
    const MAX = 20 * POLL_MS;
    const stream = freshStream();
    const b = instance(stream, local!.url, MAX);
    await b.listen();
    await until(() => b.calls.started >= 5, 'the interval to grow', 10_000);
    const before = b.calls.started;
    const published = performance.now();
    b.bus.publish({ kind: 'tools_list_changed' });
    await until(() => b.calls.at.length > before + 1 && b.calls.at.at(-1)! > published, 'a read after the publish', 5_000);
    const wait = b.calls.at.find((at) => at > published)! - published;
    assert.ok(wait < MAX / 2, `read ${wait.toFixed(0)} ms after publishing, not after the ${MAX} ms ceiling`);
  });

  test('malformed stream entries are skipped; the events around them arrive', async () => {
    const stream = freshStream();
    const raw = createRedis({ url: local!.url, token, timeoutMs: 2000 });
    const a = instance(stream);
    const b = instance(stream);
    await b.listen();
    a.bus.publish({ kind: 'tools_list_changed' });
    await raw.xadd(stream, '*', { o: 'elsewhere', e: 'not json' });
    await raw.xadd(stream, '*', { o: 'elsewhere', e: JSON.stringify({ kind: 'something_new' }) });
    await raw.xadd(stream, '*', { o: 'elsewhere', e: JSON.stringify({ kind: 'resource_updated' }) });
    await raw.xadd(stream, '*', { o: 'elsewhere', e: JSON.stringify({ kind: 'tools_list_changed', params: 'x' }) });
    await raw.xadd(stream, '*', { unrelated: 'field' });
    a.bus.publish({ kind: 'prompts_list_changed' });
    await until(() => b.received.length === 2, 'two events on B');
    await sleep(3 * POLL_MS);
    assert.deepEqual(b.received, [{ kind: 'tools_list_changed' }, { kind: 'prompts_list_changed' }]);
    assert.deepEqual(b.warnings, ['event bus: skipped a malformed stream entry'], 'one throttled warning');
  });

  test('a throwing listener does not stop the others, here or across instances', async () => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    for (const bus of [a.bus, b.bus])
      bus.subscribe(() => {
        throw new Error('listener bug');
      });
    await Promise.all([a.listen(), b.listen()]);
    a.bus.publish({ kind: 'tools_list_changed' });
    assert.equal(a.received.length, 1);
    await until(() => b.received.length === 1, "B's second listener");
    assert.deepEqual(a.warnings, ['event listener failed']);
    assert.deepEqual(b.warnings, ['event listener failed']);
  });

  test('publish never throws, even for params JSON cannot carry', () => {
    const a = instance(freshStream());
    a.bus.subscribe((event) => void a.received.push(event));
    const event = { kind: 'tools_list_changed', params: { n: 1n } } as unknown as ServerEvent;
    assert.doesNotThrow(() => a.bus.publish(event));
    assert.deepEqual(a.received, [event]);
    assert.deepEqual(a.warnings, ['event bus: append to Redis failed; other instances miss the event']);
  });

  test('Redis down: publish still delivers locally without throwing; cross-instance delivery resumes after restart', async (t) => {
    const stream = freshStream();
    const a = instance(stream);
    const b = instance(stream);
    await Promise.all([a.listen(), b.listen()]);
    a.bus.publish({ kind: 'tools_list_changed' });
    await until(() => b.received.length === 1, 'delivery before the outage');

    const port = Number(new URL(local!.url).port);
    await local!.stop();
    local = undefined;
    const downAt = performance.now();
    const c = instance(stream, `http://127.0.0.1:${port}`);
    c.bus.subscribe((event) => void c.received.push(event));
    for (let i = 0; i < 5; i++) {
      assert.doesNotThrow(() => a.bus.publish({ kind: 'resources_list_changed' }));
      await sleep(POLL_MS);
    }
    assert.equal(a.received.length, 6, 'local listeners got every event during the outage');
    assert.equal(b.received.length, 1);
    assert.deepEqual(a.warnings.filter((w) => w.includes('append')).length, 1, 'append failures logged once (throttled)');
    assert.ok(b.warnings.filter((w) => w.includes('reading')).length === 1, 'poll failures logged once (throttled)');

    const outageMs = performance.now() - downAt;
    assert.ok(
      c.calls.started <= outageMs / POLL_MS + 1,
      `C, subscribed during the outage, retries once a poll (${c.calls.started} calls in ${outageMs.toFixed(0)} ms)`,
    );

    local = await startRedis({ dataDir, token, port });
    assert.equal(local!.url, `http://127.0.0.1:${port}`);
    const upAt = performance.now();
    a.bus.publish({ kind: 'prompts_list_changed' });
    await until(() => b.received.length === 2, 'delivery after the restart');
    const recovery = performance.now() - upAt;
    assert.deepEqual(b.received.at(-1), { kind: 'prompts_list_changed' });
    assert.ok(recovery < 1000, `recovered in ${recovery.toFixed(0)} ms`);
    await sleep(3 * POLL_MS);
    a.bus.publish({ kind: 'resources_list_changed' });
    await until(() => c.received.length === 2, "C's listener");
    // C reads from the moment it subscribed, outage or not: both events appended since, in order.
    assert.deepEqual(c.received, [{ kind: 'prompts_list_changed' }, { kind: 'resources_list_changed' }]);
    t.diagnostic(`outage ${(upAt - downAt).toFixed(0)} ms, C polled ${c.calls.started} times, recovery ${recovery.toFixed(0)} ms`);
  });
});
