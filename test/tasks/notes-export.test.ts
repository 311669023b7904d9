// The notes example's task: notebook_export runs as a task for clients that take tasks, in both
// wire forms, on a Node server with real emulators. The worker reads the same notebook the request
// named (a session notebook for a 2025-11-25 session, a handle for a stateless client), the link
// in its result reads back, and a bad handle fails the call itself instead of creating a task.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import notes from '../../functions/notes/server.ts';
import { rpc as taskRpc, taskIds } from '../helpers/gateway-tasks.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

type Link = { type: 'resource_link'; uri: string };

describe('notes: notebook_export as a task', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, MCP_TASK_POLL_MS: '100' });
  });
  after(async () => {
    await server.stop();
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  const rpc = (method: string, params: Record<string, unknown>) => taskRpc(server.url, {}, method, params);

  it('a stateless client gets a task, polls it to the export, and reads the file back', async () => {
    const added = await rpc('tools/call', { name: 'note_add', arguments: { text: 'buy milk' } });
    const handle = added.result!.structuredContent.notebook as string;
    await rpc('tools/call', { name: 'note_add', arguments: { text: 'call home', notebook: handle } });

    const created = await rpc('tools/call', { name: 'notebook_export', arguments: { notebook: handle } });
    assert.equal(created.result?.resultType, 'task', JSON.stringify(created));
    const deadline = Date.now() + 10_000;
    let task = created.result!;
    while (task.status === 'working' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      task = (await rpc('tasks/get', { taskId: created.result!.taskId })).result!;
    }
    assert.equal(task.status, 'completed', JSON.stringify(task));
    assert.match(task.result.content[0].text, /^Exported 2 notes to /);
    const link = task.result.content.find((c: { type: string }) => c.type === 'resource_link') as Link;
    const read = await rpc('resources/read', { uri: link.uri });
    assert.match(read.result!.contents[0].text, /- buy milk .*\n- call home /);
  });

  it('a bad handle fails the call itself: no task is created for work that cannot start', async () => {
    // Read from the table itself: a stateless client has no tasks/list to ask.
    const existing = await taskIds(dynamo.endpoint);
    const answer = await rpc('tools/call', { name: 'notebook_export', arguments: { notebook: 'not-a-handle' } });
    assert.equal(answer.result?.resultType, 'complete', JSON.stringify(answer));
    assert.equal(answer.result!.isError, true);
    assert.match(answer.result!.content[0].text, /unknown or expired state handle "not-a-handle"; omit it to start over/);
    assert.deepEqual(await taskIds(dynamo.endpoint), existing, 'no task was left behind');
    // Control: the same count sees a task that a good handle creates.
    const added = await rpc('tools/call', { name: 'note_add', arguments: { text: 'x' } });
    const created = await rpc('tools/call', { name: 'notebook_export', arguments: { notebook: added.result!.structuredContent.notebook } });
    assert.deepEqual(await taskIds(dynamo.endpoint), [...existing, created.result!.taskId].sort());
  });

  it('a 2025-11-25 session exports its session notebook through a task-augmented call', async () => {
    const client = new LegacyClient({ name: 'notes-export-legacy', version: '1' });
    await client.connect(new LegacyTransport(new URL(server.url)));
    try {
      await client.callTool({ name: 'note_add', arguments: { text: 'session note' } });
      const { tools } = await client.listTools();
      assert.deepEqual(tools.find((t) => t.name === 'notebook_export')?.execution, { taskSupport: 'optional' });
      const seen: string[] = [];
      let result: { content: (Link | { type: 'text'; text: string })[] } | undefined;
      for await (const message of client.experimental.tasks.callToolStream({ name: 'notebook_export', arguments: {} }, CallToolResultSchema, { task: {} })) {
        seen.push(message.type);
        if (message.type === 'result') result = message.result as typeof result;
        if (message.type === 'error') assert.fail(String(message.error));
      }
      assert.equal(seen[0], 'taskCreated');
      assert.match((result!.content[0] as { text: string }).text, /^Exported 1 notes to /);
      const link = result!.content.find((c): c is Link => c.type === 'resource_link')!;
      const read = await client.readResource({ uri: link.uri });
      assert.match(String((read.contents[0] as { text: string }).text), /- session note /);
    } finally {
      await client.close();
    }
  });
});
