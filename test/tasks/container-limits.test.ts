// Container tasks under a hostile or careless caller, with real emulators, a real redis-server and
// real HTTP servers (one kit instance plays the function, others containers): a principal flooding
// the queue meets its limit while another's tasks still queue and run; a run that never ends fails
// before its record expires; progress and checkpoints flooded by a tool cost a bounded number of
// small writes, and the last of each is kept; the queue poll reads a page, not the backlog, and
// still finds a run behind held ones; a container runs only its stage's runs and tools it has,
// and runs queued before a deploy; and a container holding runs protects its ECS task from
// scale-in through a stand-in for the ECS agent. Read and write units are dynalite's own
// consumed capacity, as DynamoDB bills them.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { ecsTaskProtection } from '../../shared/adapters/ecs-protection.ts';
import type { KitLogger } from '../../shared/log.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import type { Relay } from '../../shared/relay/relay.ts';
import { TaskQueue } from '../../shared/tasks/queue.ts';
import { TaskService, type TaskOutcome, type TaskRunContext, type TaskServiceOptions } from '../../shared/tasks/service.ts';
import { TaskStore, newTaskId } from '../../shared/tasks/store.ts';
import { UNRUNNABLE_KEPT, runnableHere, type TaskWorkers } from '../../shared/tasks/workers.ts';
import { containerTasksServer, jobs } from '../fixtures/container-tasks.ts';
import { rpc as rpcAt } from '../helpers/gateway-tasks.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const TASKS = 'io.modelcontextprotocol/tasks';
const LIMIT = 2;
type Kit = Awaited<ReturnType<typeof startInProcess>>;

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** DynamoDB's bill for what went through a client: dynalite's consumed capacity per operation. */
interface Meter {
  readUnits: number;
  writeUnits: number;
  ops: Record<string, number>;
}

/** A client that asks dynalite for the consumed capacity of every call and adds it up. */
async function meteredClient(endpoint: string): Promise<{ client: DynamoDBClient; meter: Meter; reset(): void }> {
  const client = await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: endpoint });
  const meter: Meter = { readUnits: 0, writeUnits: 0, ops: {} };
  const send = client.send.bind(client) as (command: unknown, ...rest: unknown[]) => Promise<Record<string, unknown>>;
  client.send = (async (command: { constructor: { name: string }; input: Record<string, unknown> }, ...rest: unknown[]) => {
    const op = command.constructor.name.replace(/Command$/, '');
    command.input.ReturnConsumedCapacity = 'TOTAL';
    meter.ops[op] = (meter.ops[op] ?? 0) + 1;
    const reads = ['GetItem', 'Query'].includes(op);
    try {
      const out = await send(command, ...rest);
      const units = (out.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits ?? 0;
      if (reads) meter.readUnits += units;
      else meter.writeUnits += units;
      return out;
    } catch (error) {
      // A write refused by its condition is billed too, at least one unit.
      if ((error as Error).name === 'ConditionalCheckFailedException') meter.writeUnits += 1;
      throw error;
    }
  }) as typeof client.send;
  return {
    client,
    meter,
    reset() {
      Object.assign(meter, { readUnits: 0, writeUnits: 0, ops: {} });
    },
  };
}

const quietLog = (lines: string[] = []) =>
  ({
    debug() {},
    info() {},
    warn: (message: string, data?: unknown) => lines.push(`${message} ${JSON.stringify(data)}`),
    error: (message: string, data?: unknown) => lines.push(`${message} ${JSON.stringify(data)}`),
    audit() {},
  }) as KitLogger;

describe('container tasks under a hostile caller', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let redis: TestRedis;
  let fn: Kit;
  let ctr: Kit;
  let keys: { alice: string; bob: string; carol: string };
  const kits: Kit[] = [];
  let running: TaskWorkers[] = [];
  const table = () => new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');

  const env = (extra: Record<string, string> = {}) => ({
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    ...redis.env,
    MCP_AUTH_MODE: 'apikey',
    MCP_TASK_POLL_MS: '100',
    MCP_TASK_TIMEOUT_MS: '1000',
    MCP_CONTAINER_TASKS: 'true',
    MCP_TASK_LEASE_SECONDS: '2',
    MCP_CONTAINER_TASKS_PER_PRINCIPAL: String(LIMIT),
    ...extra,
  });
  async function instance(definition: Parameters<typeof startInProcess>[0], extra?: Record<string, string>, options?: Parameters<typeof startInProcess>[2]) {
    const kit = await startInProcess(definition, env(extra), options);
    kits.push(kit);
    return kit;
  }
  const workers = (kit: Kit, options: Parameters<Kit['kit']['startTaskWorkers']>[0] = {}) => {
    const started = kit.kit.startTaskWorkers({ pollMs: 100, drainMs: 0, ...options });
    running.push(started);
    return started;
  };
  const rpc = (method: string, params: Record<string, unknown>, key = keys.alice, kit = fn) =>
    rpcAt(kit.url, { authorization: `Bearer ${key}` }, method, params);
  const start = async (name: string, args: Record<string, unknown> = {}, key = keys.alice, kit = fn) => {
    const created = await rpc('tools/call', { name, arguments: args }, key, kit);
    assert.equal(created.result?.resultType, 'task', JSON.stringify(created));
    return created.result!.taskId as string;
  };
  const settled = (taskId: string, key = keys.alice, timeoutMs?: number) =>
    until(
      async () => (await rpc('tasks/get', { taskId }, key)).result!,
      (t) => t.status !== 'working',
      `task ${taskId} to finish`,
      timeoutMs,
    );
  const everything = async () =>
    (await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint })).send(
      new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: 'mcp-kit' }),
    );

  before(async () => {
    [dynamo, s3, redis] = await Promise.all([startTestDynamo(), startTestS3(), startTestRedis()]);
    const store = new ApiKeyStore(table(), { cacheSeconds: 1 });
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(async (p) => (await store.create({ principalId: p, scopes: [] })).key));
    keys = { alice: alice!, bob: bob!, carol: carol! };
    [fn, ctr] = await Promise.all([instance(containerTasksServer('function')), instance(containerTasksServer('ctr'))]);
  });
  afterEach(async () => {
    await Promise.all(running.map((w) => w.stop()));
    running = [];
  });
  after(async () => {
    await Promise.all(kits.map((k) => k.stop()));
    await Promise.all([dynamo.stop(), s3.stop(), redis.dispose()]);
  });

  it('a principal past MCP_CONTAINER_TASKS_PER_PRINCIPAL is refused with 429 saying the limit, nothing written; another principal still queues and runs; an ended task frees a slot', async () => {
    const mine = [await start('endless_job'), await start('endless_job')];
    const before = (await everything()).Count;
    const res = await fetch(fn.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${keys.alice}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'endless_job',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: {
          name: 'endless_job',
          arguments: {},
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
            'io.modelcontextprotocol/clientInfo': { name: 'flood', version: '1' },
          },
        },
      }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '30', "the 429 says when to call again, as the kit's other 429s do");
    const refused = (await res.json()) as { id: number; error: { code: number; message: string } };
    assert.equal(refused.id, 7);
    assert.equal(refused.error.code, -32000);
    assert.equal(
      refused.error.message,
      `Too many container tasks: at most ${LIMIT} unfinished per caller at once (MCP_CONTAINER_TASKS_PER_PRINCIPAL); wait for one to end (tasks/get), or cancel one you no longer need with tasks/cancel, then call again`,
    );
    assert.equal((await everything()).Count, before, 'the refusal wrote nothing: no task, queue item or slot');
    // The same through a 2025-11-25 session's task-augmented call.
    const legacy = new LegacyClient({ name: 'flood-legacy', version: '1' });
    await legacy.connect(new LegacyTransport(new URL(fn.url), { requestInit: { headers: { authorization: `Bearer ${keys.alice}` } } }));
    try {
      await assert.rejects(
        legacy.request({ method: 'tools/call', params: { name: 'endless_job', arguments: {}, task: { ttl: 60_000 } } }, CreateTaskResultSchema),
        /"code":-32000,"message":"Too many container tasks: at most 2 unfinished per caller at once/,
      );
    } finally {
      await legacy.close();
    }

    // A flood at once from another principal: the slots are conditional writes, so no two calls share one.
    const flood = await Promise.all(Array.from({ length: 6 }, () => rpc('tools/call', { name: 'endless_job', arguments: {} }, keys.carol)));
    const queued = flood.filter((r) => r.result?.resultType === 'task');
    assert.equal(
      queued.length,
      LIMIT,
      `${queued.length} of 6 concurrent calls queued: ${JSON.stringify(flood.map((r) => r.error?.message ?? r.result?.content?.[0]?.text ?? 'task'))}`,
    );
    assert.ok(
      flood.every((r) => r.result?.resultType === 'task' || /at most 2 unfinished per caller/.test(r.error?.message ?? r.result?.content?.[0]?.text ?? '')),
    );

    // Control: bob, unaffected by both, gets his task queued and run while alice's wait.
    workers(ctr, { concurrency: 8 });
    const bobs = await start('long_job', { ms: 50 }, keys.bob);
    assert.equal((await settled(bobs, keys.bob)).result.content[0].text, 'ran 50 ms on ctr');

    // Control: a cancelled task gives its slot back at once.
    await rpc('tasks/cancel', { taskId: mine[0] });
    const again = await start('long_job', { ms: 50 });
    assert.equal((await settled(again)).status, 'completed');
    await rpc('tasks/cancel', { taskId: mine[1] });
    for (const r of queued) await rpc('tasks/cancel', { taskId: r.result!.taskId }, keys.carol);
  });

  it('a run that never ends fails before its task expires: at MCP_CONTAINER_TASK_TIMEOUT_SECONDS, else a tenth of its TTL early', async () => {
    const strict = await instance(containerTasksServer('strict'), { MCP_CONTAINER_TASK_TIMEOUT_SECONDS: '1' });
    workers(strict);
    const began = Date.now();
    const taskId = await start('stubborn_job', {}, keys.bob);
    const failed = await settled(taskId, keys.bob, 10_000);
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    assert.equal(failed.error.message, "the task's run did not finish within 1 s (MCP_CONTAINER_TASK_TIMEOUT_SECONDS) and was stopped");
    assert.ok(Date.now() - began < 5000, 'within the limit, not the TTL');

    // Derived from the TTL: a task living 5 s fails 500 ms before it expires, still readable.
    const store = new TaskStore(table(), { ttlMs: 5000, pollIntervalMs: 100, inlineResultBytes: 300_000 });
    const service = serviceOn(store, async () => new Promise<TaskOutcome>(() => {}));
    const id = newTaskId();
    await store.create({ id, principalId: 'p', wire: '2026', request: { tool: 'stubborn_job', arguments: {}, scopes: [] }, queued: true });
    const record = (await service.startLeased(id, 1, 1))!;
    await service.execute(record, new AbortController().signal);
    const ended = await store.load(id);
    assert.equal(ended?.status, 'failed', 'recorded, and read back before the record expires');
    assert.match(ended!.error!.message, /^the task's run was stopped 500 ms before the task expires \(its TTL is 5 s\), unfinished; give it a longer TTL/);
    assert.ok(ended!.lastUpdatedAt < record.createdAt + record.ttlMs, 'the failure landed before the expiry');

    // Control: a run inside its limit completes.
    const quick = await start('long_job', { ms: 100 }, keys.bob, fn);
    assert.equal((await settled(quick, keys.bob)).status, 'completed');
  });

  /** A TaskService on `store` whose tool is `run` (for runs driven straight from the test). */
  function serviceOn(store: TaskStore, run: (ctx: TaskRunContext) => Promise<TaskOutcome>, extra: Partial<TaskServiceOptions> = {}) {
    return new TaskService({
      store,
      relay: { kind: 'table', send: async () => {}, watch: () => ({ hurry() {}, stop() {} }) } as Relay,
      artifacts: {} as TaskServiceOptions['artifacts'],
      log: quietLog(),
      execute: run,
      staleAfterMs: 60_000,
      maxTtlMs: 60_000,
      stage: 'test',
      server: 'limits-test',
      metrics: false,
      ...extra,
    });
  }

  it('a tool flooding progress and checkpoints on a large task costs a few fenced UpdateItems, no reads, and keeps the last of each', async (t) => {
    const metered = await meteredClient(dynamo.endpoint);
    const store = new TaskStore(new Table(async () => metered.client, 'mcp-kit'), { ttlMs: 60_000, pollIntervalMs: 100, inlineResultBytes: 300_000 });
    const padding = 'x'.repeat(60_000);
    const create = async () => {
      const id = newTaskId();
      await store.create({ id, principalId: 'p', wire: '2026', request: { tool: 'chatty_job', arguments: { padding }, scopes: [] }, queued: true });
      return id;
    };
    // Before: each progress message was a transition, a consistent read and a rewrite of the whole item.
    const old = await create();
    await store.transition(old, ['working'], () => ({ checkpoint: { run: 1, value: { padding } } }));
    metered.reset();
    await store.transition(old, ['working'], () => ({ statusMessage: 'report 1' }));
    const before = { ...metered.meter };
    // After: one small item of its own, beside the record.
    metered.reset();
    await store.reportProgress({ id: old, run: 1, expiresAtMs: Date.now() + 60_000 }, 'report 2');
    const after = { ...metered.meter };
    // A checkpoint is one fenced UpdateItem, billed on the whole item all the same (the larger of before and after).
    metered.reset();
    assert.equal(await store.saveCheckpoint({ id: old, run: 1, expiresAtMs: Date.now() + 60_000 }, { padding }), true);
    const checkpoint = { ...metered.meter };
    t.diagnostic(
      `on a task with a 60 KB request and a 60 KB checkpoint: a progress write before ${before.readUnits} RRU + ${before.writeUnits} WRU (${JSON.stringify(before.ops)}), ` +
        `after ${after.readUnits} RRU + ${after.writeUnits} WRU (${JSON.stringify(after.ops)}); a checkpoint ${checkpoint.readUnits} RRU + ${checkpoint.writeUnits} WRU (${JSON.stringify(checkpoint.ops)})`,
    );
    assert.deepEqual(after, { readUnits: 0, writeUnits: 1, ops: { PutItem: 1 } });
    assert.ok(before.readUnits >= 30 && before.writeUnits >= 100, 'control: the old way read and rewrote the whole item');
    assert.deepEqual(checkpoint.ops, { UpdateItem: 1 });
    assert.equal((await store.load(old))?.statusMessage, 'report 2', 'a reader sees the progress');
    // A stale attempt's progress shows nowhere.
    await store.reportProgress({ id: old, run: 1, attempt: 7, expiresAtMs: Date.now() + 60_000 }, 'from a run taken over');
    assert.equal((await store.load(old))?.statusMessage, 'report 1', "not another attempt's (the record's own message again)");

    // A flood: 500 progress messages and 500 checkpoints of 60 KB as fast as the tool can.
    const service = serviceOn(
      store,
      async ({ report, checkpoint }) => {
        for (let i = 1; i <= 500; i++) {
          report(`report ${i}`);
          await checkpoint({ i, padding });
        }
        return { kind: 'result', result: { content: [{ type: 'text', text: 'done' }] } };
      },
      { reportEveryMs: 1000 },
    );
    const id = await create();
    const record = (await service.startLeased(id, 1, 1))!;
    metered.reset();
    const began = Date.now();
    await service.execute(record, new AbortController().signal);
    const seconds = (Date.now() - began) / 1000;
    const flood = { ...metered.meter };
    t.diagnostic(
      `500 progress + 500 checkpoints (60 KB) in ${seconds.toFixed(2)} s: ${flood.readUnits} RRU + ${flood.writeUnits} WRU (${JSON.stringify(flood.ops)}); unthrottled, the old path: ${500 * (before.readUnits + before.writeUnits)}+ units`,
    );
    const writes = flood.ops.UpdateItem ?? 0;
    assert.ok(writes <= 2 * (Math.ceil(seconds) + 1), `${writes} UpdateItems in ${seconds} s: at most one of each per second, and the last`);
    const done = (await store.load(id))!;
    assert.equal(done.status, 'completed');
    assert.equal(done.statusMessage, 'report 500', 'the last progress message was written before the end');
  });

  it('a stopped run writes its last throttled checkpoint before its lease goes back: the restart resumes from it', async () => {
    const strictA = await instance(containerTasksServer('ckA'), { MCP_TASK_PROGRESS_MS: '60000' });
    const a = workers(strictA);
    const taskId = await start('resumable_job', { steps: 40 }, keys.bob);
    await until(
      () => jobs.steps.get(taskId) ?? 0,
      (step) => step >= 4,
      'four steps on ckA',
    );
    await a.stop();
    const savedBy = jobs.steps.get(taskId)!;
    workers(ctr);
    const done = await settled(taskId, keys.bob);
    const [, from] = /^steps (\d+) to 40 on ctr$/.exec(done.result?.content[0].text ?? '') ?? assert.fail(JSON.stringify(done));
    assert.equal(Number(from), savedBy + 1, 'not from step 2: step 1 is the only checkpoint the one-a-minute throttle wrote at once');
  });

  it('the queue poll reads one page however long the backlog, and finds a run behind a page of held ones', async (t) => {
    const metered = await meteredClient(dynamo.endpoint);
    const queue = new TaskQueue(new Table(async () => metered.client, 'mcp-kit'), { server: 'poll-test', stage: 'local', version: '1', leaseMs: 60_000 });
    for (let i = 0; i < 120; i++) await queue.enqueue(`Backlog${String(i).padStart(15, '0')}`, 1, Date.now() + 60_000, 'long_job');
    metered.reset();
    const whole = await new Table(async () => metered.client, 'mcp-kit').query('TASKQ#local#poll-test');
    const before = { ...metered.meter };
    metered.reset();
    const page = await queue.waiting(4);
    const after = { ...metered.meter };
    t.diagnostic(`poll over 120 queued runs: the whole partition ${before.readUnits} RRU (${whole.length} items), one Limit-ed page ${after.readUnits} RRU`);
    assert.equal(page.length, 4);
    assert.equal(after.ops.Query, 1);
    assert.ok(after.readUnits < before.readUnits / 3, `${after.readUnits} RRU against ${before.readUnits}`);
    // Hold the first 60: the runs still waiting sit behind more than two pages of held ones.
    for (const run of await queue.waiting(60)) assert.ok(await queue.claim(run, 'holder'));
    const [next] = await queue.waiting(1);
    assert.equal(next?.taskId, `Backlog${String(60).padStart(15, '0')}`, 'the oldest run no one holds');
  });

  it("a container runs only its stage's runs and tools it has (a mismatched version is logged), and runs queued before the stage was in the partition", async () => {
    const base = containerTasksServer('old');
    const older = { ...base, version: '0.9.0', tools: base.tools.filter((tool) => tool.name !== 'chatty_job') };
    const lines: string[] = [];
    const old = await instance(older, {}, { log: quietLog(lines) });
    const prod = await instance(containerTasksServer('prod'), { MCP_STAGE: 'prod' });
    const prodWorkers = workers(prod);
    workers(old);
    const newTool = await start('chatty_job', { reports: 3 }, keys.bob);
    const known = await start('long_job', { ms: 50 }, keys.bob);
    assert.equal(
      (await settled(known, keys.bob)).result.content[0].text,
      'ran 50 ms on old',
      'the old container took the run queued after the one it lacks the tool of',
    );
    assert.ok(
      lines.some((l) => l.startsWith('task worker: running a task queued by another version of the server') && l.includes('"queuedBy":"1.0.0"')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('task worker: a queued run is left for another container') && l.includes('"tool":"chatty_job"')),
      lines.join('\n'),
    );
    const waiting = (await table().query('TASKQ#local#container-tasks')).find((i) => i.taskId?.S === newTool);
    assert.equal(waiting?.attempts?.N, '0', 'never claimed: not by the old version, nor by the other stage');
    assert.equal(waiting?.version?.S, '1.0.0');

    // Control: a container of this version and stage runs it.
    workers(ctr);
    assert.equal((await settled(newTool, keys.bob)).result.content[0].text, 'reported 3 on ctr');

    // A run queued by the version before stages were in the partition (no tool or version named)
    // still runs; that partition names no stage, so any stage's containers read it.
    await prodWorkers.stop();
    const store = new TaskStore(table(), { ttlMs: 60_000, pollIntervalMs: 100, inlineResultBytes: 300_000 });
    const id = newTaskId();
    await store.create({ id, principalId: 'apikey:bob', wire: '2026', request: { tool: 'long_job', arguments: { ms: 20 }, scopes: [] }, queued: true });
    await table().put({
      pk: { S: 'TASKQ#container-tasks' },
      sk: { S: `${String(Date.now()).padStart(15, '0')}#${id}#1` },
      taskId: { S: id },
      run: { N: '1' },
      attempts: { N: '0' },
      leaseUntil: { N: '0' },
      expiresAt: { N: String(Math.ceil(Date.now() / 1000) + 60) },
    });
    const legacy = await until(
      () => store.load(id),
      (r) => r?.status !== 'working',
      'the pre-deploy run',
    );
    assert.match(JSON.stringify(legacy?.result), /ran 20 ms on (ctr|old)/);
  });

  it('a run of a tool no running container has fails after the wait, naming the tool; control: one that waits for a busy container that has it is left to run', async () => {
    const base = containerTasksServer('lacking');
    const lacking = await instance({ ...base, version: '0.9.0', tools: base.tools.filter((tool) => tool.name !== 'chatty_job') }, {}, { log: quietLog() });
    const AFTER = 300;
    // Control: the only container with chatty_job is busy with another run; the run waits its turn.
    workers(ctr, { concurrency: 1 });
    const busy = await start('long_job', { ms: 1500 }, keys.carol);
    await until(
      () => jobs.starts.get(busy) ?? [],
      (s) => s.length === 1,
      'the busy run on the container that has the tool',
    );
    const polls: number[] = [];
    workers(lacking, { failUnservedAfterMs: AFTER, onPoll: () => void polls.push(Date.now()) });
    const waits = await start('chatty_job', { reports: 1 }, keys.carol);
    const queuedAt = Date.now();
    await until(
      () => polls.filter((at) => at > queuedAt + AFTER).length,
      (n) => n >= 3,
      'three polls of the lacking container past the wait',
    );
    assert.equal((await rpc('tasks/get', { taskId: waits }, keys.carol)).result!.status, 'working', 'a container that has the tool runs now: not failed');
    assert.equal((await settled(waits, keys.carol)).result.content[0].text, 'reported 1 on ctr');
    await settled(busy, keys.carol);

    // Once no running container has the tool (the one that had it stopped), the next run fails after the wait.
    await Promise.all(running.filter((w) => w !== running.at(-1)).map((w) => w.stop()));
    const stranded = await start('chatty_job', { reports: 1 }, keys.carol);
    const failed = await settled(stranded, keys.carol);
    assert.equal(failed.status, 'failed');
    assert.match(JSON.stringify(failed), /no running container has the tool \\"chatty_job\\"/, JSON.stringify(failed));
    assert.match(JSON.stringify(failed), /server version that declares it/);
    // The task is failed first, then its queue item removed.
    await until(
      async () => (await table().query('TASKQ#local#container-tasks')).filter((i) => i.taskId?.S === stranded).length,
      (n) => n === 0,
      'its queue item gone',
    );
  });

  it('a container holding runs protects its ECS task from scale-in through the agent endpoint, and clears it once idle; a failing agent is logged, never fatal', async () => {
    const agent = await ecsAgent();
    const { calls, agentUri } = agent;
    try {
      const lines: string[] = [];
      const protection = ecsTaskProtection(agentUri, quietLog(lines), { clearAfterMs: 50 });
      workers(ctr, { onBusy: protection.busy });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calls.length, 0, 'idle: nothing asked');
      const taskId = await start('long_job', { ms: 300 }, keys.bob);
      await until(
        () => calls.length,
        (n) => n >= 1,
        'protection asked for',
      );
      assert.deepEqual(calls[0], { method: 'PUT', url: '/v4/abc/task-protection/v1/state', body: { ProtectionEnabled: true, ExpiresInMinutes: 60 } });
      assert.equal((await settled(taskId, keys.bob)).status, 'completed');
      await until(
        () => calls.length,
        (n) => n >= 2,
        'protection cleared',
      );
      assert.deepEqual(calls[1]?.body, { ProtectionEnabled: false });

      // An agent that refuses (no permission) or fails: logged, and the run completes all the same.
      agent.answer = (res) => res.end(JSON.stringify({ failure: { Arn: 'arn:task', Reason: 'AccessDeniedException' } }));
      const refused = await start('long_job', { ms: 100 }, keys.bob);
      assert.equal((await settled(refused, keys.bob)).status, 'completed');
      await protection.settled();
      assert.ok(
        lines.some((l) => l.startsWith('ECS task protection was not set') && l.includes('AccessDeniedException')),
        lines.join('\n'),
      );
      await until(
        () => calls.length,
        (n) => n >= 4,
        'the refused protection cleared',
      );
      agent.answer = (res) => res.destroy();
      const dropped = await start('long_job', { ms: 100 }, keys.bob);
      assert.equal((await settled(dropped, keys.bob)).status, 'completed');
      await protection.settled();
      assert.ok(
        lines.some((l) => l.startsWith('ECS task protection was not set: the agent did not answer')),
        lines.join('\n'),
      );
      protection.stop();
    } finally {
      await agent.close();
    }
  });

  it('with a steady backlog a container takes no new run past its busy bound, so its protection clears; then it takes the rest', async () => {
    const agent = await ecsAgent();
    try {
      const bodies = () => agent.calls.map((c) => (c.body as { ProtectionEnabled: boolean }).ProtectionEnabled);
      const protection = ecsTaskProtection(agent.agentUri, quietLog(), { clearAfterMs: 50 });
      const ids: [string, string][] = [];
      workers(ctr, { concurrency: 1, onBusy: protection.busy, busyLimitMs: 300, restMs: 300 });
      for (const key of [keys.bob, keys.bob, keys.carol, keys.carol]) ids.push([await start('long_job', { ms: 200 }, key), key]);
      await until(bodies, (b) => b.includes(false), 'the protection cleared');
      const statuses = await Promise.all(ids.map(async ([taskId, key]) => (await rpc('tasks/get', { taskId }, key)).result!.status));
      assert.ok(statuses.includes('working'), `cleared while runs still wait: ${statuses}`);
      for (const [taskId, key] of ids) assert.equal((await settled(taskId, key)).status, 'completed');
      await until(bodies, (b) => b.length >= 4, 'protected again for the rest, then cleared');
      assert.deepEqual(bodies().slice(0, 4), [true, false, true, false]);
      protection.stop();
    } finally {
      await agent.close();
    }
  });

  it('runs that start and stop in quick succession cost one protect and one clear, the clear once idle for a while', async () => {
    const agent = await ecsAgent();
    try {
      const bodies = () => agent.calls.map((c) => (c.body as { ProtectionEnabled: boolean }).ProtectionEnabled);
      const protection = ecsTaskProtection(agent.agentUri, quietLog(), { clearAfterMs: 400 });
      for (let i = 0; i < 20; i++) {
        protection.busy(true);
        await protection.settled();
        protection.busy(false);
        // Idle for less than clearAfterMs between runs, as when the next run is taken at the next poll.
        await new Promise((r) => setTimeout(r, 5));
      }
      await protection.settled();
      assert.deepEqual(bodies(), [true], 'twenty busy/idle switches: protected once, nothing cleared yet');
      await until(bodies, (b) => b.length >= 2, 'the clear once idle');
      assert.deepEqual(bodies(), [true, false]);

      // Control: idle for longer than clearAfterMs between runs, each run protects and clears again.
      for (let i = 0; i < 2; i++) {
        protection.busy(true);
        protection.busy(false);
        await until(bodies, (b) => b.length >= 4 + 2 * i, 'a clear after each idle spell');
      }
      assert.deepEqual(bodies(), [true, false, true, false, true, false]);

      // Stopping sends a clear still waiting out its delay at once.
      protection.busy(true);
      protection.busy(false);
      protection.stop();
      await protection.settled();
      assert.deepEqual(bodies().slice(6), [true, false]);
    } finally {
      await agent.close();
    }
  });

  it('the runs of tools a container lacks that it remembers having logged are bounded: past the cap they are forgotten and logged again', () => {
    const lines: string[] = [];
    const takes = runnableHere(new Set(['long_job']), 'v2', quietLog(lines), () => {});
    const run = (n: number) => ({ pk: 'TASKQ#x', sk: `${n}`, tool: 'gone_tool', taskId: `t${n}`, run: 1, attempts: 0, released: 0, leaseUntil: 0 });
    const logged = () => lines.filter((l) => l.includes('this one has no such tool')).length;
    assert.equal(takes(run(0)), false);
    assert.equal(takes(run(0)), false);
    assert.equal(logged(), 1, 'one run read twice is logged once');
    for (let n = 1; n <= UNRUNNABLE_KEPT; n++) takes(run(n));
    assert.equal(logged(), UNRUNNABLE_KEPT + 1);
    takes(run(0));
    assert.equal(logged(), UNRUNNABLE_KEPT + 2, 'the cap was reached: run 0 was forgotten, so the set does not grow without bound');
    assert.equal(takes({ ...run(0), tool: 'long_job' }), true, 'control: a tool it has is taken');
  });
});

/** A stand-in for the ECS agent's task-protection endpoint on loopback: records each request, answers with `answer`. */
async function ecsAgent() {
  const calls: { method?: string; url?: string; body: unknown }[] = [];
  const agent = {
    calls,
    agentUri: '',
    answer: (res: import('node:http').ServerResponse): unknown => res.end(JSON.stringify({ protection: { ProtectionEnabled: true } })),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls.push({ method: req.method, url: req.url, body: JSON.parse(body || 'null') });
      agent.answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  agent.agentUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/abc`;
  return agent;
}
