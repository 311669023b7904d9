// Per-tool metrics: every `tools/call` access line carries CloudWatch embedded metrics (Calls,
// Errors, Duration, CacheHits, RateLimited per server and stage, and per tool and era), read
// here as CloudWatch reads EMF. Outcomes come from the tool runner in both lanes and both eras;
// a streamed answer is counted when it ends; a tool name the server does not have mints nothing;
// with metrics off, no line carries any.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const server = defineServer({
  name: 'metered',
  version: '1.0.0',
  tools: [
    tool('ok', { description: 'works', input: z.object({ n: z.number() }) }, ({ n }) => `n=${n}`),
    tool('fails', { description: 'throws' }, () => {
      throw new Error('no');
    }),
    tool('cached', { description: 'cached', annotations: { readOnlyHint: true, idempotentHint: true }, cache: { ttlSeconds: 60 } }, () => 'same'),
    tool('slow', { description: 'answers after the keep-alive interval' }, async () => {
      await new Promise((r) => setTimeout(r, 400));
      return 'late';
    }),
  ],
});

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'metrics-test', version: '1' },
};

type Emf = Record<string, any>;

/** Access lines written while `run` runs, parsed. */
async function lines(run: () => Promise<unknown>): Promise<Emf[]> {
  const seen: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (seen.push(chunk), true) : original(chunk, ...rest),
  );
  try {
    await run();
  } finally {
    write.mock.restore();
  }
  return seen.map((l) => JSON.parse(l));
}

/** The metrics one EMF line gives CloudWatch: per dimension set, the dimension values and the metric values. */
function metricsOf(line: Emf) {
  const [directive] = line._aws.CloudWatchMetrics;
  assert.equal(directive.Namespace, 'McpKit');
  assert.equal(typeof line._aws.Timestamp, 'number');
  const values = Object.fromEntries(directive.Metrics.map((m: { Name: string }) => [m.Name, line[m.Name]]));
  for (const [name, value] of Object.entries(values)) assert.equal(typeof value, 'number', `${name} is a number`);
  return { sets: directive.Dimensions.map((set: string[]) => Object.fromEntries(set.map((d) => [d, line[d]]))), values };
}

describe('per-tool metrics', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let redis: TestRedis;
  let kit: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    [dynamo, redis] = await Promise.all([startTestDynamo(), startTestRedis()]);
    kit = await startInProcess(server, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      ...redis.env,
      LOG_LEVEL: 'INFO',
      MCP_METRICS: 'true',
      MCP_STAGE: 'test',
      MCP_ALLOW_UNAUTHENTICATED: 'true',
      MCP_RATE_LIMIT_ENABLED: 'true',
      MCP_RATE_LIMIT_REQUESTS: '1000',
      MCP_RATE_LIMIT_TOOL_REQUESTS: '3', // per minute: the rate-limit test counts the calls before it
      MCP_SSE_KEEPALIVE_MS: '100',
    });
  });
  after(async () => {
    await kit.stop();
    await Promise.all([dynamo.stop(), redis.dispose()]);
  });

  const call = (name: string, args: unknown = {}, accept = 'application/json, text/event-stream') =>
    fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, _meta: META } }),
    }).then((r) => r.text());

  it('a successful call: Calls 1, Errors 0, its duration, per server and stage and per tool and era', async () => {
    const [line] = await lines(() => call('ok', { n: 1 }));
    const { sets, values } = metricsOf(line!);
    assert.deepEqual(sets, [
      { Server: 'metered', Stage: 'test' },
      { Server: 'metered', Stage: 'test', Tool: 'ok', Era: 'modern' },
    ]);
    assert.deepEqual({ ...values, Duration: undefined }, { Calls: 1, Errors: 0, Duration: undefined, CacheHits: 0, RateLimited: 0 });
    assert.equal(values.Duration, line!.durationMs);
  });

  it('a tool that throws, and arguments its schema refuses, count as errors', async () => {
    const [thrown] = await lines(() => call('fails'));
    assert.equal(metricsOf(thrown!).values.Errors, 1);
    const [invalid] = await lines(() => call('ok', { n: 'x' }));
    assert.equal(metricsOf(invalid!).values.Errors, 1);
  });

  it('a cache hit counts as a hit, not an error', async () => {
    await call('cached');
    const [hit] = await lines(() => call('cached'));
    assert.deepEqual({ hits: metricsOf(hit!).values.CacheHits, errors: metricsOf(hit!).values.Errors }, { hits: 1, errors: 0 });
  });

  it('a call refused by the per-tool rate limit counts as rate limited', async () => {
    const seen = await lines(async () => {
      for (let i = 0; i < 5; i++) await call('ok', { n: i });
    });
    // Three calls of the tool a minute: the earlier tests made two, but the sliding window counts
    // them for less once a minute boundary passes (a slow run made it [200, 200, 429, 429]).
    const statuses = seen.map((l) => l.status);
    const allowed = statuses.indexOf(429);
    assert.ok(allowed >= 1 && allowed <= 3, `${statuses}: the limit binds within its three calls`);
    assert.deepEqual(statuses, [...Array(allowed).fill(200), ...Array(5 - allowed).fill(429)]);
    const refused = statuses.map((s) => (s === 429 ? 1 : 0));
    assert.deepEqual(
      seen.map((l) => metricsOf(l).values.RateLimited),
      refused,
    );
    assert.deepEqual(
      seen.map((l) => metricsOf(l).values.Errors),
      refused,
    );
  });

  it('a slow answer streamed with keep-alives is counted when it ends, with its whole duration', async () => {
    const [line] = await lines(() => call('slow'));
    assert.ok(line!.durationMs >= 400, `durationMs ${line!.durationMs}`);
    assert.deepEqual({ errors: metricsOf(line!).values.Errors, calls: metricsOf(line!).values.Calls }, { errors: 0, calls: 1 });
  });

  it('a 2025-era session is counted under Era legacy', async () => {
    const client = new LegacyClient({ name: 'metrics-legacy', version: '1' });
    await client.connect(new LegacyTransport(new URL(kit.url)));
    try {
      const seen = await lines(() => client.callTool({ name: 'cached', arguments: {} }));
      const tool = seen.find((l) => l.tool === 'cached')!;
      assert.deepEqual(metricsOf(tool).sets[1], { Server: 'metered', Stage: 'test', Tool: 'cached', Era: 'legacy' });
    } finally {
      await client.close();
    }
  });

  it('a tool name the server does not have mints no metric; nor do other methods', async () => {
    // Only this call's line: the previous test's 2025 GET stream may log its end meanwhile.
    const [unknown] = (await lines(() => call('nope'))).filter((l) => l.method !== 'GET stream');
    assert.equal(unknown!.tool, 'nope');
    assert.equal(unknown!._aws, undefined);
    assert.equal(unknown!.Tool, undefined);
  });
});

describe('metrics off', () => {
  it('no access line carries metrics (the local default)', async () => {
    const dynamo = await startTestDynamo();
    const kit = await startInProcess(server, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, LOG_LEVEL: 'INFO' });
    try {
      const seen = await lines(() =>
        fetch(kit.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': 'ok',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ok', arguments: { n: 1 }, _meta: META } }),
        }).then((r) => r.text()),
      );
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!._aws, undefined);
    } finally {
      await kit.stop();
      await dynamo.stop();
    }
  });
});
