// A task whose worker cannot be started (Lambda's Invoke API unreachable or refusing, as in the
// seconds before a fresh deploy's permissions apply): the call gets a tool error naming Lambda
// and why (as a tool meeting any unavailable dependency does), the task item it wrote ends failed
// instead of going stale unseen, and the server keeps serving. Real emulators; a closed loopback
// port stands in for the Invoke API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../shared/store/table.ts';
import fixture from '../fixtures/tasks.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

const TASKS = 'io.modelcontextprotocol/tasks';

/** A loopback port nothing listens on. */
describe('a task whose worker cannot be started', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    // The Lambda client takes its credentials from the process, as on Lambda.
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    server = await startInProcess(fixture, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: 'tasks-fixture',
      AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${await freePort()}`,
      // On Lambda (the function name says so) an open endpoint must be asked for.
      MCP_ALLOW_UNAUTHENTICATED: 'true',
    });
  });
  after(async () => {
    await server?.stop();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  async function call(tasks: boolean) {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
      'io.modelcontextprotocol/clientInfo': { name: 'dispatch-test', version: '1' },
    };
    const res = await postToolCall(server.url, { name: 'countdown', arguments: { ms: 0 } }, { meta });
    return { status: res.status, body: (await res.json()) as { result?: Record<string, any>; error?: { code: number; message: string } } };
  }

  it('answers a tool error naming Lambda, ends the task it wrote as failed, and keeps serving', async () => {
    const refused = await call(true);
    assert.equal(refused.status, 200, JSON.stringify(refused.body));
    assert.equal(refused.body.result?.isError, true);
    // Named, with the request id that finds Lambda's own words in the log, but not those words.
    assert.match(refused.body.result?.content?.[0]?.text, /^Lambda is unavailable \(request id [0-9a-f-]{36}\); retry shortly$/);

    const scan = await (await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint })).send(new ScanCommand({ TableName: 'mcp-kit' }));
    const tasks = (scan.Items ?? []).filter((item: Record<string, { S?: string }>) => item.pk?.S?.startsWith('TASK#'));
    assert.equal(tasks.length, 1, 'the call wrote one task');
    assert.equal(tasks[0]!.status?.S, 'failed');
    assert.match(tasks[0]!.statusMessage?.S ?? '', /^The task could not be started: Lambda is unavailable/);

    // Control: the same tool for a client that takes no tasks runs directly, on the same server.
    const direct = await call(false);
    assert.equal(direct.status, 200);
    assert.equal(direct.body.result?.content?.[0]?.text, 'counted down 0 ms in task none');
  });
});
