// A tool that runs past MCP_TOOL_TIMEOUT_MS ends with an error result instead of a hung response,
// and its ctx.signal aborts so a well-behaved handler stops working.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineServer, tool } from '../../shared/server/define.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

let aborted: unknown;
const server = defineServer({
  name: 'slow',
  version: '1.0.0',
  tools: [
    tool(
      'sleepy',
      { description: 'Waits until aborted' },
      (_args, ctx) =>
        new Promise<string>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            resolve('woke up');
          });
        }),
    ),
    tool('quick', { description: 'Answers at once' }, async () => 'done'),
  ],
});

describe('tool timeout', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    dynamo = await startTestDynamo();
    kit = await startInProcess(server, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_TOOL_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await kit.stop();
    await dynamo.stop();
  });

  const call = (name: string) =>
    postToolCall(kit.url, { name, arguments: {} }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { result: { isError?: boolean; content: { text: string }[] } },
    }));

  it('ends a hung call with an error result and aborts its signal', async () => {
    const started = Date.now();
    const { status, body } = await call('sleepy');
    assert.equal(status, 200);
    assert.equal(body.result.isError, true);
    assert.match(body.result.content[0]!.text, /sleepy did not finish within 300 ms and was stopped/);
    assert.ok(Date.now() - started < 3000);
    assert.match(String(aborted), /did not finish within 300 ms/);
  });

  it('leaves calls that finish in time alone', async () => {
    const { body } = await call('quick');
    assert.equal(body.result.content[0]!.text, 'done');
    assert.equal(body.result.isError, undefined);
  });
});
