// Tasks on the modelled deployed path: the request that creates a task ends at once, the task runs
// in a worker invocation of the same function in another execution environment and completes
// there after the creating request ended, and a cancel that arrives in a third environment stops
// the worker within a second. Once with Redis carrying the cancel, once with only the table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';

const TASKS = 'io.modelcontextprotocol/tasks';
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
  'io.modelcontextprotocol/clientInfo': { name: 'aws-tasks', version: '1' },
};

for (const relay of ['redis', 'table'] as const) {
  describe(`tasks across Lambda environments (relay: ${relay})`, () => {
    let path: AwsPath;
    before(async () => {
      path = await startAwsPath('test/fixtures/tasks.ts', { MCP_TASK_POLL_MS: '100' }, { concurrency: 6, redis: relay === 'redis', apiKey: { scopes: [] } });
    });
    after(() => path.stop());

    async function rpc(method: string, params: Record<string, unknown>) {
      const name = method === 'tools/call' ? String(params.name) : String(params.taskId);
      const res = await fetch(path.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...path.auth,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': method,
          'mcp-name': name,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }),
      });
      return ((await res.json()) as { result: Record<string, any> }).result;
    }
    async function until(taskId: string, done: (t: Record<string, any>) => boolean, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const task = await rpc('tasks/get', { taskId });
        if (done(task) || Date.now() > deadline) return task;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    /** The invocation that ran the task's worker: the one still going when the creating call returned. */
    const invocationsAfter = (at: number) => path.lambda.invocations.filter((i) => i.startedAt >= at);

    it('a task created in one environment completes in another, after the creating request ended', async () => {
      const began = Date.now();
      const created = await rpc('tools/call', { name: 'countdown', arguments: { ms: 1500 } });
      const answeredAt = Date.now();
      assert.equal(created.resultType, 'task');
      // Not a bound on wall-clock time (a cold environment on a loaded machine takes seconds): the
      // task was still working when the answer came, and the worker's run ends after it (below).
      assert.equal(created.status, 'working', 'the creating request did not wait for the work');
      const done = await until(created.taskId, (t) => t.status === 'completed');
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
      const created = await rpc('tools/call', { name: 'countdown', arguments: { ms: 60_000 } });
      await until(created.taskId, (t) => typeof t.statusMessage === 'string');
      const cancelledAt = Date.now();
      const ack = await rpc('tasks/cancel', { taskId: created.taskId });
      assert.equal(ack.resultType, 'complete');
      assert.equal((await rpc('tasks/get', { taskId: created.taskId })).status, 'cancelled');
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
  async function rpc(path: AwsPath, method: string, params: Record<string, unknown>) {
    const name = method === 'tools/call' ? String(params.name) : String(params.taskId);
    const res = await fetch(path.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...path.auth,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        'mcp-name': name,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }),
    });
    return ((await res.json()) as { result: Record<string, any> }).result;
  }
  async function until(path: AwsPath, taskId: string, done: (t: Record<string, any>) => boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await rpc(path, 'tasks/get', { taskId });
      if (done(task) || Date.now() > deadline) return task;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a worker event delivered twice runs the task once', async () => {
    const path = await startAwsPath(
      'test/fixtures/tasks.ts',
      { MCP_TASK_POLL_MS: '100' },
      { concurrency: 4, apiKey: { scopes: [] }, asyncQueue: { duplicateShare: 1 } },
    );
    try {
      const began = Date.now();
      const created = await rpc(path, 'tools/call', { name: 'countdown', arguments: { ms: 1500 } });
      const done = await until(path, created.taskId, (t) => t.status === 'completed');
      assert.match(done.result.content[0].text, /^counted down 1500 ms in task /);
      await waitFor(() => path.lambda.invocations.filter((i) => i.type === 'Event' && i.startedAt >= began).length === 2);
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
      const done = await until(path, created.taskId, (t) => t.status !== 'working');
      assert.equal(done.status, 'completed', JSON.stringify(done));
    } finally {
      await path.stop();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
