// Tool result cache and rate limits against a real redis-server (through the Upstash REST
// protocol), including Redis going away mid-test and coming back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createRedis } from '../../shared/redis.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { ToolCache } from '../../shared/cache/tool-cache.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let executions = 0;
const server = defineServer({
  name: 'cache-test',
  version: '1.0.0',
  tools: [
    tool(
      'lookup',
      {
        description: 'An expensive read-only lookup',
        input: z.object({ q: z.string(), opts: z.record(z.string(), z.number()).optional() }),
        annotations: { readOnlyHint: true, idempotentHint: true },
        cache: { ttlSeconds: 60 },
      },
      ({ q }) => `result ${++executions} for ${q}`,
    ),
    tool('plain', { description: 'Not cacheable', input: z.object({}) }, () => `plain ${++executions}`),
  ],
});

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'cache-test', version: '1' },
};

async function call(url: string, name: string, args: unknown) {
  const res = await postToolCall(url, { name, arguments: args }, { meta: META });
  const body = (await res.json()) as { result?: { content: { text: string }[] }; error?: { code: number; message: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: body.result?.content[0]?.text, error: body.error };
}

describe('cache and rate limits on Redis', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let redis: TestRedis;
  let cached: Awaited<ReturnType<typeof startInProcess>>;
  let limited: Awaited<ReturnType<typeof startInProcess>>;
  let closed: Awaited<ReturnType<typeof startInProcess>>;
  let base: Record<string, string>;
  /** Entries the cache of the `cache-test` server holds in Redis now. */
  let cacheEntries: () => Promise<number>;
  /** The cache write is not awaited by the call: waits until the entry is there. */
  const untilCached = async (entries: number) => {
    for (let i = 0; (await cacheEntries()) < entries; i++) {
      assert.ok(i < 200, `the cache never held ${entries} entries`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const limits = { MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '3', MCP_RATE_LIMIT_WINDOW_SECONDS: '2' };

  before(async () => {
    [dynamo, redis] = await Promise.all([startTestDynamo(), startTestRedis()]);
    base = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_REQUEST_STATE_KEY: 'cache-test-request-state-key-0123456789',
      MCP_REDIS_TIMEOUT_MS: '300',
      ...redis.env,
    };
    cached = await startInProcess(server, base);
    cacheEntries = async () => (await createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 }).keys('mcp:cache:cache-test:*')).length;
    limited = await startInProcess({ ...server, name: 'limited' }, { ...base, ...limits });
    closed = await startInProcess({ ...server, name: 'closed' }, { ...base, ...limits, MCP_RATE_LIMIT_FAIL_OPEN: 'false' });
  });
  after(async () => {
    await Promise.all([cached?.stop(), limited?.stop(), closed?.stop()]);
    await redis?.dispose();
    await dynamo?.stop();
  });

  it('a cache hit returns the stored result without running the tool', async () => {
    const before = executions;
    const entries = await cacheEntries();
    const first = await call(cached.url, 'lookup', { q: 'a', opts: { x: 1, y: 2 } });
    assert.equal(first.text, `result ${before + 1} for a`);
    await untilCached(entries + 1);
    // Same arguments in another key order: same canonical key, a hit.
    const second = await call(cached.url, 'lookup', { opts: { y: 2, x: 1 }, q: 'a' });
    assert.equal(second.text, first.text);
    assert.equal(executions, before + 1, 'the tool ran once');
    assert.equal((await call(cached.url, 'lookup', { q: 'b' })).text, `result ${before + 2} for b`);
    await call(cached.url, 'plain', {});
    await call(cached.url, 'plain', {});
    assert.equal(executions, before + 4, 'tools without a cache policy always run');
  });

  it('private entries are keyed by principal, shared ones are not', () => {
    const cache = new ToolCache('k', undefined, console);
    const args = { q: 'a' };
    assert.notEqual(cache.key('t', args, { ttlSeconds: 1 }, 'alice'), cache.key('t', args, { ttlSeconds: 1 }, 'bob'));
    assert.equal(cache.key('t', args, { ttlSeconds: 1, scope: 'shared' }, 'alice'), cache.key('t', args, { ttlSeconds: 1, scope: 'shared' }, 'bob'));
  });

  it('answers 429 with Retry-After over the limit, and recovers', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await call(limited.url, 'plain', {})).status, 200);
    const over = await call(limited.url, 'plain', {});
    assert.equal(over.status, 429);
    assert.ok(Number(over.retryAfter) >= 1, `Retry-After: ${over.retryAfter}`);
    assert.equal(over.error?.code, -32000);
    assert.match(over.error!.message, /Rate limit exceeded: at most 3 requests per 2 s; retry after \d+ s/);
    await new Promise((r) => setTimeout(r, Number(over.retryAfter) * 1000 + 100));
    assert.equal((await call(limited.url, 'plain', {})).status, 200);
  });

  it('counts opening a GET stream against the limit, but never refuses ending a session', async () => {
    const streams = await startInProcess({ ...server, name: 'limited-get' }, { ...base, ...limits, MCP_GET_STREAMS: 'true' });
    try {
      const get = () =>
        fetch(streams.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'unknown-session', 'mcp-protocol-version': '2025-06-18' } });
      // Under the limit the request reaches the session check (no such session).
      for (let i = 0; i < 3; i++) assert.equal((await get()).status, 404);
      const over = await get();
      assert.equal(over.status, 429);
      assert.ok(Number(over.headers.get('retry-after')) >= 1);
      assert.match(((await over.json()) as { error: { message: string } }).error.message, /Rate limit exceeded: at most 3 requests per 2 s/);
      const ended = await fetch(streams.url, { method: 'DELETE', headers: { 'mcp-session-id': 'unknown-session', 'mcp-protocol-version': '2025-06-18' } });
      assert.equal(ended.status, 404, 'DELETE is not rate limited: it reaches the session check');
      // Streams count against the same limit as calls.
      assert.equal((await call(streams.url, 'plain', {})).status, 429);
    } finally {
      await streams.stop();
    }
  });

  it('with Redis stopped, calls still succeed (fail open) or get 503 (fail closed); all recover when it returns', async () => {
    await redis.stop();
    try {
      const before = executions;
      const started = Date.now();
      assert.equal((await call(cached.url, 'lookup', { q: 'outage' })).status, 200);
      assert.equal((await call(cached.url, 'lookup', { q: 'outage' })).status, 200);
      assert.equal(executions, before + 2, 'no cache: the tool runs each time');
      for (let i = 0; i < 5; i++) assert.equal((await call(limited.url, 'plain', {})).status, 200, 'rate limit fails open');
      const refused = await call(closed.url, 'plain', {});
      assert.equal(refused.status, 503);
      assert.match(refused.error!.message, /rate limiting is unavailable/);
      assert.ok(Date.now() - started < 10_000, 'an outage costs bounded time per call');
    } finally {
      await redis.restart();
    }
    const before = executions;
    const entries = await cacheEntries();
    await call(cached.url, 'lookup', { q: 'back' });
    await untilCached(entries + 1);
    await call(cached.url, 'lookup', { q: 'back' });
    assert.equal(executions, before + 1, 'cache works again');
    assert.equal((await call(closed.url, 'plain', {})).status, 200);
  });
});
