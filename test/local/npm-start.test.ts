// `npm start` and `npm run emulators` as users run them: real child processes with no endpoint
// variables set, on temporary data folders. Covers npm start's own emulators, persistence across
// a restart, the data-folder lock, the fallback without redis-server, the loopback Host/Origin
// defaults, two servers sharing one `npm run emulators`, with and without redis-server, the
// messages for paths it cannot serve, and the development key it prints with API keys on.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from '@upstash/redis';
import { cleanEnv, pathWithout, servingUrl, startProcess, startServer, which, type Child } from './processes.ts';

const TIMEOUT = { timeout: 30_000 };
const children: Child[] = [];
const folders: string[] = [];
const track = (child: Child) => (children.push(child), child);
const tempFolder = async () => {
  const folder = await mkdtemp(join(tmpdir(), 'mcp-kit-npm-start-'));
  folders.push(folder);
  return folder;
};

after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

interface Session {
  sessionId: string;
  protocolVersion: string;
}

/** A 2025-era client (SDK 1.x); with `session`, it resumes that session without initialize. */
async function connect(url: string, session?: Session) {
  const transport = new LegacyTransport(new URL(url), session && { sessionId: session.sessionId });
  const client = new LegacyClient({ name: 'npm-start-test', version: '1.0.0' });
  await client.connect(transport);
  if (session) transport.setProtocolVersion(session.protocolVersion);
  return { client, session: { sessionId: transport.sessionId!, protocolVersion: transport.protocolVersion ?? session!.protocolVersion } };
}

async function call(client: LegacyClient, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  assert.ok(!result.isError, JSON.stringify(result));
  return result.content as ({ type: 'text'; text: string } | { type: 'resource_link'; uri: string })[];
}

const text = (content: Awaited<ReturnType<typeof call>>) => content.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');

/** A raw POST initialize with chosen Host/Origin headers (fetch would not send a foreign Host). */
function initialize(url: string, headers: Record<string, string>): Promise<{ status: number; allowOrigin: string | undefined }> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host-check', version: '1.0.0' } },
  });
  return new Promise((done, fail) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        res.resume();
        res.once('end', () => done({ status: res.statusCode!, allowOrigin: res.headers['access-control-allow-origin'] as string | undefined }));
      },
    );
    req.once('error', fail);
    req.end(body);
  });
}

describe('npm start with no endpoint variables', () => {
  let dataDir: string;
  let server: Child;
  let url: string;
  let session: Session;
  let artifact: string;

  before(async () => {
    dataDir = join(await tempFolder(), 'data');
    server = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir }));
    url = await servingUrl(server);
  });

  test('starts dynalite, s3rver and redis-server itself and serves MCP through them', TIMEOUT, async () => {
    assert.match(
      server.output(),
      /data: DynamoDB \(dynalite\) http:\/\/127\.0\.0\.1:\d+; S3 \(s3rver\) http:\/\/127\.0\.0\.1:\d+; Redis \(redis-server via Upstash REST\) http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.ok(existsSync(join(dataDir, 'redis', 'appendonlydir')), 'redis-server keeps its data in the data folder');
    const { client, session: opened } = await connect(url);
    session = opened;
    assert.equal(text(await call(client, 'echo', { text: 'hello' })), 'hello');
    await call(client, 'note_add', { text: 'written before the restart' });
    const exported = await call(client, 'notebook_export', {});
    artifact = exported.flatMap((c) => (c.type === 'resource_link' ? [c.uri] : []))[0]!;
    assert.match(artifact, /^artifact:\/\/s\//);
    await client.close();
  });

  test('a second npm start on the same data folder exits with a message saying what to do', TIMEOUT, async () => {
    const second = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir }));
    assert.equal(await second.exited, 1);
    assert.equal(
      second.output().trim(),
      `local data in ${dataDir} is in use by npm start (process ${server.process.pid}). Stop it, or give this one its own folder and port ` +
        '(MCP_LOCAL_DATA_DIR=.local/data-2 PORT=3001 npm start), or run several servers on one data plane with npm run emulators (README, "Local emulation").',
    );
  });

  test('accepts only loopback Host and Origin values', TIMEOUT, async () => {
    const port = new URL(url).port;
    assert.equal((await initialize(url, { host: `evil.example:${port}` })).status, 403);
    assert.equal((await initialize(url, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await initialize(url, { origin: `http://127.0.0.1.evil.example:${port}` })).status, 403);
    assert.equal((await initialize(url, { host: `localhost:${port}` })).status, 200);
    const fromBrowser = await initialize(url, { origin: 'http://localhost:5173' });
    assert.equal(fromBrowser.status, 200);
    assert.equal(fromBrowser.allowOrigin, 'http://localhost:5173');
  });

  test('keeps sessions, notes and artifacts across a restart on the same data folder', TIMEOUT, async () => {
    assert.equal(await server.stop(), 0);
    assert.ok(!existsSync(join(dataDir, 'owner.json')), 'a stopped server releases the data folder');
    server = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir }));
    url = await servingUrl(server);
    const { client } = await connect(url, session);
    assert.equal(text(await call(client, 'note_list', {})), '1. written before the restart');
    const read = await client.readResource({ uri: artifact });
    assert.match((read.contents[0] as { text: string }).text, /- written before the restart/);
    await client.close();
    assert.equal(await server.stop(), 0);
  });
});

test('npm start without redis-server still serves, and says Redis is off', TIMEOUT, async () => {
  const dataDir = join(await tempFolder(), 'data');
  const server = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir, PATH: pathWithout('redis-server') }));
  const url = await servingUrl(server);
  assert.match(server.output(), /Redis: off \(redis-server not installed\): in-process cache and events/);
  const { client } = await connect(url);
  assert.equal(text(await call(client, 'echo', { text: 'no redis' })), 'no redis');
  await call(client, 'word_stats', { text: 'cached in this process' });
  await client.close();
  assert.equal(await server.stop(), 0);
});

/** The variables an `export NAME=value` file sets. */
async function exportsOf(file: string): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const match = /^export (\w+)=(.*)$/.exec(line);
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

for (const redisInstalled of [true, false]) {
  test(`npm run emulators shared by two PORT=… npm start processes, ${redisInstalled ? 'with' : 'without'} redis-server`, TIMEOUT, async () => {
    const folder = await tempFolder();
    const dataDir = join(folder, 'data');
    const PATH = redisInstalled ? process.env.PATH! : pathWithout('redis-server');
    const emulators = track(
      startProcess(process.execPath, ['--import', 'tsx', 'local/emulators.ts'], { env: cleanEnv({ MCP_LOCAL_DATA_DIR: dataDir, PATH }) }),
    );
    const envFile = resolve((await emulators.waitFor(/^# {3}source (\S+) && PORT=3001 npm start$/m))[1]!);
    assert.equal(envFile, join(folder, 'emulators.env'));
    const vars = await exportsOf(envFile);
    if (redisInstalled) {
      assert.match(vars.UPSTASH_REDIS_REST_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(vars.MCP_LOCAL_REDIS, undefined);
    } else {
      assert.equal(vars.UPSTASH_REDIS_REST_URL, undefined);
      assert.equal(vars.MCP_LOCAL_REDIS, 'off');
      assert.match(emulators.output(), /Redis: off \(redis-server not installed\)/);
      assert.match(emulators.output(), /servers sharing these emulators keep cache and events in their own process/);
    }

    // As the printed guidance says: source the file, pick a port, npm start.
    const bash = which('bash');
    const servers = [1, 2].map(() =>
      track(
        startProcess(bash, ['-c', 'source "$0" && PORT=0 exec "$1" --import tsx local/start.ts', envFile, process.execPath], {
          env: cleanEnv({ MCP_LOCAL_DATA_DIR: dataDir, PATH }),
        }),
      ),
    );
    const [urlA, urlB] = await Promise.all(servers.map((server) => servingUrl(server)));
    assert.notEqual(urlA, urlB);
    for (const server of servers) {
      const redisLine = redisInstalled ? `Redis ${vars.UPSTASH_REDIS_REST_URL}` : 'Redis: off (MCP_LOCAL_REDIS=off): in-process cache and events';
      assert.ok(
        server.output().includes(`data: DynamoDB ${vars.AWS_ENDPOINT_URL_DYNAMODB}; S3 ${vars.AWS_ENDPOINT_URL_S3}; ${redisLine}\n`),
        `uses the shared emulators and starts none of its own:\n${server.output()}`,
      );
    }

    const onA = await connect(urlA!);
    await call(onA.client, 'note_add', { text: 'written through A' });
    await call(onA.client, 'word_stats', { text: 'counted once' });
    await onA.client.close();
    const onB = await connect(urlB!, onA.session);
    assert.equal(text(await call(onB.client, 'note_list', {})), '1. written through A');
    await onB.client.close();
    if (redisInstalled) {
      const redis = new Redis({ url: vars.UPSTASH_REDIS_REST_URL!, token: vars.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });
      assert.equal((await redis.keys('mcp:cache:notes:*')).length, 1, 'the tool cache lives in the shared Redis');
    }

    assert.deepEqual(await Promise.all(servers.map((s) => s.stop())), [0, 0]);
    assert.equal(await emulators.stop(), 0);
    assert.ok(!existsSync(envFile), 'a stopped npm run emulators leaves no file pointing at dead ports');
  });
}

/** A script as the banner prints it (`npm run <script> -- args`), run without npm in between. */
async function runScript(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; output: string }> {
  const child = track(startProcess(process.execPath, ['--import', 'tsx', script, ...args], { env: cleanEnv(env) }));
  const code = await child.exited;
  return { code, output: child.output() };
}

describe('npm start refuses what it cannot serve, saying what to run instead', () => {
  test('a Lambda entry point', TIMEOUT, async () => {
    const handler = track(startProcess(process.execPath, ['--import', 'tsx', 'local/start.ts', 'functions/echo/handler.ts'], { env: cleanEnv({ PORT: '0' }) }));
    assert.equal(await handler.exited, 1);
    assert.equal(
      handler.output().trim(),
      'functions/echo/handler.ts is a Lambda entry point: it runs only in the Lambda runtime. npm start serves a server definition ' +
        '(the file that default-exports defineServer(...)): npm start -- functions/echo/server.ts. ' +
        'To run the Lambda entry as deployed, use npm run start:aws -- functions/echo/handler.ts.',
    );
  });

  test('a mistyped path, and a file with no server definition', TIMEOUT, async () => {
    const missing = track(startProcess(process.execPath, ['--import', 'tsx', 'local/start.ts', 'functions/note/server.ts'], { env: cleanEnv({ PORT: '0' }) }));
    assert.equal(await missing.exited, 1);
    assert.equal(
      missing.output().trim(),
      'no such file: functions/note/server.ts. npm start takes the path of a server definition, e.g. npm start -- functions/notes/server.ts ' +
        '(servers here: functions/echo/server.ts, functions/gateway/server.ts, functions/notes/server.ts)',
    );
    const notServer = track(
      startProcess(process.execPath, ['--import', 'tsx', 'local/start.ts', 'shared/adapters/lambda.ts'], {
        env: cleanEnv({ PORT: '0', MCP_LOCAL_DATA_DIR: join(await tempFolder(), 'data') }),
      }),
    );
    assert.equal(await notServer.exited, 1);
    assert.equal(
      notServer.output().trim(),
      'shared/adapters/lambda.ts has no server definition: its default export should be defineServer({ name, version, tools }) (README, "Write a tool").',
    );
  });
});

describe('MCP_AUTH_MODE=apikey npm start', () => {
  test("prints a development key with which the banner's commands work, and keeps it across restarts", TIMEOUT, async () => {
    const dataDir = join(await tempFolder(), 'data');
    let server = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir, MCP_AUTH_MODE: 'apikey' }));
    const url = await servingUrl(server);
    const key = (await server.waitFor(/^ {4}(mcpk_\S+)$/m))[1]!;
    const smokeLine = (await server.waitFor(/^ {4}npm run smoke -- (.+)$/m))[1]!;
    assert.equal(smokeLine, `--url ${url} --api-key ${key}`);
    assert.ok(server.output().includes(`npm run inspect -- ${url} --transport http --header "Authorization: Bearer ${key}" --method tools/list`));

    const smoke = await runScript('scripts/smoke.ts', smokeLine.split(' '));
    assert.equal(smoke.code, 0, smoke.output);
    const withoutKey = await runScript('scripts/smoke.ts', ['--url', url]);
    assert.equal(withoutKey.code, 1);
    assert.match(withoutKey.output, /401/);

    // The banner's command for more keys reaches the same table.
    const keysLine = (await server.waitFor(/More keys for this table: AWS_ENDPOINT_URL_DYNAMODB=(\S+) npm run keys -- create --principal <owner>/))[1]!;
    const listed = await runScript('scripts/keys.ts', ['list'], { AWS_ENDPOINT_URL_DYNAMODB: keysLine });
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /apikey:dev .*npm start development key/);

    assert.equal(await server.stop(), 0);
    server = track(startServer({ MCP_LOCAL_DATA_DIR: dataDir, MCP_AUTH_MODE: 'apikey' }));
    await servingUrl(server);
    assert.equal((await server.waitFor(/^ {4}(mcpk_\S+)$/m))[1], key, 'the same key after a restart');
    assert.equal(await server.stop(), 0, server.output());
  });

  test('npm run keys without an endpoint or AWS credentials says how to reach the local table', TIMEOUT, async () => {
    const home = await tempFolder();
    const keys = await runScript('scripts/keys.ts', ['list'], { HOME: home, AWS_EC2_METADATA_DISABLED: 'true' });
    assert.equal(keys.code, 1);
    assert.match(
      keys.output,
      /keys: table "mcp-kit" in us-east-1: CredentialsProviderError: .*\nNo AWS credentials, and no AWS_ENDPOINT_URL_DYNAMODB: this command went to AWS\. .*MCP_AUTH_MODE=apikey npm start prints a development key and the command for more keys/,
    );
  });
});
