// `npm run rollback` (scripts/rollback.ts) against a stand-in for the Lambda API that keeps one
// function's versions and its live alias and records every request: after a release the alias goes
// back to the version before; mid-shift all traffic goes back to the old version and the script says
// how to stop the CodeDeploy deployment; it refuses what it cannot do, saying why.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';

const REPO = new URL('../..', import.meta.url).pathname;

interface AliasState {
  FunctionVersion: string;
  RoutingConfig?: { AdditionalVersionWeights: Record<string, number> };
}

/** The Lambda API for one function: ListVersionsByFunction, GetAlias, UpdateAlias; signed requests only. */
async function startLambda(versions: string[], alias: AliasState) {
  const calls: { method: string; path: string; body?: unknown }[] = [];
  const state = { alias: structuredClone(alias) };
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url!, 'http://x');
    calls.push({ method: req.method!, path: url.pathname, ...(body && { body: JSON.parse(body) }) });
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (!/^AWS4-HMAC-SHA256 Credential=AKIDROLLBACK\/\d{8}\/eu-west-1\/lambda\/aws4_request/.test(req.headers.authorization ?? '')) {
      return json(403, { Type: 'User', message: 'unsigned' });
    }
    if (req.method === 'GET' && url.pathname === '/2015-03-31/functions/notes-fn/versions') {
      return json(200, { Versions: ['$LATEST', ...versions].map((Version) => ({ FunctionName: 'notes-fn', Version })) });
    }
    if (url.pathname === '/2015-03-31/functions/notes-fn/aliases/live') {
      if (req.method === 'PUT') state.alias = JSON.parse(body);
      return json(200, { Name: 'live', ...state.alias });
    }
    res
      .writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException', 'content-type': 'application/json' })
      .end(JSON.stringify({ Type: 'User', Message: `Function not found: ${url.pathname}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, state, close: () => server.close() };
}

async function rollback(endpoint: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH,
    HOME: '/nonexistent',
    AWS_ACCESS_KEY_ID: 'AKIDROLLBACK',
    AWS_SECRET_ACCESS_KEY: 'rollback-secret',
    AWS_ENDPOINT_URL_LAMBDA: endpoint,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/rollback.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

const FLAGS = ['--function', 'notes-fn', '--region', 'eu-west-1'];
const stopped: (() => void)[] = [];
after(() => {
  for (const close of stopped) close();
});

describe('npm run rollback', () => {
  it('after a release, moves the live alias to the version before it', async () => {
    const lambda = await startLambda(['1', '2', '3'], { FunctionVersion: '3' });
    stopped.push(lambda.close);
    const { code, stdout, stderr } = await rollback(lambda.url, FLAGS);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /live: moved from version 3 to 2/);
    const update = lambda.calls.find((c) => c.method === 'PUT');
    assert.deepEqual(update, {
      method: 'PUT',
      path: '/2015-03-31/functions/notes-fn/aliases/live',
      body: { FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} } },
    });
    assert.equal(lambda.state.alias.FunctionVersion, '2');
  });

  it('goes to --to when given, and refuses a version that does not exist', async () => {
    const lambda = await startLambda(['1', '2', '3'], { FunctionVersion: '3' });
    stopped.push(lambda.close);
    assert.equal((await rollback(lambda.url, [...FLAGS, '--to', '1'])).code, 0);
    assert.equal(lambda.state.alias.FunctionVersion, '1');
    const missing = await rollback(lambda.url, [...FLAGS, '--to', '7']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--to 7: no such version of notes-fn \(published: 1, 2, 3\)/);
    assert.equal(lambda.calls.filter((c) => c.method === 'PUT').length, 1, 'nothing moved the second time');
  });

  it('mid-shift, sends all traffic back to the old version and prints how to stop the CodeDeploy deployment', async () => {
    const lambda = await startLambda(['1', '2', '3'], { FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '3': 0.1 } } });
    stopped.push(lambda.close);
    const { code, stdout, stderr } = await rollback(lambda.url, [...FLAGS, '--application', 'notes-app', '--deployment-group', 'notes-group']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lambda.state.alias, { FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} } });
    assert.match(stdout, /all traffic back on version 2 \(version 3 was taking a share of it\)/);
    assert.match(
      stdout,
      /aws deploy stop-deployment --auto-rollback-enabled --region eu-west-1 --deployment-id "\$\(aws deploy list-deployments --region eu-west-1 --application-name notes-app --deployment-group-name notes-group --include-only-statuses InProgress/,
    );
    assert.ok(!lambda.calls.some((c) => c.path.endsWith('/versions')), "mid-shift the old version is the alias's own: no listing needed");
  });

  it('refuses with a reason when there is nothing to go back to, or no function named', async () => {
    const lambda = await startLambda(['1'], { FunctionVersion: '1' });
    stopped.push(lambda.close);
    const oldest = await rollback(lambda.url, FLAGS);
    assert.equal(oldest.code, 1);
    assert.match(oldest.stderr, /alias live is on version 1, the oldest published version: there is none to go back to/);
    const usage = await rollback(lambda.url, ['--region', 'eu-west-1']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--function is required: the stack's RollbackCommand output gives it/);
    const unknown = await rollback(lambda.url, ['--function', 'other-fn', '--region', 'eu-west-1']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Function not found/);
    assert.ok(!lambda.calls.some((c) => c.method === 'PUT'));
  });
});
