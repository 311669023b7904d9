// Tasks on a Node server with real emulators: the 2026-07-28 extension over raw HTTP (creation,
// polling, progress, input mid-run, cancel, results too large for the record, protocol errors)
// and the 2025-11-25 utility through the SDK 1.x client's own task API. Tasks are bound to their
// creator, every bad input gets the spec's answer and changes nothing, a duplicate worker delivery
// runs nothing twice, and a task whose worker died reads as failed.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import fixture, { runs } from '../fixtures/tasks.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const TASKS = 'io.modelcontextprotocol/tasks';
type Answer = { status: number; body: { result?: Record<string, any>; error?: { code: number; message: string; data?: unknown } } };

describe('tasks', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let alice: string;
  let bob: string;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    server = await startInProcess(fixture, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_TASK_POLL_MS: '100',
    });
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 1 });
    alice = (await keys.create({ principalId: 'alice', scopes: [] })).key;
    bob = (await keys.create({ principalId: 'bob', scopes: [] })).key;
  });
  after(async () => {
    await server.stop();
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  /** One 2026-07-28 request, as raw HTTP; `tasks` says whether the client declares the extension. */
  async function rpc(method: string, params: Record<string, unknown>, key = alice, tasks = true): Promise<Answer> {
    const name = method === 'tools/call' ? String(params.name) : typeof params.taskId === 'string' ? params.taskId : undefined;
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {}, ...(tasks && { extensions: { [TASKS]: {} } }) },
      'io.modelcontextprotocol/clientInfo': { name: 'tasks-test', version: '1' },
    };
    const res = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${key}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(name && { 'mcp-name': name }),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: { ...meta, ...(params._meta as object) } } }),
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.startsWith('text/event-stream') ? /^data: (.*)$/m.exec(text)![1]! : text;
    return { status: res.status, body: JSON.parse(json) };
  }

  const get = (taskId: string, key = alice) => rpc('tasks/get', { taskId }, key);
  /** An ack's result: `resultType: "complete"` and nothing of a task (the SDK adds serverInfo `_meta`). */
  const ack = (answer: Answer) => {
    const { _meta, ...rest } = answer.body.result ?? {};
    return rest;
  };
  async function until(taskId: string, done: (task: Record<string, any>) => boolean, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = (await get(taskId)).body.result!;
      if (done(task) || Date.now() > deadline) return task;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const start = async (name: string, args: Record<string, unknown> = {}) => {
    const created = await rpc('tools/call', { name, arguments: args });
    assert.equal(created.body.result?.resultType, 'task', JSON.stringify(created.body));
    return created.body.result!.taskId as string;
  };

  it('a call becomes a task at once; polling shows its progress, then its result inline', async () => {
    const began = Date.now();
    const created = await rpc('tools/call', { name: 'countdown', arguments: { ms: 600 } });
    const task = created.body.result!;
    assert.equal(task.resultType, 'task');
    // Not a wall-clock bound (a loaded machine took 966 ms to answer): the task was still working.
    assert.equal(task.status, 'working', `the request did not wait for the work (it answered after ${Date.now() - began} ms)`);
    assert.match(task.taskId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(task.ttlMs, 3_600_000);
    assert.equal(task.pollIntervalMs, 100);
    assert.match(task.createdAt, /^\d{4}-\d{2}-\d{2}T/);
    const working = await until(task.taskId, (t) => typeof t.statusMessage === 'string' && / s of 0\.6 s$/.test(t.statusMessage));
    assert.match(working.statusMessage, / s of 0\.6 s$/, 'progress reached the record');
    const done = await until(task.taskId, (t) => t.status === 'completed');
    assert.equal(done.status, 'completed');
    assert.equal(done.resultType, 'complete');
    assert.equal(done.result.content[0].text, `counted down 600 ms in task ${task.taskId}`);
  });

  it('the same tool runs directly for a client that takes no tasks', async () => {
    const direct = await rpc('tools/call', { name: 'countdown', arguments: { ms: 30 } }, alice, false);
    assert.equal(direct.body.result?.resultType, 'complete');
    assert.equal(direct.body.result!.content[0].text, 'counted down 30 ms in task none');
  });

  it('a task-only tool refuses a client without tasks: 400, -32021, and the capability to declare', async () => {
    const refused = await rpc('tools/call', { name: 'only_task', arguments: {} }, alice, false);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error?.code, -32021);
    assert.deepEqual(refused.body.error?.data, { requiredCapabilities: { extensions: { [TASKS]: {} } } });
    assert.equal((await rpc('tools/call', { name: 'only_task', arguments: {} })).body.result?.resultType, 'task', 'control: with the extension it runs');
  });

  it('task methods from a client that did not declare the extension get -32021 before anything else', async () => {
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const answer = await rpc(method, { taskId: 'no-such-task-id-0000000' }, alice, false);
      assert.equal(answer.body.error?.code, -32021, method);
    }
  });

  it("another caller's task answers exactly like an unknown one", async () => {
    const taskId = await start('countdown', { ms: 50 });
    const unknownId = 'AAAAAAAAAAAAAAAAAAAAAA';
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const foreign = await rpc(method, { taskId }, bob);
      const unknown = await rpc(method, { taskId: unknownId }, bob);
      assert.equal(foreign.body.error?.code, -32602, method);
      assert.deepEqual(
        { ...foreign, body: JSON.stringify(foreign.body).replaceAll(taskId, 'ID') },
        { ...unknown, body: JSON.stringify(unknown.body).replaceAll(unknownId, 'ID') },
        method,
      );
    }
    assert.equal((await until(taskId, (t) => t.status === 'completed')).status, 'completed', 'and it ran on, untouched');
  });

  it('cancel stops the run within a second; cancelling again, or a finished task, acks and changes nothing', async () => {
    const taskId = await start('countdown', { ms: 20_000 });
    await until(taskId, (t) => t.statusMessage !== undefined);
    const asked = Date.now();
    assert.deepEqual(ack(await rpc('tasks/cancel', { taskId })), { resultType: 'complete' });
    const cancelled = (await get(taskId)).body.result!;
    assert.equal(cancelled.status, 'cancelled');
    const deadline = Date.now() + 2000;
    while (!runs.aborted.some((at) => at >= asked) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const abortedAt = runs.aborted.find((at) => at >= asked);
    assert.ok(abortedAt !== undefined && abortedAt - asked < 1000, `the handler saw the abort after ${abortedAt! - asked} ms`);
    assert.deepEqual(ack(await rpc('tasks/cancel', { taskId })), { resultType: 'complete' });
    assert.equal((await get(taskId)).body.result!.status, 'cancelled', 'still cancelled');
    const finished = await start('countdown', { ms: 10 });
    await until(finished, (t) => t.status === 'completed');
    assert.deepEqual(ack(await rpc('tasks/cancel', { taskId: finished })), { resultType: 'complete' });
    assert.equal((await get(finished)).body.result!.status, 'completed', 'a finished task stays as it is');
  });

  it('asks for input mid-run; a stray answer and an update while not waiting change nothing; the answer resumes it', async () => {
    const taskId = await start('needs_ok');
    const waiting = await until(taskId, (t) => t.status === 'input_required');
    assert.equal(waiting.status, 'input_required');
    const [key, request] = Object.entries(waiting.inputRequests as Record<string, { method: string; params: { message: string } }>)[0]!;
    assert.equal(request.method, 'elicitation/create');
    assert.equal(request.params.message, 'OK to go on?');
    assert.deepEqual(ack(await rpc('tasks/update', { taskId, inputResponses: { 'not-asked': { action: 'accept', content: { ok: true } } } })), {
      resultType: 'complete',
    });
    assert.equal((await get(taskId)).body.result!.status, 'input_required', 'a key that was not asked is ignored');
    await rpc('tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { ok: true } } } });
    const done = await until(taskId, (t) => t.status === 'completed');
    assert.equal(done.result.content[0].text, 'went on', 'the answer and the state it asked with reached the handler');
    assert.deepEqual(ack(await rpc('tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { ok: false } } } })), {
      resultType: 'complete',
    });
    assert.equal((await get(taskId)).body.result!.result.content[0].text, 'went on', 'an update of a finished task changes nothing');
  });

  it('an answer that would make the task keep over 64 KB is -32602 naming the limit and changes nothing; a small one resumes it', async () => {
    const taskId = await start('needs_ok');
    const waiting = await until(taskId, (t) => t.status === 'input_required');
    const [key] = Object.keys(waiting.inputRequests as Record<string, unknown>);
    const refused = await rpc('tasks/update', {
      taskId,
      inputResponses: { [key!]: { action: 'accept', content: { ok: true, note: 'x'.repeat(100 * 1024) } } },
    });
    assert.equal(refused.body.error?.code, -32602, JSON.stringify(refused.body).slice(0, 300));
    assert.match(refused.body.error!.message, /^Invalid params: the task would keep \d+ bytes of its call and answers, at most 65536 \(64 KB\) accepted/);
    assert.equal((await get(taskId)).body.result!.status, 'input_required', 'nothing changed');
    // Control: the same answer without the padding resumes it.
    await rpc('tasks/update', { taskId, inputResponses: { [key!]: { action: 'accept', content: { ok: true } } } });
    assert.equal((await until(taskId, (t) => t.status === 'completed')).result.content[0].text, 'went on');
  });

  it('a result too large for the task item comes back whole (kept in S3 beside it)', async () => {
    const taskId = await start('big_result');
    const done = await until(taskId, (t) => t.status === 'completed');
    assert.equal(done.result.content[0].text.length, 400_000);
  });

  it('a protocol error fails the task with that error', async () => {
    const taskId = await start('explode');
    const failed = await until(taskId, (t) => t.status === 'failed');
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.error, { code: -32603, message: 'the job exploded' });
    assert.equal(failed.result, undefined);
  });

  it('a duplicate delivery of a worker event runs nothing twice', async () => {
    const taskId = await start('countdown', { ms: 10 });
    await until(taskId, (t) => t.status === 'completed');
    const before = runs.countdown;
    assert.equal(await server.kit.handleEvent({ mcpKitTask: { taskId, run: 1 } }), true);
    assert.equal(runs.countdown, before);
  });

  it("Lambda's report that a worker never succeeded fails the task with the reason", async () => {
    const taskId = await start('countdown', { ms: 3000 });
    await server.kit.handleEvent({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { mcpKitTask: { taskId, run: 1 } },
      responsePayload: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 900.00 seconds' },
    });
    const failed = (await get(taskId)).body.result!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.statusMessage, /did not succeed \(RetriesExhausted: Sandbox\.Timedout: Task timed out after 900\.00 seconds\)/);
  });

  it('a report about a failure report that could not be handled still fails the task, and ends there', async () => {
    const taskId = await start('countdown', { ms: 3000 });
    const first = {
      requestContext: { condition: 'RetriesExhausted' },
      requestPayload: { mcpKitTask: { taskId, run: 1 } },
      responsePayload: { errorType: 'Runtime.ExitError', errorMessage: 'exited' },
    };
    assert.equal(
      await server.kit.handleEvent({
        requestContext: { condition: 'RetriesExhausted' },
        requestPayload: first,
        responsePayload: { errorType: 'Error', errorMessage: 'table unavailable' },
      }),
      true,
    );
    const failed = (await get(taskId)).body.result!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.statusMessage, /did not succeed \(RetriesExhausted: Error: table unavailable\)/);
  });

  it('a task whose worker stopped reporting reads as failed once it is stale', async () => {
    const taskId = await start('hang');
    await until(taskId, () => true);
    const now = Date.now();
    mock.method(Date, 'now', () => now + 17 * 60_000);
    try {
      const stale = (await get(taskId)).body.result!;
      assert.equal(stale.status, 'failed');
      assert.match(stale.statusMessage, /stopped reporting/);
    } finally {
      mock.restoreAll();
      await rpc('tasks/cancel', { taskId });
    }
  });

  it('a task keeps at most 64 KB of its request: a larger _meta is -32602 naming the limit, before the tool runs', async () => {
    const before = runs.countdown;
    for (const kb of [390, 600]) {
      const refused = await rpc('tools/call', { name: 'countdown', arguments: { ms: 0 }, _meta: { 'example.com/blob': 'x'.repeat(kb * 1024) } });
      assert.equal(refused.body.error?.code, -32602, JSON.stringify(refused.body).slice(0, 300));
      assert.equal(refused.status, 200);
      assert.match(
        refused.body.error!.message,
        /^Invalid params: countdown runs as a task, which keeps its arguments and _meta .*: \d+ bytes here, at most 65536 \(64 KB\) accepted; send large inputs as a resource or artifact/,
      );
      assert.doesNotMatch(refused.body.error!.message, /exceeded|Item size/);
    }
    assert.equal(runs.countdown, before, 'nothing ran');
    // Control: the same call with a _meta that fits becomes a task and completes.
    const fits = await rpc('tools/call', { name: 'countdown', arguments: { ms: 0 }, _meta: { 'example.com/blob': 'x'.repeat(60 * 1024) } });
    assert.equal(fits.body.result?.resultType, 'task', JSON.stringify(fits.body).slice(0, 300));
    assert.equal((await until(fits.body.result!.taskId, (t) => t.status === 'completed')).status, 'completed');
  });

  describe('2025-11-25 sessions (SDK 1.x experimental tasks)', () => {
    async function legacy() {
      const client = new LegacyClient({ name: 'tasks-legacy', version: '1' });
      await client.connect(new LegacyTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${alice}` } } }));
      return client;
    }

    it('lists taskSupport, runs a task-augmented call to its result, and lists the task', async () => {
      const client = await legacy();
      try {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.find((t) => t.name === 'countdown')?.execution, { taskSupport: 'optional' });
        const seen: string[] = [];
        let result: unknown;
        for await (const message of client.experimental.tasks.callToolStream({ name: 'countdown', arguments: { ms: 200 } }, CallToolResultSchema, {
          task: { ttl: 60_000 },
        })) {
          seen.push(message.type);
          if (message.type === 'result') result = message.result;
          if (message.type === 'error') assert.fail(String(message.error));
        }
        assert.equal(seen[0], 'taskCreated');
        assert.equal(seen.at(-1), 'result');
        assert.match((result as { content: { text: string }[] }).content[0]!.text, /^counted down 200 ms in task /);
        const { tasks } = await client.experimental.tasks.listTasks();
        assert.ok(tasks.length >= 1 && tasks.every((t) => t.ttl === 60_000 || t.ttl === 3_600_000));
      } finally {
        await client.close();
      }
    });

    it('cancels a running task (the cancelled task back); cancelling a finished one is -32602', async () => {
      const client = await legacy();
      try {
        const stream = client.experimental.tasks.callToolStream({ name: 'countdown', arguments: { ms: 20_000 } }, CallToolResultSchema, { task: {} });
        const created = (await stream.next()).value as { type: string; task: { taskId: string } };
        assert.equal(created.type, 'taskCreated');
        const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
        assert.equal(cancelled.status, 'cancelled');
        await assert.rejects(client.experimental.tasks.cancelTask(created.task.taskId), /-32602|already finished/);
        await stream.return(undefined);
      } finally {
        await client.close();
      }
    });

    it('a task-augmented call whose _meta is over 64 KB is -32602 naming the limit; one under it becomes a task', async () => {
      const client = await legacy();
      try {
        const callWith = (kb: number) =>
          client.request(
            { method: 'tools/call', params: { name: 'countdown', arguments: { ms: 0 }, task: {}, _meta: { 'example.com/blob': 'x'.repeat(kb * 1024) } } },
            CreateTaskResultSchema,
          );
        await assert.rejects(callWith(600), /-32602.*countdown runs as a task.*at most 65536 \(64 KB\) accepted/);
        assert.ok((await callWith(60)).task.taskId, 'control: a 60 KB _meta becomes a task');
      } finally {
        await client.close();
      }
    });

    it('a task-only tool called without a task is -32601', async () => {
      const client = await legacy();
      try {
        await assert.rejects(
          client.request({ method: 'tools/call', params: { name: 'only_task', arguments: {} } }, CallToolResultSchema),
          /-32601|runs only as a task/,
        );
      } finally {
        await client.close();
      }
    });
  });
});
