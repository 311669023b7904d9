// Tasks on the modelled deployed path: the request that creates a task ends at once, the task runs
// in a worker invocation of the same function in another execution environment and completes
// there after the creating request ended, and a cancel that arrives in a third environment stops
// the worker within a second. Once with Redis carrying the cancel, once with only the table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { rpc as taskRpc } from '../helpers/gateway-tasks.ts';
import { waitFor } from '../helpers/wait.ts';

/** A 2026-07-28 request declaring the tasks extension, with the path's API key: its result. */
const rpc = async (path: AwsPath, method: string, params: Record<string, unknown>) => (await taskRpc(path.url, path.auth, method, params)).result!;

/** Gets the task until `done` holds of it or `timeoutMs` has passed, and gives it as it last read. */
async function until(path: AwsPath, taskId: string, done: (t: Record<string, any>) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await rpc(path, 'tasks/get', { taskId });
    if (done(task) || Date.now() > deadline) return task;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const relay of ['redis', 'table'] as const) {
  describe(`tasks across Lambda environments (relay: ${relay})`, () => {
    let path: AwsPath;
    before(async () => {
      path = await startAwsPath('test/fixtures/tasks.ts', { MCP_TASK_POLL_MS: '100' }, { concurrency: 6, redis: relay === 'redis', apiKey: { scopes: [] } });
    });
    after(() => path.stop());

    /** The invocation that ran the task's worker: the one still going when the creating call returned. */
    const invocationsAfter = (at: number) => path.lambda.invocations.filter((i) => i.startedAt >= at);

    it('a task created in one environment completes in another, after the creating request ended', async () => {
      const began = Date.now();
      const created = await rpc(path, 'tools/call', { name: 'countdown', arguments: { ms: 1500 } });
      const answeredAt = Date.now();
      assert.equal(created.resultType, 'task');
      // Not a bound on wall-clock time (a cold environment on a loaded machine takes seconds): the
      // task was still working when the answer came, and the worker's run ends after it (below).
      assert.equal(created.status, 'working', 'the creating request did not wait for the work');
      const done = await until(path, created.taskId, (t) => t.status === 'completed', 15_000);
      assert.match(done.result.content[0].text, /^counted down 1500 ms in task /);
      // The worker's invocation is recorded when it ends, which can be just after the task completed.
      const deadline = Date.now() + 5000;
      while (!invocationsAfter(began).some((i) => i.type === 'Event') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const mine = invocationsAfter(began);
      // The creating call is the first request since `began` (its invocation may outlast its answer).
      const creating = mine.filter((i) => i.type === 'RequestResponse').sort((a, b) => a.startedAt - b.startedAt)[0];
      // The queue may deliver an event twice; the run that did the work is the longest.
      const worker = mine.filter((i) => i.type === 'Event').sort((a, b) => b.durationMs - a.durationMs)[0];
      assert.ok(creating && worker, `invocations: ${JSON.stringify(mine)}`);
      assert.notEqual(worker.environment, creating.environment, 'the worker ran in another environment');
      assert.ok(worker.durationMs >= 1400, 'the worker did the work');
      assert.ok(worker.endedAt > answeredAt, `and outlived the creating request (ended ${worker.endedAt - answeredAt} ms after its answer)`);
    });

    it('a cancel arriving in a third environment stops the worker within a second', async () => {
      const created = await rpc(path, 'tools/call', { name: 'countdown', arguments: { ms: 60_000 } });
      await until(path, created.taskId, (t) => typeof t.statusMessage === 'string', 15_000);
      const cancelledAt = Date.now();
      const ack = await rpc(path, 'tasks/cancel', { taskId: created.taskId });
      assert.equal(ack.resultType, 'complete');
      assert.equal((await rpc(path, 'tasks/get', { taskId: created.taskId })).status, 'cancelled');
      // The worker's invocation (the asynchronous one) ends soon after: the handler saw ctx.signal abort.
      const deadline = Date.now() + 5000;
      let worker;
      // The environment whose run did the counting (the queue may deliver the event twice).
      const counting = Number(/^\[env (\d+)\]/.exec(await path.waitForLog(new RegExp(`countdown run in task ${created.taskId}$`)))![1]);
      while (
        !(worker = path.lambda.invocations.find(
          (i) => i.type === 'Event' && i.environment === counting && i.startedAt < cancelledAt && i.endedAt > cancelledAt,
        )) &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(worker, `the worker invocation ended: ${JSON.stringify(path.lambda.invocations.slice(-8))}`);
      assert.ok(worker.endedAt - cancelledAt < 1500, `the worker ended ${worker.endedAt - cancelledAt} ms after the cancel`);
      assert.ok(path.lambda.invocations.filter((i) => i.startedAt >= cancelledAt - 10).length >= 1, 'the cancel was its own invocation');
    });
  });
}

describe('tasks on the asynchronous queue as AWS runs it', () => {
  it('a worker event delivered twice runs the task once', async () => {
    const path = await startAwsPath(
      'test/fixtures/tasks.ts',
      { MCP_TASK_POLL_MS: '100' },
      { concurrency: 4, apiKey: { scopes: [] }, asyncQueue: { duplicateShare: 1 } },
    );
    try {
      const began = Date.now();
      const created = await rpc(path, 'tools/call', { name: 'countdown', arguments: { ms: 1500 } });
      const done = await until(path, created.taskId, (t) => t.status === 'completed', 30_000);
      assert.match(done.result.content[0].text, /^counted down 1500 ms in task /);
      await waitFor(
        'both deliveries of the worker event',
        () => path.lambda.invocations.filter((i) => i.type === 'Event' && i.startedAt >= began).length === 2,
      );
      assert.equal(path.invokeApi.duplicated, 1, 'the queue delivered the event twice');
      const ran = path.logs().filter((l) => l.endsWith(`countdown run in task ${created.taskId}`));
      assert.equal(ran.length, 1, `one delivery did the work, the other found it claimed:\n${ran.join('\n')}`);
    } finally {
      await path.stop();
    }
  });

  it('a task whose event waits in the queue longer than the stale timeout still runs, and reads as working meanwhile', { timeout: 60_000 }, async () => {
    // Throttled four times on AWS's own clock: the event waits 1 + 2 + 4 + 8 = 15 s to start.
    const path = await startAwsPath(
      'test/fixtures/tasks.ts',
      { MCP_TASK_POLL_MS: '100', MCP_TASK_STALE_SECONDS: '10' },
      { concurrency: 4, apiKey: { scopes: [] }, asyncQueue: { timeScale: 1, throttledAttempts: 4, duplicateShare: 0 } },
    );
    try {
      const created = await rpc(path, 'tools/call', { name: 'countdown', arguments: { ms: 200 } });
      assert.equal(created.resultType, 'task');
      await path.waitForLog(/throttled \(4\)/, 15_000);
      const waiting = await rpc(path, 'tasks/get', { taskId: created.taskId });
      assert.equal(waiting.status, 'working', `its event still queued: ${JSON.stringify(waiting)}`);
      const done = await until(path, created.taskId, (t) => t.status !== 'working', 30_000);
      assert.equal(done.status, 'completed', JSON.stringify(done));
    } finally {
      await path.stop();
    }
  });
});
