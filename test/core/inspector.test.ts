// The MCP Inspector's CLI (a real, widely used 2025-era client) against `npm start`'s server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startChild, startTestDynamo, type ChildServer } from '../helpers/server.ts';

const run = promisify(execFile);

describe('MCP Inspector CLI', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: ChildServer;

  before(async () => {
    dynamo = await startTestDynamo();
    server = await startChild({
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
    });
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
  });

  const inspector = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['node_modules/@modelcontextprotocol/inspector/cli/build/cli.js', '--cli', server.url, '--transport', 'http', ...args], {
      timeout: 30_000,
    });
    // The CLI prints a deprecation banner before the JSON result.
    return JSON.parse(stdout.slice(stdout.indexOf('{')));
  };

  it('lists the tools', async () => {
    const out = await inspector('--method', 'tools/list');
    assert.deepEqual(
      out.tools.map((t: { name: string }) => t.name),
      ['echo', 'note_add', 'note_list', 'notebook_clear', 'notebook_export', 'word_stats'],
    );
  });

  it('calls echo', async () => {
    const out = await inspector('--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=hello inspector');
    assert.equal(out.content[0].text, 'hello inspector');
  });
});
