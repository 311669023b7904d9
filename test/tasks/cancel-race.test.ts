// A 2025-11-25 `tasks/cancel` that loses the race with the task's completion: the cancel has read
// the task as working, the worker then records its result, and only then does the cancel's own
// write reach DynamoDB (a proxy holds that write back until the task has completed, so the race
// happens every time). The caller is told what the task finished as, never a stale `working`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startDynamoGate, type DynamoGate } from '../helpers/dynamo-gate.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

/** Lets the running task finish when the test says so. */
let finish: () => void = () => {};
const server = defineServer({
  name: 'cancel-race',
  version: '1.0.0',
  tools: [
    tool('gated', { description: 'Runs as a task until the test lets it finish', task: 'optional' }, async (_args, ctx) => {
      await ctx.task.start();
      await new Promise<void>((resolve) => (finish = resolve));
      return 'finished';
    }),
  ],
});

describe('2025-11-25 tasks/cancel racing completion', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let gate: DynamoGate;
  let kit: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    dynamo = await startTestDynamo();
    gate = await startDynamoGate(dynamo.endpoint);
    kit = await startInProcess(server, { AWS_ENDPOINT_URL_DYNAMODB: gate.endpoint, MCP_TASK_POLL_MS: '100' });
  });
  after(async () => {
    await kit?.stop();
    await gate?.close();
    await dynamo?.stop();
  });

  /** A session with one running `gated` task. */
  async function running() {
    const client = new LegacyClient({ name: 'cancel-race', version: '1' });
    await client.connect(new LegacyTransport(new URL(kit.url)));
    const stream = client.experimental.tasks.callToolStream({ name: 'gated', arguments: {} }, CallToolResultSchema, { task: {} });
    const created = (await stream.next()).value as { type: string; task: { taskId: string } };
    assert.equal(created.type, 'taskCreated');
    const taskId = created.task.taskId;
    const until = async (status: string) => {
      while ((await client.experimental.tasks.getTask(taskId)).status !== status) await new Promise((r) => setTimeout(r, 20));
    };
    return { client, taskId, until, close: async () => (await stream.return(undefined), await client.close()) };
  }

  it('a cancel whose write lands after the task completed answers -32602 naming "completed", not working', async () => {
    const { client, taskId, until, close } = await running();
    try {
      const cancelWrite = gate.hold((c) => c.operation === 'PutItem' && c.body.Item?.pk?.S === `TASK#${taskId}` && c.body.Item?.status?.S === 'cancelled');
      const answer = client.experimental.tasks.cancelTask(taskId).then(
        (task) => ({ status: task.status }),
        (error: Error) => ({ error: error.message }),
      );
      await cancelWrite.arrived;
      finish();
      await until('completed');
      cancelWrite.release();
      const answered = await answer;
      assert.ok('error' in answered, `the cancel answered ${JSON.stringify(answered)}`);
      assert.match(answered.error, /-32602.*already finished \(completed\)/);
      assert.equal((await client.experimental.tasks.getTask(taskId)).status, 'completed');
    } finally {
      finish();
      await close();
    }
  });

  it('control: the same cancel with no completion in between answers the cancelled task', async () => {
    const { client, taskId, close } = await running();
    try {
      const cancelled = await client.experimental.tasks.cancelTask(taskId);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal((await client.experimental.tasks.getTask(taskId)).status, 'cancelled');
    } finally {
      finish();
      await close();
    }
  });
});
