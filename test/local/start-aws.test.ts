// `npm run start:aws` as users run it (a real child process, its own emulators on a temporary data
// folder): its banner says what guards the endpoint, auth and the rate limit every local client
// shares without auth, and how to change them; with MCP_AUTH_MODE=apikey it prints a development
// key with which its smoke command passes through the modelled CloudFront, API Gateway and Lambda;
// a mistyped path gets a message instead of a file-system error; with MCP_AWS_CONTAINERS=true it says
// where streams go, its curl listen command is served by a container, and it stops its tasks cleanly.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanEnv, startProcess, type Child } from './processes.ts';

const TIMEOUT = { timeout: 90_000 };
const children: Child[] = [];
const folders: string[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

async function startAws(env: Record<string, string>, entry = 'functions/echo/handler.ts'): Promise<Child> {
  const folder = await mkdtemp(join(tmpdir(), 'mcp-kit-start-aws-'));
  folders.push(folder);
  const child = startProcess(process.execPath, ['--import', 'tsx', 'local/start-aws.ts', entry], {
    env: cleanEnv({ PORT: '0', MCP_LOCAL_DATA_DIR: join(folder, 'data'), ...env }),
  });
  children.push(child);
  await child.waitFor(/Connect a client:/, 60_000);
  return child;
}

test('without auth, the banner says every client is "anonymous" and shares one rate limit, and how to change both', TIMEOUT, async () => {
  const aws = await startAws({});
  assert.match(aws.output(), /\n {2}secrets: read at each cold start from a Secrets Manager model at http:\/\/127\.0\.0\.1:\d+ \(MCP_SECRETS_ARN: /);
  assert.match(
    aws.output(),
    /\n {2}auth: none, so every client here is the one principal "anonymous" \(the deployed stacks take API keys: MCP_AUTH_MODE=apikey npm run start:aws\)\n/,
  );
  assert.match(
    aws.output(),
    /\n {2}rate limit: on as deployed, 120 requests per 60 s per principal, which all clients here share as "anonymous"; MCP_RATE_LIMIT_REQUESTS=<n> raises it, MCP_RATE_LIMIT_ENABLED=false turns it off\n/,
  );
  assert.equal(await aws.stop(), 0);
  const off = await startAws({ MCP_RATE_LIMIT_ENABLED: 'false' });
  assert.match(
    off.output(),
    /\n {2}rate limit: off \(MCP_RATE_LIMIT_ENABLED=false\); deployed stages with Redis limit each principal to 120 requests per 60 s\n/,
  );
  assert.equal(await off.stop(), 0);
});

test("with MCP_AUTH_MODE=apikey, a development key makes the banner's smoke command pass", TIMEOUT, async () => {
  const aws = await startAws({ MCP_AUTH_MODE: 'apikey' });
  const key = (await aws.waitFor(/ {2}auth: API keys \(MCP_AUTH_MODE=apikey\); development key for principal apikey:dev: (mcpk_\S+)/))[1]!;
  assert.match(aws.output(), /rate limit: on as deployed, 120 requests per 60 s per principal; MCP_RATE_LIMIT_REQUESTS/);
  const args = (await aws.waitFor(/^ {4}npm run smoke -- (.+)$/m))[1]!.split(' ');
  assert.deepEqual(args.slice(2), ['--api-key', key]);
  const smoke = startProcess(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], { env: cleanEnv() });
  children.push(smoke);
  assert.equal(await smoke.exited, 0, smoke.output());
  assert.equal(await aws.stop(), 0);
});

test("the banner prints verify's command for the echo server, whose tools it calls, and for another server says how to get it", TIMEOUT, async () => {
  const echo = await startAws({ MCP_RATE_LIMIT_ENABLED: 'false' });
  assert.match(
    echo.output(),
    /^ {4}npm run verify -- --url http:\/\/\S+ --api-url http:\/\/\S+\/dev\/mcp {3}\(the echo server's tools are what verify calls\)$/m,
  );
  assert.equal(await echo.stop(), 0);
  const notes = await startAws({ MCP_RATE_LIMIT_ENABLED: 'false' }, 'functions/notes/server.ts');
  assert.doesNotMatch(notes.output(), /npm run verify -- /);
  assert.match(
    notes.output(),
    /^ {4}npm run verify checks this path with the echo server's tools: npm run start:aws -- functions\/echo\/server\.ts prints its command$/m,
  );
  assert.equal(await notes.stop(), 0);
});

test('a mistyped path gets a message naming the servers there are', TIMEOUT, async () => {
  const child = startProcess(process.execPath, ['--import', 'tsx', 'local/start-aws.ts', 'functions/nope/handler.ts'], { env: cleanEnv({ PORT: '0' }) });
  children.push(child);
  assert.equal(await child.exited, 1);
  assert.match(
    child.output().trim(),
    /^no such file: functions\/nope\/handler\.ts\. npm run start:aws takes the path of a server definition, e\.g\. npm run start:aws -- functions\/notes\/server\.ts \(servers here: .*functions\/notes\/server\.ts.*\)$/,
  );
});

test(
  'with MCP_AWS_CONTAINERS=true the banner says where streams go, its curl listen is held by a container, and stopping it stops its tasks; a bad value is named',
  TIMEOUT,
  async () => {
    const aws = await startAws({ MCP_AWS_CONTAINERS: 'true', MCP_AWS_CONTAINER_TASKS: '2', LOG_LEVEL: 'INFO' });
    assert.match(
      aws.output(),
      /\n {2}containers: on \(MCP_AWS_CONTAINERS=true\), 2 task\(s\) behind the ALB at http:\/\/127\.0\.0\.1:\d+: notification streams \(POST subscriptions\/listen, GET with Mcp-Session-Id\) go CloudFront → VPC origin → ALB → container/,
    );
    // The banner's listen command, as a user pastes it (held 3 s, then curl lets go).
    const listen = (await aws.waitFor(/^ {4}(curl -N .+?) {3}\(a listen stream, held by a container/m))[1]!;
    const curl = startProcess('bash', ['-c', `${listen} --max-time 3`], { env: cleanEnv() });
    children.push(curl);
    await curl.exited;
    assert.match(curl.output(), /notifications\/subscriptions\/acknowledged/);
    await aws.waitFor(/\[task \d\] \{.*"method":"subscriptions\/listen","status":200/);
    assert.equal(await aws.stop(), 0);
    assert.match(aws.output(), /\[task 1\] exited \(0\)/);
    assert.match(aws.output(), /\[task 2\] exited \(0\)/);
    const bad = startProcess(process.execPath, ['--import', 'tsx', 'local/start-aws.ts', 'functions/echo/handler.ts'], {
      env: cleanEnv({ PORT: '0', MCP_AWS_CONTAINERS: 'yes' }),
    });
    children.push(bad);
    assert.equal(await bad.exited, 1);
    assert.match(bad.output(), /Configuration error: MCP_AWS_CONTAINERS: expected true or false, got "yes"/);
  },
);
