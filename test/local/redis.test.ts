import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ratelimit } from '@upstash/ratelimit';
import { Redis, type RedisConfigNodejs } from '@upstash/redis';
import { startRedis, type LocalRedis } from '../../local/redis.ts';
import { redisRequired } from '../helpers/redis.ts';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const token = 'local-test-token';
const dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-redis-'));
let local: LocalRedis | undefined = redisRequired(await startRedis({ dataDir, token }));

const client = (options: Partial<RedisConfigNodejs> = {}) => new Redis({ url: local!.url, token, enableTelemetry: false, ...options });

after(async () => {
  await local?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('local Upstash REST endpoint over redis-server', () => {
  /** The default client: auto-pipelined (single commands go to /pipeline), base64 responses. */
  let redis: Redis;
  /** One command per request to `/`, plain JSON responses. */
  let plain: Redis;

  before(() => {
    redis = client();
    plain = client({ enableAutoPipelining: false, responseEncoding: false });
  });

  test('strings, counters, hashes and expiry work through the default client', async () => {
    assert.equal(await redis.set('greeting', 'héllo ✓'), 'OK');
    assert.equal(await redis.get('greeting'), 'héllo ✓');
    assert.equal(await redis.incr('counter'), 1);
    assert.equal(await redis.incr('counter'), 2);
    assert.equal(await redis.hset('user', { name: 'ada', visits: 3 }), 2);
    assert.deepEqual(await redis.hgetall('user'), { name: 'ada', visits: 3 });
    assert.equal(await redis.expire('greeting', 100), 1);
    const ttl = await redis.ttl('greeting');
    assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
    assert.equal(await redis.get('missing'), null);
  });

  test('the same commands work one request each, without base64', async () => {
    assert.equal(await plain.set('plain', 'ünïcode'), 'OK');
    assert.equal(await plain.get('plain'), 'ünïcode');
    assert.equal(await plain.incr('plain-counter'), 1);
    assert.equal(await plain.type('plain'), 'string');
    await assert.rejects(plain.incr('plain'), /not an integer/);
  });

  test('JSON values round-trip', async () => {
    const value = { id: 7, tags: ['a', 'ü'], nested: { ok: true, none: null }, text: 'line\nbreak' };
    await redis.set('json', value);
    assert.deepEqual(await redis.get('json'), value);
    assert.deepEqual(await plain.get('json'), value);
  });

  test('large values and long pipelines arrive whole', async () => {
    const big = 'é'.repeat(1_500_000);
    await redis.set('big', big);
    assert.equal(await redis.get('big'), big);
    assert.equal(await plain.get('big'), big);
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i}`);
    await Promise.all(keys.map((key, i) => redis.set(key, i)));
    assert.deepEqual(
      await Promise.all(keys.map((key) => redis.get(key))),
      keys.map((_, i) => i),
    );
  });

  test('a pipeline returns per-command results and keeps going past a failed command', async () => {
    const results = await redis.pipeline().set('p', 'v').incr('p-count').get('p').exec();
    assert.deepEqual(results, ['OK', 1, 'v']);
    const mixed = await redis.pipeline().incr('p').get('p').exec({ keepErrors: true });
    assert.match(mixed[0]!.error!, /not an integer/);
    assert.equal(mixed[1]!.result, 'v');
  });

  test('multi runs atomically; errors surface per command or discard the transaction', async () => {
    assert.deepEqual(await redis.multi().set('m', 1).incr('m').get('m').exec(), ['OK', 2, 2]);
    await assert.rejects(redis.multi().set('m2', 'x').incr('m2').exec(), /Command 2 \[ incr \] failed: .*not an integer/);
    assert.equal(await redis.get('m2'), 'x');
    const res = await fetch(`${local!.url}/multi-exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify([['set', 'm3', '1'], ['nosuchcommand']]),
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error, /unknown command/);
    assert.equal(await redis.get('m3'), null);
  });

  test('eval and evalsha pass through; an unknown sha surfaces NOSCRIPT', async () => {
    const script = 'return {KEYS[1], ARGV[1], 42}';
    assert.deepEqual(await redis.eval(script, ['k'], ['v']), ['k', 'v', 42]);
    assert.deepEqual(await redis.evalsha(sha1(script), ['k2'], ['v2']), ['k2', 'v2', 42]);
    await assert.rejects(redis.evalsha('0'.repeat(40), [], []), /NOSCRIPT/);
  });

  test('scripts with Upstash-only shebang flags run, and keep the SHA the client computed', async () => {
    const script = '#!lua flags=allow-key-locking\nreturn redis.call("INCR", KEYS[1])';
    const sha = sha1(script);
    assert.equal(await plain.scriptLoad(script), sha);
    assert.equal(await plain.evalsha(sha, ['flagged'], []), 1);
    assert.equal(await redis.eval(script, ['flagged'], []), 2);
    assert.deepEqual(await plain.scriptExists(sha), [1]);
  });

  test('sorted sets and streams', async () => {
    assert.equal(await redis.zadd('board', { score: 2, member: 'b' }, { score: 1, member: 'a' }), 2);
    assert.deepEqual(await redis.zrange('board', 0, -1, { withScores: true }), ['a', 1, 'b', 2]);
    const id = await redis.xadd('events', '*', { type: 'tools/list_changed', n: 1 });
    await redis.xadd('events', '*', { type: 'resources/list_changed', n: 2 });
    const entries = await redis.xrange('events', '-', '+');
    assert.deepEqual(Object.values(entries), [
      { type: 'tools/list_changed', n: 1 },
      { type: 'resources/list_changed', n: 2 },
    ]);
    assert.ok(id in entries);
  });

  test('a blocking read holds only its own connection', async () => {
    let unblocked = false;
    const blocked = client({ enableAutoPipelining: false })
      .xread('quiet-stream', '$', { blockMS: 400 })
      .finally(() => (unblocked = true));
    // Ordered, not timed: the SET answers while the read still blocks (its 400 ms are not over).
    assert.equal(await plain.set('while-blocked', 'yes'), 'OK');
    assert.equal(unblocked, false, 'the SET did not wait for the blocked read');
    assert.equal(await blocked, null);
  });

  test('a wrong token gets 401', async () => {
    const res = await fetch(local!.url, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
      body: '["ping"]',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'Unauthorized' });
    await assert.rejects(client({ token: 'wrong' }).get('greeting'), /Unauthorized/);
  });

  test('Ratelimit.slidingWindow allows N calls and then limits', async () => {
    const ratelimit = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(3, '10 s'), prefix: 'rl-test' });
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const result = await ratelimit.limit('principal-1');
      await result.pending;
      outcomes.push(result.success);
    }
    assert.deepEqual(outcomes, [true, true, true, false, false]);
    assert.equal((await ratelimit.limit('principal-2')).success, true);
  });

  test('data persists across a restart', async () => {
    await redis.set('durable', 'still here');
    await local!.stop();
    local = await startRedis({ dataDir, token });
    redis = client();
    assert.equal(await redis.get('durable'), 'still here');
  });
});
