// A pooled SDK instance forgets 2025-era sessions' log levels when their exchange closes: the SDK
// keeps every `logging/setLevel` in a map on the instance, and a long-lived process (a container)
// would hold one entry per session it ever served. Many sessions go through one kit on the SDK
// path; every instance's map is empty between exchanges, and each session's level still filters
// its own log notifications (it is restored from the session record on every exchange).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { McpServer } from '@modelcontextprotocol/server';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startTestDynamo, startTestS3 } from '../helpers/server.ts';

const instances = new Set<McpServer>();
const def = defineServer({
  name: 'log-levels',
  version: '1.0.0',
  tools: [
    tool('logs', { description: 'logs at two levels' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.log('info', 'quiet');
      await ctx.mcp.mcpReq.log('error', 'loud');
      return 'logged';
    }),
  ],
  extend: (server) => void instances.add(server),
});

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const REVISION = '2025-06-18';
const levelsOf = (server: McpServer) => (server.server as unknown as { _loggingLevels: Map<unknown, unknown> })._loggingLevels;

describe('SDK instances forget session log levels between exchanges', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let kit: ReturnType<typeof createKit>;

  const post = (body: unknown, session?: string) =>
    kit.app.fetch(
      new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: { ...HEADERS, ...(session && { 'mcp-session-id': session, 'mcp-protocol-version': REVISION }) },
        body: JSON.stringify(body),
      }),
    );

  async function open(): Promise<string> {
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: 't', version: '1' } },
    };
    const response = await post(init);
    assert.equal(response.status, 200, await response.text());
    const id = response.headers.get('mcp-session-id')!;
    assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, id)).status, 202);
    return id;
  }

  /** The log data a `logs` call forwards to `session`. */
  async function logged(session: string): Promise<string[]> {
    const body = await (await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'logs', arguments: {} } }, session)).text();
    return [...body.matchAll(/"method":"notifications\/message","params":\{"level":"\w+","data":"(\w+)"/g)].map((m) => m[1]!);
  }

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const config = loadConfig({
      LOG_LEVEL: 'SILENT',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'none',
    });
    kit = createKit(def, config, { directLane: false });
  });
  after(async () => {
    await kit?.close();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  it('40 sessions with levels leave no entries behind, and each level still filters its own logs', async () => {
    const sessions: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await open();
      sessions.push(id);
      const level = i % 2 === 0 ? 'error' : 'info';
      const set = await post({ jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level } }, id);
      assert.equal(set.status, 200, await set.text());
    }
    assert.ok(instances.size >= 1);
    for (const server of instances) assert.equal(levelsOf(server).size, 0, 'no session level outlives its exchange');
    // Control: the levels are not lost, they come back from the session record per exchange.
    assert.deepEqual(await logged(sessions[0]!), ['loud']);
    assert.deepEqual(await logged(sessions[1]!), ['quiet', 'loud']);
    assert.deepEqual(await logged(sessions[2]!), ['loud']);
    for (const server of instances) assert.equal(levelsOf(server).size, 0);
  });
});
