// `npm run smoke` against real MCP servers on loopback, built from the SDK so the check is tested
// apart from the kit: it passes on a server that speaks both eras and has `echo`, and fails with
// the failing step named (exit 1) or a usage message (exit 2) otherwise. Then against the kit,
// open as `npm start` serves it and with API keys as it deploys, and on the modelled deployed path,
// where it also checks the 401 challenge and a silent call's keep-alives through the edge.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import echoServer from '../../functions/echo/server.ts';
import notesServer from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { startDataPlane, startGateway, startUpstream, type DataPlane } from '../helpers/gateway.ts';
import { startChild, startInProcess, startTestDynamo, type ChildServer } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** An MCP server on an ephemeral loopback port, serving 2026-07-28 and the 2025 era. */
async function startServer(tool: string): Promise<{ url: string; server: ServerType }> {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: 'smoke-fixture', version: '1.0.0' });
    server.registerTool(tool, { description: 'Returns its input', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    return server;
  });
  return new Promise((resolve) => {
    const server = serve({ fetch: (request: Request) => handler.fetch(request), hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ url: `http://127.0.0.1:${info.port}/mcp`, server }),
    );
  });
}

/** A loopback port with nothing listening on it. */
/** The script in a child process; `env` replaces MCP_API_KEY and adds to the rest of this process's environment. */
function smokeWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { MCP_API_KEY: _inherited, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], {
      cwd: REPO,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const smoke = (...args: string[]) => smokeWith({}, ...args);

describe('npm run smoke', () => {
  const servers: ServerType[] = [];
  let withEcho: string;
  let withoutEcho: string;
  let gatewayLike: string;

  before(async () => {
    const a = await startServer('echo');
    const b = await startServer('reverse');
    const c = await startServer('notes__echo');
    servers.push(a.server, b.server, c.server);
    withEcho = a.url;
    withoutEcho = b.url;
    gatewayLike = c.url;
  });
  after(() => {
    for (const server of servers) server.close();
  });

  it('passes in both eras and prints each step with its latency', async () => {
    const { code, stdout, stderr } = await smoke('--url', withEcho, '--text', 'hello "smoke"');
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    for (const line of [
      /ok +modern connect \(server\/discover\) +\d+ ms {2}protocol 2026-07-28/,
      /ok +modern tools\/list +\d+ ms/,
      /ok +modern tools\/call echo +\d+ ms {2}echoed "hello \\"smoke\\""/,
      /ok +legacy initialize +\d+ ms {2}protocol 2025-/,
      /ok +legacy tools\/list +\d+ ms/,
      /ok +legacy tools\/call echo +\d+ ms/,
      /passed \(modern \+ legacy\)/,
    ]) {
      assert.match(stdout, line);
    }
  });

  it('checks one era when asked', async () => {
    const { code, stdout } = await smoke('--url', withEcho, '--era', 'legacy');
    assert.equal(code, 0);
    assert.doesNotMatch(stdout, /modern/);
  });

  it('fails, naming the step, when the server has no echo tool', async () => {
    const { code, stderr } = await smoke('--url', withoutEcho);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /smoke check failed: modern tools\/list: no "echo" tool; the server lists: reverse \(pass --tool with a tool that gives its text argument back\)/,
    );
  });

  it('behind a gateway (tools named <upstream>__<name>) calls the first upstream echo unless --tool says otherwise', async () => {
    const { code, stdout, stderr } = await smoke('--url', gatewayLike);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /ok +modern tools\/list +\d+ ms {2}1 tool; calling notes__echo \(no echo tool here; --tool picks another\)/);
    assert.match(stdout, /ok +legacy tools\/call notes__echo/);
    const named = await smoke('--url', gatewayLike, '--tool', 'echo');
    assert.equal(named.code, 1, 'a tool named with --tool is never swapped for another');
    assert.match(named.stderr, /no "echo" tool; the server lists: notes__echo/);
  });

  it('fails with the network cause when nothing answers', async () => {
    const { code, stderr } = await smoke('--url', `http://127.0.0.1:${await freePort()}/mcp`, '--era', 'legacy');
    assert.equal(code, 1);
    assert.match(stderr, /smoke check failed: legacy initialize: .*ECONNREFUSED/);
  });

  it('exits 2 with usage on bad arguments', async () => {
    for (const args of [[], ['--url', 'not a url'], ['--url', withEcho, '--era', 'future'], ['--url', withEcho, '--header', 'nocolon']]) {
      const { code, stderr } = await smoke(...args);
      assert.equal(code, 2, `args ${JSON.stringify(args)}`);
      assert.match(stderr, /--url|--era|--header/);
    }
  });
});

describe('npm run smoke against npm start', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let local: ChildServer;

  before(async () => {
    dynamo = await startTestDynamo();
    local = await startChild({
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
    });
  });
  after(async () => {
    await local?.stop();
    await dynamo?.stop();
  });

  it('passes in both eras against the kit’s local server', async () => {
    const { code, stdout, stderr } = await smoke('--url', local.url);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /ok +legacy tools\/call echo/);
    assert.match(stdout, /passed \(modern \+ legacy\)/);
  });
});

describe('npm run smoke against an endpoint with API keys, as the repository deploys it', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let key: string;

  before(async () => {
    dynamo = await startTestDynamo();
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 0 });
    ({ key } = await keys.create({ principalId: 'me' }));
    server = await startInProcess(echoServer, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_REQUEST_STATE_KEY: 'smoke-request-state-key-0123456789',
      MCP_SSE_KEEPALIVE_MS: '300',
    });
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
  });

  it('fails without a key, naming the way to give one', async () => {
    const { code, stderr } = await smoke('--url', server.url, '--era', 'modern');
    assert.equal(code, 1);
    assert.match(stderr, /smoke check failed: modern connect \(server\/discover\): .*401.*--api-key <key> or MCP_API_KEY/s);
  });

  it('passes in both eras with the key from --api-key, or from MCP_API_KEY', async () => {
    for (const run of [
      () => smoke('--url', server.url, '--api-key', key, '--silence', '1'),
      () => smokeWith({ MCP_API_KEY: key }, '--url', server.url, '--silence', '1'),
    ]) {
      const { code, stdout, stderr } = await run();
      assert.equal(code, 0, `${stdout}\n${stderr}`);
      assert.match(stdout, /passed \(modern \+ legacy\)/);
    }
  });

  it('refuses a key and an Authorization header together (exit 2)', async () => {
    const { code, stderr } = await smokeWith({ MCP_API_KEY: key }, '--url', server.url, '--header', 'Authorization: Bearer other');
    assert.equal(code, 2);
    assert.match(stderr, /--api-key \(from MCP_API_KEY\) and --header 'Authorization: …' both set the Authorization header/);
  });
});

describe('npm run smoke through CloudFront and the edge function (modelled path, echo with API keys)', () => {
  let path: AwsPath;
  let key: string;
  let stripped: AwsPath;
  let strippedKey: string;

  before(async () => {
    const env = { MCP_AUTH_MODE: 'apikey', MCP_SSE_KEEPALIVE_MS: '400' };
    // The second path lacks the edge function, as a distribution without it would.
    [path, stripped] = await Promise.all([
      startAwsPath('functions/echo/handler.ts', env, { concurrency: 3 }),
      startAwsPath('functions/echo/handler.ts', env, { concurrency: 3, edge: {} }),
    ]);
    const create = async (p: AwsPath) =>
      (
        await new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: p.dynamoEndpoint }), 'mcp-kit'), {
          cacheSeconds: 0,
        }).create({ principalId: 'me' })
      ).key;
    [key, strippedKey] = await Promise.all([create(path), create(stripped)]);
  });
  after(async () => {
    await Promise.all([path?.stop(), stripped?.stop()]);
  });

  it("checks the 401 challenge and a silent call's keep-alives", async () => {
    const { code, stdout, stderr } = await smoke('--url', path.url, '--api-key', key, '--era', 'modern', '--silence', '2');
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /ok +edge +401 WWW-Authenticate +\d+ ms {2}Bearer/);
    assert.match(stdout, /ok +edge +keep-alives \(wait 2 s\) +\d+ ms {2}first byte after \d+ ms/);
  });

  it('fails, naming the edge function, when the 401 arrives with its challenge renamed', async () => {
    const { code, stderr } = await smoke('--url', stripped.url, '--api-key', strippedKey, '--era', 'modern', '--silence', '1');
    assert.equal(code, 1);
    assert.match(
      stderr,
      /edge 401 WWW-Authenticate: the 401 has x-amzn-Remapped-WWW-Authenticate: the origin-response Lambda@Edge function did not restore it/,
    );
  });
});

describe('npm run smoke against the gateway, as its banner prints it', () => {
  let plane: DataPlane;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    plane = await startDataPlane();
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await plane?.stop();
  });

  it('passes without --tool, calling the first upstream echo', async () => {
    const notesUpstream = await startUpstream(notesServer, plane);
    stops.push(notesUpstream.stop);
    const gateway = await startGateway({ upstreams: { notes: { url: notesUpstream.url } } }, plane);
    stops.push(gateway.stop);
    const { code, stdout, stderr } = await smoke('--url', gateway.url);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /calling notes__echo \(no echo tool here; --tool picks another\)/);
    assert.match(stdout, /ok +legacy tools\/call notes__echo/);
  });
});
