// No DynamoDB or S3 error text reaches a caller. Real emulators refuse real calls (dynalite: an
// item over 400 KB; s3rver: a bucket that does not exist); the caller gets a generic message
// naming the dependency and the request id, and the server's log has the service's own words
// under that id. Paths: a tool's error in both eras, a task's result, an SDK-served method
// (resources/read). Each has a control that differs only in the failing factor.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import type { KitLogger } from '../../shared/log.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const server = defineServer({
  name: 'store-errors',
  version: '1.0.0',
  tools: [
    tool(
      'stash',
      { description: 'Keeps kb kilobytes in state', input: z.object({ kb: z.number().int().min(0).max(1000) }), task: 'optional' },
      async ({ kb }, ctx) => {
        await ctx.task.start();
        await ctx.state.put('blob', 'x'.repeat(kb * 1024));
        return `stashed ${kb} KB`;
      },
    ),
    tool('keep', { description: 'Stores a file as an artifact', input: z.object({}) }, async (_args, ctx) => ({
      content: [await ctx.artifacts.put('kept.txt', 'kept')],
    })),
  ],
});

const REQUEST_ID = /\(request id ([^)]+)\)/;
/** What the services say, which must stay in the log. */
const STORE_TEXT = /exceeded|Item size|ValidationException|NoSuchBucket|specified bucket/i;
const text = (result: unknown) => (result as { content: { type: string; text?: string }[] }).content[0]!.text!;

describe('store errors reach callers only as a generic message with the request id', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  /** The data plane as it should be. */
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  /** The same, with a bucket that does not exist on the same S3. */
  let noBucket: Awaited<ReturnType<typeof startInProcess>>;
  const lines: { level: string; message: string; data?: Record<string, unknown> }[] = [];
  const log = Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [
      level,
      (message: string, data?: Record<string, unknown>) => void lines.push({ level, message, data }),
    ]),
  ) as unknown as KitLogger;
  const opened: { close(): Promise<void> }[] = [];

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_REQUEST_STATE_KEY: 'store-errors-request-state-key-0123456789',
      MCP_TASK_POLL_MS: '100',
    };
    [kit, noBucket] = await Promise.all([startInProcess(server, env, { log }), startInProcess(server, { ...env, MCP_BUCKET_NAME: 'no-such-bucket' }, { log })]);
  });
  after(async () => {
    for (const c of opened) await c.close().catch(() => {});
    await Promise.all([kit?.stop(), noBucket?.stop()]);
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  async function modern(url = kit.url) {
    const client = new ModernClient({ name: 'store-errors', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(url)));
    opened.push(client);
    return client;
  }
  async function legacy(url = kit.url) {
    const client = new LegacyClient({ name: 'store-errors', version: '1' });
    await client.connect(new LegacyTransport(new URL(url)));
    opened.push(client);
    return client;
  }

  /** The message is generic and carries a request id; the log has the service's words under it. */
  function assertGeneric(message: string, expected: RegExp, logged: RegExp) {
    assert.match(message, expected);
    assert.doesNotMatch(message, STORE_TEXT);
    const requestId = REQUEST_ID.exec(message)![1]!;
    const line = lines.find((l) => l.data?.requestId === requestId && typeof l.data?.detail === 'string');
    assert.ok(line, `a log line under ${requestId} has the detail`);
    assert.match(String(line.data!.detail), logged);
  }

  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: a tool whose state write DynamoDB refuses gets "Internal error (request id …)"; the same write that fits succeeds`, async () => {
      const client = era === 'modern' ? await modern() : await legacy();
      const refused = await client.callTool({ name: 'stash', arguments: { kb: 500 } });
      assert.equal(refused.isError, true);
      assertGeneric(text(refused), /^Internal error \(request id [0-9a-f-]{36}\)$/, /Item size has exceeded/);
      assert.equal(text(await client.callTool({ name: 'stash', arguments: { kb: 1 } })), 'stashed 1 KB');
    });
  }

  /** One 2026-07-28 request of a client that takes tasks, as raw HTTP (the SDK client has no task results). */
  async function rpc(method: string, params: Record<string, unknown>) {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
      'io.modelcontextprotocol/clientInfo': { name: 'store-errors', version: '1' },
    };
    const name = method === 'tools/call' ? String(params.name) : String(params.taskId);
    const res = await fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, 'mcp-name': name },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
    });
    return ((await res.json()) as { result: Record<string, any> }).result;
  }

  it('a task whose run DynamoDB refuses completes with the generic error result; the same task that fits completes with its result', async () => {
    const outcome = async (kb: number) => {
      const created = await rpc('tools/call', { name: 'stash', arguments: { kb } });
      assert.equal(created.resultType, 'task', JSON.stringify(created));
      for (;;) {
        const task = await rpc('tasks/get', { taskId: created.taskId });
        if (task.status !== 'working') return task;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const refused = await outcome(500);
    assert.equal(refused.status, 'completed');
    assertGeneric(text(refused.result), /^Internal error \(request id task:[^)]+\)$/, /Item size has exceeded/);
    assert.equal(text((await outcome(1)).result), 'stashed 1 KB');
  });

  it('a tool whose artifact S3 refuses gets "artifact storage unavailable (request id …)"; with the bucket there it gets its link', async () => {
    const refused = await (await modern(noBucket.url)).callTool({ name: 'keep', arguments: {} });
    assert.equal(refused.isError, true);
    assertGeneric(text(refused), /^artifact storage unavailable \(request id [0-9a-f-]{36}\); retry shortly$/, /NoSuchBucket/);
    const kept = await (await modern()).callTool({ name: 'keep', arguments: {} });
    assert.equal((kept.content as { type: string }[])[0]!.type, 'resource_link');
  });

  it('resources/read, served by the SDK, of an artifact S3 cannot read is -32603 with the generic message; with the bucket there it reads', async () => {
    const client = await modern();
    const { uri } = (await client.callTool({ name: 'keep', arguments: {} })).content[0] as { uri: string };
    const error = await (await modern(noBucket.url)).readResource({ uri }).then(
      () => assert.fail('read from a missing bucket'),
      (e: Error & { code?: number }) => e,
    );
    assert.equal(error.code, -32603);
    assertGeneric(error.message, /artifact storage unavailable \(request id [0-9a-f-]{36}\); retry shortly$/, /NoSuchBucket/);
    assert.equal(((await client.readResource({ uri })).contents[0] as { text: string }).text, 'kept');
  });

  it("GET /health?ready, which anyone may ask, reports a Redis that refuses the server without Redis's words; with the right token it is ok", async () => {
    const redis = await startTestRedis();
    const env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, ...redis.env };
    const [refused, served] = await Promise.all([
      startInProcess({ ...server, name: 'wrong-token' }, { ...env, UPSTASH_REDIS_REST_TOKEN: 'not-the-token' }, { log }),
      startInProcess({ ...server, name: 'right-token' }, env, { log }),
    ]);
    try {
      const ready = async (url: string) =>
        (await (await fetch(url.replace(/\/mcp$/, '/health?ready'))).json()) as { dependencies: { redis: { status: string; error?: string } } };
      const down = (await ready(refused.url)).dependencies.redis;
      assert.deepEqual([down.status, down.error], ['unavailable', 'no answer; the server log says why']);
      const line = lines.find((l) => l.message === 'readiness check failed' && l.data?.dependency === 'redis');
      assert.ok(line && String(line.data!.detail).length > 0, 'the log has what Redis said');
      assert.equal((await ready(served.url)).dependencies.redis.status, 'ok');
    } finally {
      await Promise.all([refused.stop(), served.stop()]);
      await redis.dispose();
    }
  });
});
