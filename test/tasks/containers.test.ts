// Long tasks on containers, with real emulators, a real redis-server and real HTTP servers: one
// kit instance plays the function (MCP_TASK_TIMEOUT_MS of 1 s, its modelled timeout; it queues
// container tasks and runs no worker), others play containers (kit.startTaskWorkers). A container
// task outlives the function's timeout and reads in both wire forms; it is cancelled from another
// instance than the one running it (also when the relayed cancel is lost); a worker that stops or dies mid-run loses it to another,
// which restarts it; too many lost runs fail it; another principal can neither read nor cancel
// it; a replayed claim takes nothing; and a task that is not a container task runs as before.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import type { Relay } from '../../shared/relay/relay.ts';
import { TaskQueue } from '../../shared/tasks/queue.ts';
import { TaskService, type TaskServiceOptions } from '../../shared/tasks/service.ts';
import { TaskStore, newTaskId } from '../../shared/tasks/store.ts';
import type { TaskWorkers } from '../../shared/tasks/workers.ts';
import { containerTasksServer, jobs } from '../fixtures/container-tasks.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const TASKS = 'io.modelcontextprotocol/tasks';
/** Short, so lost leases lapse quickly; at 2 s a loaded machine let renewals lapse (a second run, or dead-lettered). */
const LEASE_SECONDS = 3;
type Kit = Awaited<ReturnType<typeof startInProcess>>;
type Task = Record<string, any>;

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('long tasks on containers', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let redis: TestRedis;
  let fn: Kit;
  let ctrA: Kit;
  let ctrB: Kit;
  let alice: string;
  let bob: string;
  const kits: Kit[] = [];
  let running: TaskWorkers[] = [];

  const env = (extra: Record<string, string> = {}) => ({
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    ...redis.env,
    MCP_AUTH_MODE: 'apikey',
    MCP_TASK_POLL_MS: '100',
    MCP_TASK_TIMEOUT_MS: '1000',
    MCP_CONTAINER_TASKS: 'true',
    MCP_TASK_LEASE_SECONDS: String(LEASE_SECONDS),
    MCP_TASK_MAX_ATTEMPTS: '2',
    ...extra,
  });
  async function instance(label: string, extra?: Record<string, string>, options?: Parameters<typeof startInProcess>[2]) {
    const kit = await startInProcess(containerTasksServer(label), env(extra), options);
    kits.push(kit);
    return kit;
  }
  const workers = (kit: Kit, drainMs = 10_000) => {
    const started = kit.kit.startTaskWorkers({ pollMs: 100, drainMs });
    running.push(started);
    return started;
  };
  /** A container whose table calls all fail from `cut()` on: to the queue, it died. */
  async function mortal(label: string) {
    const client = await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint });
    let dead = false;
    const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.send = ((...args: unknown[]) =>
      dead ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkingError' })) : send(...args)) as typeof client.send;
    const kit = await instance(label, {}, { dynamo: client });
    return { kit, cut: () => (dead = true) };
  }

  before(async () => {
    [dynamo, s3, redis] = await Promise.all([startTestDynamo(), startTestS3(), startTestRedis()]);
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 1 });
    alice = (await keys.create({ principalId: 'alice', scopes: [] })).key;
    bob = (await keys.create({ principalId: 'bob', scopes: [] })).key;
    [fn, ctrA, ctrB] = await Promise.all([instance('function'), instance('ctrA'), instance('ctrB')]);
  });
  afterEach(async () => {
    await Promise.all(running.map((w) => w.stop()));
    running = [];
  });
  after(async () => {
    await Promise.all(kits.map((k) => k.stop()));
    await Promise.all([dynamo.stop(), s3.stop(), redis.dispose()]);
  });

  /** One 2026-07-28 request to `kit` as raw HTTP, declaring the tasks extension. */
  async function rpc(
    method: string,
    params: Record<string, unknown>,
    key = alice,
    kit = fn,
  ): Promise<{ result?: Task; error?: { code: number; message: string } }> {
    const name = method === 'tools/call' ? String(params.name) : String(params.taskId);
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
      'io.modelcontextprotocol/clientInfo': { name: 'containers-test', version: '1' },
    };
    const res = await fetch(kit.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${key}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        'mcp-name': name,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
    });
    const text = await res.text();
    return JSON.parse(res.headers.get('content-type')?.startsWith('text/event-stream') ? /^data: (.*)$/m.exec(text)![1]! : text);
  }
  const start = async (name: string, args: Record<string, unknown> = {}, kit = fn) => {
    const created = await rpc('tools/call', { name, arguments: args }, alice, kit);
    assert.equal(created.result?.resultType, 'task', JSON.stringify(created));
    return created.result!.taskId as string;
  };
  const get = async (taskId: string, kit = fn) => (await rpc('tasks/get', { taskId }, alice, kit)).result!;
  const settled = (taskId: string, timeoutMs?: number) =>
    until(
      () => get(taskId),
      (t) => t.status !== 'working',
      `task ${taskId} to finish`,
      timeoutMs,
    );
  const startedOn = (taskId: string, labels: string[]) =>
    until(
      () => jobs.starts.get(taskId) ?? [],
      (s) => s.length >= labels.length,
      `runs on ${labels.join(', ')}`,
    );
  /** The task's queued runs, straight from the table. */
  const queued = async (taskId: string) =>
    (
      await new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit').query('TASKQ#local#container-tasks')
    ).filter((i) => i.taskId?.S === taskId);

  it('a container task outlives the modelled function timeout on a container; its progress and result read in the 2026 form', async () => {
    workers(ctrA);
    const began = Date.now();
    const created = await rpc('tools/call', { name: 'long_job', arguments: { ms: 2500 } });
    // At once: with the task still working (not a wall-clock bound: a loaded machine took 2.8 s).
    assert.equal(created.result?.status, 'working', `the call answered with the task at once (after ${Date.now() - began} ms): ${JSON.stringify(created)}`);
    const taskId = created.result!.taskId as string;
    const working = await until(
      () => get(taskId),
      (t) => /ms on ctrA$/.test(t.statusMessage ?? ''),
      'progress from the container',
    );
    assert.equal(working.status, 'working');
    const done = await settled(taskId);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.result.content[0].text, 'ran 2500 ms on ctrA');
    assert.deepEqual(jobs.starts.get(taskId), ['ctrA'], 'one run, on the container, none on the function');
    // The worker removes the run once its end is recorded (and the task's slot freed).
    await until(
      () => queued(taskId),
      (q) => q.length === 0,
      'the queue to keep nothing of it',
    );
  });

  it('the same task through a 2025-11-25 session: tasks/result blocks until the container finishes; tasks/get and tasks/list show it', async () => {
    workers(ctrB);
    const client = new LegacyClient({ name: 'containers-legacy', version: '1' });
    await client.connect(new LegacyTransport(new URL(fn.url), { requestInit: { headers: { authorization: `Bearer ${alice}` } } }));
    try {
      let taskId = '';
      let result: { content: { text: string }[] } | undefined;
      for await (const message of client.experimental.tasks.callToolStream({ name: 'long_job', arguments: { ms: 1500 } }, CallToolResultSchema, {
        task: { ttl: 120_000 },
      })) {
        if (message.type === 'taskCreated') taskId = message.task.taskId;
        if (message.type === 'result') result = message.result as typeof result;
        if (message.type === 'error') assert.fail(String(message.error));
      }
      assert.equal(result?.content[0]?.text, 'ran 1500 ms on ctrB');
      const task = await client.experimental.tasks.getTask(taskId);
      assert.equal(task.status, 'completed');
      assert.equal(task.ttl, 120_000, 'the lifetime the client asked for');
      assert.equal(((await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)) as typeof result)!.content[0]!.text, 'ran 1500 ms on ctrB');
      assert.ok((await client.experimental.tasks.listTasks()).tasks.some((t) => t.taskId === taskId));
    } finally {
      await client.close();
    }
  });

  it('is cancelled from another instance than the container running it: the run sees its signal within a second', async () => {
    workers(ctrA);
    const taskId = await start('endless_job');
    await startedOn(taskId, ['ctrA']);
    const asked = Date.now();
    assert.deepEqual(
      Object.keys((await rpc('tasks/cancel', { taskId })).result!).filter((k) => k !== '_meta'),
      ['resultType'],
    );
    await until(
      () => jobs.aborted.get(taskId) ?? [],
      (a) => a.includes('ctrA'),
      'the container run to see the cancel',
      5000,
    );
    assert.ok(Date.now() - asked < 1500, `the run stopped ${Date.now() - asked} ms after the cancel`);
    assert.equal((await get(taskId, ctrB)).status, 'cancelled', 'read on a third instance');
    await until(
      () => queued(taskId),
      (q) => q.length === 0,
      'the queue to let go of the run',
    );
  });

  it('a cancel whose relayed message never arrives still stops the container run, at its next lease renewal', async () => {
    const deafRelay = { kind: 'redis', send: async () => {}, watch: () => ({ hurry() {}, stop() {} }) } as NonNullable<
      Parameters<typeof startInProcess>[2]
    >['relay'];
    const deaf = await instance('deaf', {}, { relay: deafRelay });
    workers(deaf);
    const taskId = await start('endless_job');
    await startedOn(taskId, ['deaf']);
    const asked = Date.now();
    await rpc('tasks/cancel', { taskId });
    await until(
      () => jobs.aborted.get(taskId) ?? [],
      (a) => a.includes('deaf'),
      'the deaf container to stop its run',
      5000,
    );
    assert.ok(Date.now() - asked <= (LEASE_SECONDS * 1000) / 3 + 1500, `stopped ${Date.now() - asked} ms after the cancel`);
    assert.equal((await get(taskId)).status, 'cancelled', 'and it stays cancelled');
    await until(
      () => queued(taskId),
      (q) => q.length === 0,
      'the queue to let go of the run',
      1000,
    );
  });

  it('a container stopping mid-run gives the run back at once; another container restarts it and it completes', async () => {
    const a = workers(ctrA, 0);
    const taskId = await start('long_job', { ms: 2000 });
    await startedOn(taskId, ['ctrA']);
    await a.stop();
    assert.deepEqual(jobs.aborted.get(taskId), ['ctrA'], 'the stopping container aborted its run');
    workers(ctrB);
    const done = await settled(taskId);
    assert.equal(done.result?.content[0].text, 'ran 2000 ms on ctrB', JSON.stringify(done));
    assert.deepEqual(jobs.starts.get(taskId), ['ctrA', 'ctrB']);
    assert.ok(!jobs.overlapped.has(taskId), 'never two runs at once');
  });

  it('a restarted run resumes from its checkpoint; a checkpoint over 64 KB is refused', async () => {
    const a = workers(ctrA, 0);
    const taskId = await start('resumable_job', { steps: 30 });
    await until(
      () => jobs.steps.get(taskId) ?? 0,
      (step) => step >= 5,
      'five steps on ctrA',
    );
    await a.stop();
    const savedBy = jobs.steps.get(taskId)!;
    workers(ctrB);
    const done = await settled(taskId);
    const [, from] = /^steps (\d+) to 30 on ctrB$/.exec(done.result?.content[0].text ?? '') ?? assert.fail(JSON.stringify(done));
    assert.ok(Number(from) === savedBy + 1 && savedBy >= 5, `ctrB went on from step ${from}, after ctrA's checkpoint of step ${savedBy}`);
    const tooBig = await settled(await start('resumable_job', { steps: 1, padding: 70_000 }));
    assert.equal(tooBig.result.isError, true);
    assert.match(tooBig.result.content[0].text, /a checkpoint holds at most 65536 bytes of JSON and this one is \d+; store large state as an artifact/);
  });

  it('an attempt that was taken over can neither save a checkpoint nor record an end: the fence is the attempt on the record', async () => {
    const store = new TaskStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      ttlMs: 60_000,
      pollIntervalMs: 100,
      inlineResultBytes: 300_000,
    });
    const saved: string[] = [];
    const service = new TaskService({
      store,
      relay: { kind: 'table', send: async () => {}, watch: () => ({ hurry() {}, stop() {} }) } as Relay,
      artifacts: {} as TaskServiceOptions['artifacts'],
      log: { debug() {}, info() {}, warn() {}, error() {}, audit() {} } as unknown as TaskServiceOptions['log'],
      execute: async ({ checkpoint }) => {
        await checkpoint({ step: 1 }).then(
          () => saved.push('saved'),
          (error: Error) => saved.push(error.message),
        );
        return { kind: 'result', result: { content: [] } };
      },
      staleAfterMs: 60_000,
      maxTtlMs: 60_000,
      stage: 'test',
      server: 'fence-test',
      metrics: false,
    });
    const id = newTaskId();
    await store.create({ id, principalId: 'p', wire: '2026', request: { tool: 'resumable_job', arguments: {}, scopes: [] }, queued: true });
    const first = (await service.startLeased(id, 1, 1))!;
    const second = (await service.startLeased(id, 1, 2))!;
    await service.execute(first, AbortSignal.abort(new Error('given up')));
    await service.execute({ ...first, version: second.version }, new AbortController().signal);
    assert.match(saved[0]!, /given up|aborted/, 'a run given up here saves nothing');
    assert.equal(saved[1], 'the checkpoint was not saved: this run no longer holds the task (cancelled, finished, or restarted elsewhere)');
    assert.equal((await store.load(id))?.status, 'working', 'nor can it record its end: the task waits for the attempt that holds it');
    await service.execute(second, new AbortController().signal);
    assert.equal(saved[2], 'saved', 'control: the attempt that holds the run saves');
  });

  it('a run given up does not write its waiting progress over the progress of the attempt now running it', async () => {
    const table = new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
    const store = new TaskStore(table, { ttlMs: 60_000, pollIntervalMs: 100, inlineResultBytes: 300_000 });
    const id = newTaskId();
    const progressItem = async () => (await table.query(`TASK#${id}`)).find((i) => i.sk?.S === 'PROGRESS')?.statusMessage?.S;
    const service = new TaskService({
      store,
      relay: { kind: 'table', send: async () => {}, watch: () => ({ hurry() {}, stop() {} }) } as Relay,
      artifacts: {} as TaskServiceOptions['artifacts'],
      log: { debug() {}, info() {}, warn() {}, error() {}, audit() {} } as unknown as TaskServiceOptions['log'],
      // The first attempt ignores its abort: it reports twice (the second waits behind the interval), then the second attempt reports.
      execute: async ({ report }) => {
        report('attempt 1 first');
        await until(progressItem, (m) => m === 'attempt 1 first', 'the first report written');
        report('attempt 1 waiting');
        await store.reportProgress({ id, run: 1, attempt: 2, expiresAtMs: Date.now() + 60_000 }, 'attempt 2 progress');
        return { kind: 'result', result: { content: [] } };
      },
      reportEveryMs: 60_000,
      staleAfterMs: 60_000,
      maxTtlMs: 60_000,
      stage: 'test',
      server: 'progress-fence-test',
      metrics: false,
    });
    await store.create({ id, principalId: 'p', wire: '2026', request: { tool: 'long_job', arguments: {}, scopes: [] }, queued: true });
    const first = (await service.startLeased(id, 1, 1))!;
    await service.startLeased(id, 1, 2);
    await service.execute(first, AbortSignal.abort(new Error('given up')));
    assert.equal(await progressItem(), 'attempt 2 progress', 'the given-up attempt left the PROGRESS item to the attempt running it');
    assert.equal((await store.load(id))?.statusMessage, 'attempt 2 progress');
  });

  it('a container that dies mid-run loses its lease; another container restarts the run, never while the first still runs it', async () => {
    const doomed = await mortal('doomed');
    workers(doomed.kit);
    // Longer than the lease: the cut-off run must be given up, not finish before its lease lapses.
    const ms = LEASE_SECONDS * 1000;
    const taskId = await start('long_job', { ms });
    await startedOn(taskId, ['doomed']);
    doomed.cut();
    workers(ctrB);
    const done = await settled(taskId, 30_000);
    assert.equal(done.result?.content[0].text, `ran ${ms} ms on ctrB`, JSON.stringify(done));
    assert.deepEqual(jobs.starts.get(taskId), ['doomed', 'ctrB']);
    assert.deepEqual(jobs.aborted.get(taskId), ['doomed'], 'the cut-off container gave up its run once its lease ran out');
    assert.ok(!jobs.overlapped.has(taskId), 'never two runs at once');
  });

  it('after MCP_TASK_MAX_ATTEMPTS lost runs the task fails with an error that says why (dead letter)', async () => {
    const first = await mortal('doomed-1');
    workers(first.kit);
    const taskId = await start('endless_job');
    await startedOn(taskId, ['doomed-1']);
    first.cut();
    const second = await mortal('doomed-2');
    workers(second.kit);
    await startedOn(taskId, ['doomed-1', 'doomed-2']);
    second.cut();
    workers(ctrA);
    const failed = await settled(taskId, 30_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error.message, /stopped 2 times without finishing \(its container was replaced or crashed\); it is not restarted again/);
    assert.deepEqual(jobs.starts.get(taskId), ['doomed-1', 'doomed-2'], 'the third claim ran nothing');
    await until(
      () => queued(taskId),
      (q) => q.length === 0,
      'the dead-lettered run to leave the queue',
    );
  });

  it('another principal can neither read nor cancel a queued task; it waits for a container and completes for its owner', async () => {
    const taskId = await start('long_job', { ms: 100 });
    const unknownId = 'AAAAAAAAAAAAAAAAAAAAAA';
    for (const method of ['tasks/get', 'tasks/cancel']) {
      const foreign = await rpc(method, { taskId }, bob);
      const unknown = await rpc(method, { taskId: unknownId }, bob);
      assert.equal(foreign.error?.code, -32602, method);
      assert.equal(foreign.error?.message.replace(taskId, 'ID'), unknown.error?.message.replace(unknownId, 'ID'), method);
    }
    assert.equal((await get(taskId)).status, 'working', 'queued, untouched');
    assert.equal((await queued(taskId)).length, 1);
    workers(ctrB);
    assert.equal((await settled(taskId)).result?.content[0].text, 'ran 100 ms on ctrB');
  });

  it('a replayed claim takes nothing: one read claimed twice at once wins once, and once the lease lapses the stale claim is refused', async () => {
    const queue = new TaskQueue(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      server: 'replay-test',
      stage: 'local',
      version: '1',
      leaseMs: 300,
    });
    await queue.enqueue('ReplayReplayReplayRepl', 1, Date.now() + 60_000, 'long_job');
    const [read] = await queue.waiting(5);
    const claimedFrom = Date.now();
    const claims = await Promise.all([queue.claim(read!, 'w1'), queue.claim(read!, 'w2'), queue.claim(read!, 'w3')]);
    const won = claims.filter((c) => c !== undefined);
    assert.equal(won.length, 1, 'exactly one of three identical claims');
    // Seen as a poll at the claim would see it: on a loaded machine the 300 ms lease may lapse by now.
    assert.deepEqual(await queue.waiting(5, undefined, claimedFrom), [], 'held: no other worker sees it');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await queue.claim(read!, 'w2'), undefined, 'the old read replayed after the lease lapsed');
    const [again] = await queue.waiting(5);
    const second = await queue.claim(again!, 'w2');
    assert.equal(second?.attempt, 2, 'a fresh read after the lapse restarts it, counted');
    assert.equal(await queue.renew(won[0]!), false, "the first holder's renewal is refused");
    await queue.remove(won[0]!);
    assert.equal((await queue.waiting(5, undefined, Date.now() + 1000)).length, 1, 'nor can it remove the run from under the new holder');
    await queue.remove(second!);
    assert.deepEqual(await queue.waiting(5, undefined, Date.now() + 1000), []);
  });

  it('a released run is taken again under a new attempt number (the fence tells the runs apart), and the release counts no lost attempt', async () => {
    const queue = new TaskQueue(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      server: 'release-test',
      stage: 'local',
      version: '1',
      leaseMs: 300,
    });
    await queue.enqueue('ReleaseReleaseReleaseR', 1, Date.now() + 60_000, 'long_job');
    const [read] = await queue.waiting(5);
    const first = (await queue.claim(read!, 'w1'))!;
    assert.equal(await queue.release(first), true);
    assert.equal(await queue.claim(read!, 'w1'), undefined, 'the read from before the release replayed takes nothing');
    const second = (await queue.claim((await queue.waiting(5))[0]!, 'w2'))!;
    assert.deepEqual([first.attempt, second.attempt], [1, 2], 'never the same attempt twice');
    assert.deepEqual([first.lost, second.lost], [0, 0], 'the release is not a lost attempt');
    await new Promise((r) => setTimeout(r, 350));
    const third = (await queue.claim((await queue.waiting(5))[0]!, 'w3'))!;
    assert.deepEqual([third.attempt, third.lost], [3, 1], 'a lapsed lease is');
    await queue.remove(third);
  });

  it('control: an ordinary task still runs on the function, within its timeout; without MCP_CONTAINER_TASKS a container task runs in-process', async () => {
    workers(ctrA);
    const short = await settled(await start('plain_job', { ms: 100 }));
    assert.equal(short.result.content[0].text, 'ran 100 ms on function');
    const long = await start('plain_job', { ms: 2500 });
    const timedOut = await settled(long);
    assert.equal(timedOut.result.isError, true);
    assert.match(timedOut.result.content[0].text, /did not finish within 1000 ms/, 'the modelled function timeout bounds it');
    assert.deepEqual(jobs.starts.get(long), ['function']);
    assert.deepEqual(await queued(long), []);
    const plain = await instance('local', { MCP_CONTAINER_TASKS: 'false' });
    const local = await start('long_job', { ms: 100 }, plain);
    assert.equal(
      (
        await until(
          () => get(local, plain),
          (t) => t.status !== 'working',
          'the in-process run',
        )
      ).result.content[0].text,
      'ran 100 ms on local',
    );
  });

  it('defineServer refuses a task option it cannot run, saying what to write', () => {
    const define = (task: unknown) => defineServer({ name: 's', version: '1', tools: [tool('t', { description: 'd', task: task as never }, () => 'x')] });
    assert.throws(() => define('sometimes'), /tool "t" task must be 'optional', 'required' or \{ mode, runtime \}, not "sometimes"/);
    assert.throws(() => define({ mode: 'always' }), /task.mode must be 'optional' or 'required', not "always"/);
    assert.throws(() => define({ mode: 'optional', runtime: 'fargate' }), /task.runtime must be 'function' or 'container', not "fargate"/);
    assert.throws(() => define({ mode: 'optional', maxHours: 3 }), /task takes only mode and runtime, not maxHours/);
    assert.doesNotThrow(() => define({ mode: 'required', runtime: 'container' }));
    assert.doesNotThrow(() => define('optional'));
  });
});
