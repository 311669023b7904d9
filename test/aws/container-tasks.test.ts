// Long tasks on the modelled deployed path: the function (modelled Lambda environments, a 12 s
// timeout) queues a container task, a container (a kit in this process running
// startTaskWorkers, on the same table and Redis) runs it for longer than the function could,
// and the result reads through CloudFront and API Gateway in both wire forms; a cancel that
// arrives in a Lambda environment stops the container's run. No worker invocation is made. The
// second suite does the same with the container model's own task process doing the work.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import fixture, { runs } from '../fixtures/tasks.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { rpc } from '../helpers/gateway-tasks.ts';
import { startInProcess } from '../helpers/server.ts';
import type { TaskWorkers } from '../../shared/tasks/workers.ts';

const FUNCTION_TIMEOUT_SECONDS = 12;
const SHARED = {
  // The construct's stage, on the function and the containers alike: the queue's partition names it.
  MCP_STAGE: 'dev',
  MCP_CONTAINER_TASKS: 'true',
  MCP_TASK_LEASE_SECONDS: '3',
  MCP_TASK_POLL_MS: '200',
  MCP_REQUEST_STATE_KEY: 'aws-path-test-request-state-key-0123456789',
};

/** A 2026-07-28 request through the path's CloudFront, declaring the tasks extension; its result. */
const call = async (path: AwsPath, method: string, params: Record<string, unknown>) => (await rpc(path.url, path.auth, method, params)).result!;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('long tasks on containers, on the modelled deployed path', () => {
  let path: AwsPath;
  let container: Awaited<ReturnType<typeof startInProcess>>;
  let workers: TaskWorkers;

  before(async () => {
    path = await startAwsPath('test/fixtures/tasks.ts', SHARED, {
      timeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
      concurrency: 4,
      redis: true,
      apiKey: { scopes: [] },
    });
    container = await startInProcess(fixture, { ...SHARED, AWS_ENDPOINT_URL_DYNAMODB: path.dynamoEndpoint, ...path.redis!.env, MCP_AUTH_MODE: 'apikey' });
    workers = container.kit.startTaskWorkers({ pollMs: 200 });
  });
  after(async () => {
    await workers.stop();
    await container.stop();
    await path.stop();
  });

  const rpc = (method: string, params: Record<string, unknown>) => call(path, method, params);

  it('a task longer than the function timeout completes on the container; both wire forms read it through the modelled path', async () => {
    const ms = (FUNCTION_TIMEOUT_SECONDS + 2) * 1000;
    const began = Date.now();
    const legacy = new LegacyClient({ name: 'aws-container-tasks-legacy', version: '1' });
    await legacy.connect(new LegacyTransport(new URL(path.url), { requestInit: { headers: path.auth } }));
    try {
      // Both at once: one wait for the two forms.
      const [modern, old] = await Promise.all([
        rpc('tools/call', { name: 'long_countdown', arguments: { ms } }),
        legacy.request({ method: 'tools/call', params: { name: 'long_countdown', arguments: { ms }, task: { ttl: 120_000 } } }, CreateTaskResultSchema),
      ]);
      assert.equal(modern.resultType, 'task');
      assert.ok(Date.now() - began < 5000, 'the calls answered with their tasks at once');
      const done = await until(
        () => rpc('tasks/get', { taskId: modern.taskId }),
        (t) => t.status !== 'working',
      );
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.result.content[0].text, `counted down ${ms} ms in task ${modern.taskId}`);
      const oldTask = await until(
        () => legacy.experimental.tasks.getTask(old.task.taskId),
        (t) => t.status !== 'working',
      );
      assert.equal(oldTask.status, 'completed');
      const result = (await legacy.experimental.tasks.getTaskResult(old.task.taskId, CallToolResultSchema)) as { content: { text: string }[] };
      assert.equal(result.content[0]!.text, `counted down ${ms} ms in task ${old.task.taskId}`);
      assert.ok(Date.now() - began > FUNCTION_TIMEOUT_SECONDS * 1000, 'they ran longer than any invocation may');
      const events = path.lambda.invocations.filter((i) => i.type === 'Event' && i.startedAt >= began);
      assert.deepEqual(events, [], 'no Lambda worker invocation: the container ran them');
    } finally {
      await legacy.close();
    }
  });

  it('a cancel arriving in a Lambda environment stops the run on the container', async () => {
    const created = await rpc('tools/call', { name: 'long_countdown', arguments: { ms: 120_000 } });
    await until(
      () => rpc('tasks/get', { taskId: created.taskId }),
      (t) => typeof t.statusMessage === 'string',
      15_000,
    );
    const asked = Date.now();
    assert.equal((await rpc('tasks/cancel', { taskId: created.taskId })).resultType, 'complete');
    const deadline = Date.now() + 5000;
    while (!runs.aborted.some((at) => at >= asked) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const abortedAt = runs.aborted.find((at) => at >= asked);
    assert.ok(
      abortedAt !== undefined && abortedAt - asked < 1500,
      `the container's run saw the cancel after ${abortedAt === undefined ? 'never' : abortedAt - asked} ms`,
    );
    assert.equal((await rpc('tasks/get', { taskId: created.taskId })).status, 'cancelled');
  });
});

// As `MCP_AWS_CONTAINERS=true MCP_CONTAINER_TASKS=true npm run start:aws` runs it: the container
// model's own task (the container bundle, runContainer's workers) takes the run, not a test's.
describe('long tasks on the container model (MCP_AWS_CONTAINERS=true, MCP_CONTAINER_TASKS=true)', () => {
  let path: AwsPath;
  const rpc = (method: string, params: Record<string, unknown>) => call(path, method, params);

  before(async () => {
    path = await startAwsPath('test/fixtures/tasks.ts', SHARED, {
      timeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
      concurrency: 4,
      redis: true,
      apiKey: { scopes: [] },
      containers: { tasks: 1 },
    });
  });
  after(async () => {
    await path.stop();
  });

  it('the container task runs it past the function timeout; both wire forms read the result', async () => {
    const ms = (FUNCTION_TIMEOUT_SECONDS + 2) * 1000;
    const began = Date.now();
    const legacy = new LegacyClient({ name: 'aws-container-model-legacy', version: '1' });
    await legacy.connect(new LegacyTransport(new URL(path.url), { requestInit: { headers: path.auth } }));
    try {
      const [modern, old] = await Promise.all([
        rpc('tools/call', { name: 'long_countdown', arguments: { ms } }),
        legacy.request({ method: 'tools/call', params: { name: 'long_countdown', arguments: { ms }, task: { ttl: 120_000 } } }, CreateTaskResultSchema),
      ]);
      assert.equal(modern.resultType, 'task', JSON.stringify(modern));
      for (const id of [modern.taskId, old.task.taskId]) {
        assert.match(await path.waitForLog(new RegExp(`countdown run in task ${id}$`), 15_000), /^\[task \d+\]/, 'a container task ran it');
      }
      const done = await until(
        () => rpc('tasks/get', { taskId: modern.taskId }),
        (t) => t.status !== 'working',
        60_000,
      );
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.result.content[0].text, `counted down ${ms} ms in task ${modern.taskId}`);
      const oldTask = await until(
        () => legacy.experimental.tasks.getTask(old.task.taskId),
        (t) => t.status !== 'working',
        30_000,
      );
      assert.equal(oldTask.status, 'completed');
      const result = (await legacy.experimental.tasks.getTaskResult(old.task.taskId, CallToolResultSchema)) as { content: { text: string }[] };
      assert.equal(result.content[0]!.text, `counted down ${ms} ms in task ${old.task.taskId}`);
      assert.ok(Date.now() - began > FUNCTION_TIMEOUT_SECONDS * 1000, 'they ran longer than any invocation may');
      assert.deepEqual(
        path.lambda.invocations.filter((i) => i.type === 'Event' && i.startedAt >= began),
        [],
        'no Lambda worker invocation',
      );
      assert.deepEqual(
        path.logs().filter((l) => /^\[env \d+\].*countdown run/.test(l)),
        [],
        'no Lambda environment ran a countdown',
      );
    } finally {
      await legacy.close();
    }
  });

  it("a cancel arriving in a Lambda environment stops the container task's run", async () => {
    const created = await rpc('tools/call', { name: 'long_countdown', arguments: { ms: 120_000 } });
    await path.waitForLog(new RegExp(`^\\[task \\d+\\] countdown run in task ${created.taskId}$`), 15_000);
    const asked = Date.now();
    assert.equal((await rpc('tasks/cancel', { taskId: created.taskId })).resultType, 'complete');
    await path.waitForLog(new RegExp(`^\\[task \\d+\\] countdown stopped in task ${created.taskId}$`), 5_000);
    assert.ok(Date.now() - asked < 2_000, `the container's run saw the cancel after ${Date.now() - asked} ms`);
    assert.equal((await rpc('tasks/get', { taskId: created.taskId })).status, 'cancelled');
  });
});
