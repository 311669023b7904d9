// The MCP Inspector's CLI (2.x, a real, widely used client) through `npm run inspect`, against
// `npm start`'s server, in both protocol eras: which era served each call is read off the
// server's own request log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startChild, startTestDynamo, type ChildServer } from '../helpers/server.ts';

const run = promisify(execFile);

describe('MCP Inspector CLI (npm run inspect)', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: ChildServer;
  // The Inspector keeps its catalog and client config under $HOME/.mcp-inspector: not the user's.
  let home: string;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'mcp-kit-inspector-'));
    dynamo = await startTestDynamo();
    server = await startChild({
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
      LOG_LEVEL: 'INFO',
    });
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
    await rm(home, { recursive: true, force: true });
  });

  /** The eras of the requests the server logged after `offset` (a log line may trail its response a little). */
  async function erasLoggedSince(offset: number): Promise<string[]> {
    const eras = () =>
      server
        .output()
        .slice(offset)
        .split('\n')
        .filter((line) => line.includes('"era"'))
        .map((line) => (JSON.parse(line) as { era: string }).era);
    for (let waited = 0; eras().length === 0 && waited < 2000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    return [...new Set(eras())];
  }

  /** Runs `npm run inspect -- <url> <args>`; returns its parsed stdout and the eras the server logged for it. */
  const inspect = async (...args: string[]) => {
    const logged = server.output().length;
    const { stdout, stderr } = await run('npm', ['run', '--silent', 'inspect', '--', server.url, '--transport', 'http', ...args], {
      timeout: 30_000,
      env: { ...process.env, HOME: home },
    });
    return { out: JSON.parse(stdout), stderr, eras: await erasLoggedSince(logged) };
  };

  const TOOLS = ['echo', 'note_add', 'note_list', 'notebook_clear', 'notebook_export', 'word_stats'];

  it('lists the tools, as a 2025-era client by default, with nothing printed but the result', async () => {
    const { out, stderr, eras } = await inspect('--method', 'tools/list');
    assert.deepEqual(
      out.tools.map((t: { name: string }) => t.name),
      TOOLS,
    );
    assert.equal(stderr, '', 'no deprecation notice or other banner');
    assert.deepEqual(eras, ['legacy']);
  });

  it('calls echo as a 2025-era client', async () => {
    const { out, eras } = await inspect('--protocol-era', 'legacy', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=hello inspector');
    assert.equal(out.content[0].text, 'hello inspector');
    assert.deepEqual(eras, ['legacy']);
  });

  it('lists and calls as a 2026-07-28 client', async () => {
    const listed = await inspect('--protocol-era', 'modern', '--method', 'tools/list');
    assert.deepEqual(
      listed.out.tools.map((t: { name: string }) => t.name),
      TOOLS,
    );
    assert.deepEqual(listed.eras, ['modern']);
    const called = await inspect('--protocol-era', 'modern', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=hello modern');
    assert.equal(called.out.content[0].text, 'hello modern');
    assert.deepEqual(called.eras, ['modern']);
  });
});
