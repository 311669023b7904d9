// `npm run verify` against the modelled deployed path: every check passes on the model as the
// construct builds it (API keys on, Redis configured), and each fails, naming its cause, on a
// model broken in that one way. The 20 s silence is scaled down to 2 s (keep-alive 0.4 s). REPORT
// lines come from a stand-in for CloudWatch Logs that takes only SigV4-signed FilterLogEvents calls.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPathOptions } from '../helpers/aws.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ECHO = 'functions/echo/handler.ts';
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-verify-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Result {
  check: string;
  status: 'PASS' | 'FAIL' | 'SKIPPED';
  detail: string;
  fix?: string;
}

/** The script in a child process, without AWS credentials unless `env` gives some; the report it wrote. */
function verify(args: string[], apiKey: string, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; results: Result[] }> {
  const report = join(TMP, `report-${Math.random().toString(36).slice(2)}.json`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'MCP_API_KEY'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/verify.ts', ...args, '--report', report], {
      cwd: REPO,
      env: { ...env, ...extraEnv, MCP_API_KEY: apiKey },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, results: (JSON.parse(readFileSync(report, 'utf8')) as { results: Result[] }).results }));
  });
}

/** Runs verify against the echo server on a model built with `env` and `options`. */
async function verifyModel(env: Record<string, string> = {}, options: AwsPathOptions = {}, extraArgs: string[] = [], verifyEnv: Record<string, string> = {}) {
  const path = await startAwsPath(
    ECHO,
    { MCP_AUTH_MODE: 'apikey', MCP_SSE_KEEPALIVE_MS: '400', MCP_TASK_POLL_MS: '100', MCP_EVENT_POLL_MS: '100', ...env },
    { concurrency: 6, redis: true, ...options },
  );
  try {
    const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), {
      cacheSeconds: 1,
    });
    const { key } = await store.create({ principalId: 'verify', scopes: [] });
    return await verify(['--url', path.url, '--api-url', path.apiUrl, '--silence', '2', '--timeout', '8000', ...extraArgs], key, verifyEnv);
  } finally {
    await path.stop();
  }
}

const failed = (results: Result[]) => results.filter((r) => r.status === 'FAIL').map((r) => r.check);
const result = (results: Result[], check: RegExp) => results.find((r) => check.test(r.check))!;

/** A stand-in for CloudWatch Logs: FilterLogEvents on one log group, signed requests only. */
async function startLogs(): Promise<{ url: string; calls: string[]; close(): void }> {
  const calls: string[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const signed =
      /^AWS4-HMAC-SHA256 Credential=AKIDVERIFYTEST\/\d{8}\/us-east-1\/logs\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/.test(
        req.headers.authorization ?? '',
      );
    calls.push(`${req.headers['x-amz-target']} ${JSON.parse(body).logGroupName} ${signed ? 'signed' : 'unsigned'}`);
    if (!signed)
      return void res
        .writeHead(403, { 'content-type': 'application/x-amz-json-1.1' })
        .end(JSON.stringify({ __type: 'AccessDeniedException', message: 'unsigned' }));
    const line = (init: string) => ({
      message: `REPORT RequestId: x\tDuration: 3.1 ms\tBilled Duration: 4 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\t${init}`,
    });
    res
      .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      .end(JSON.stringify({ events: [line('Init Duration: 412.5 ms'), line(''), line('Init Duration: 380.2 ms')] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, close: () => server.close() };
}

describe('npm run verify', () => {
  it('passes every check against the model as the construct builds it, REPORT lines read with AWS credentials', async () => {
    const logs = await startLogs();
    const credentials = { AWS_ACCESS_KEY_ID: 'AKIDVERIFYTEST', AWS_SECRET_ACCESS_KEY: 'verify-test-secret', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url };
    const { code, stdout, results } = await verifyModel({}, {}, ['--log-group', '/aws/lambda/echo', '--region', 'us-east-1'], credentials).finally(() =>
      logs.close(),
    );
    assert.equal(code, 0, stdout);
    assert.deepEqual(failed(results), [], stdout);
    assert.deepEqual(
      results.filter((r) => r.status !== 'PASS').map((r) => r.check),
      [],
    );
    assert.equal(result(results, /REPORT/).detail, '3 invocations; init p50 413 ms, max 413 ms (2 cold starts); memory up to 96 of 1024 MB');
    assert.deepEqual(logs.calls, ['Logs_20140328.FilterLogEvents /aws/lambda/echo signed']);
    assert.match(result(results, /keep-alives/).detail, /first byte \(a keep-alive\) after \d+ ms of a 2000 ms silence/);
    assert.match(stdout, /passed; report written to/);
  });

  it('fails the challenge check when nothing restores WWW-Authenticate at the edge (and skips REPORT lines, saying why)', async () => {
    const { code, results } = await verifyModel({}, { edge: {} });
    assert.equal(code, 1);
    assert.deepEqual(failed(results), ['401 carries WWW-Authenticate']);
    assert.match(result(results, /REPORT/).detail, /pass --log-group/);
    assert.match(result(results, /401/).detail, /x-amzn-Remapped-WWW-Authenticate instead/);
    assert.match(result(results, /401/).fix!, /origin-response Lambda@Edge function/);
  });

  it("fails the keep-alive check when CloudFront buffers answers (and so the listen stream's events)", async () => {
    const { results } = await verifyModel({}, { brokenCloudFront: { bufferResponses: true } });
    assert.deepEqual(failed(results), ['keep-alives of a silent call stream', 'events reach a listen stream']);
    assert.match(result(results, /keep-alives/).detail, /the first byte arrived after \d+ ms, once the 2000 ms silence was over/);
    assert.match(result(results, /keep-alives/).fix!, /buffers streamed answers/);
  });

  it('fails the error-cache check when CloudFront keeps error answers', async () => {
    const { results } = await verifyModel({}, { errorCachingSeconds: 10 });
    assert.deepEqual(failed(results), ['error answers are not cached']);
    assert.match(result(results, /error answers/).detail, /came from CloudFront's cache \(Age: \d+\)/);
  });

  it('fails the origin-lock check when the function does not check the origin header', async () => {
    const { results } = await verifyModel({ MCP_ORIGIN_VERIFY: 'false' });
    assert.deepEqual(failed(results), ['the API URL refuses requests around CloudFront']);
    assert.match(result(results, /API URL/).detail, /answered 200 to a request without CloudFront's origin header/);
  });

  it('stops at the first check, naming the origin header, when CloudFront does not send it', async () => {
    const { results } = await verifyModel({}, { brokenCloudFront: { omitOriginHeader: true } });
    assert.deepEqual(
      results.map((r) => `${r.status} ${r.check}`),
      ['FAIL CloudFront reaches the function'],
    );
    assert.match(results[0]!.detail, /refused CloudFront's request for lacking the origin header/);
  });

  it('fails the events check when events cannot cross execution environments (no Redis)', async () => {
    const { results } = await verifyModel({}, { redis: false });
    assert.deepEqual(failed(results), ['events reach a listen stream']);
    assert.match(result(results, /events/).fix!, /UPSTASH_REDIS_REST_URL/);
  });

  it("fails the task check when the task's worker cannot be started", async () => {
    const { results } = await verifyModel({ AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9' });
    assert.deepEqual(failed(results), ['a task completes']);
    assert.match(result(results, /task/).detail, /the task could not be started: Lambda is unavailable/);
  });
});
