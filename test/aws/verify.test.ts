// `npm run verify` against the modelled deployed path: every check passes on the model as the
// construct builds it (API keys on, Redis configured), and each fails, naming its cause, on a
// model broken in that one way. The 20 s silence is scaled down to 2 s (keep-alive 0.4 s).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

/** The script in a child process, without AWS credentials; the report it wrote. */
function verify(args: string[], apiKey: string): Promise<{ code: number | null; stdout: string; results: Result[] }> {
  const report = join(TMP, `report-${Math.random().toString(36).slice(2)}.json`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'MCP_API_KEY'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/verify.ts', ...args, '--report', report], { cwd: REPO, env: { ...env, MCP_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, results: (JSON.parse(readFileSync(report, 'utf8')) as { results: Result[] }).results }));
  });
}

/** Runs verify against the echo server on a model built with `env` and `options`. */
async function verifyModel(env: Record<string, string> = {}, options: AwsPathOptions = {}) {
  const path = await startAwsPath(ECHO, { MCP_AUTH_MODE: 'apikey', MCP_SSE_KEEPALIVE_MS: '400', MCP_TASK_POLL_MS: '100', MCP_EVENT_POLL_MS: '100', ...env }, { concurrency: 6, redis: true, ...options });
  try {
    const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), { cacheSeconds: 1 });
    const { key } = await store.create({ principalId: 'verify', scopes: [] });
    return await verify(['--url', path.url, '--api-url', path.apiUrl, '--silence', '2', '--timeout', '8000'], key);
  } finally {
    await path.stop();
  }
}

const failed = (results: Result[]) => results.filter((r) => r.status === 'FAIL').map((r) => r.check);
const result = (results: Result[], check: RegExp) => results.find((r) => check.test(r.check))!;

describe('npm run verify', () => {
  it('passes every check against the model as the construct builds it, and says why REPORT lines are skipped', async () => {
    const { code, stdout, results } = await verifyModel();
    assert.equal(code, 0, stdout);
    assert.deepEqual(failed(results), [], stdout);
    assert.deepEqual(results.filter((r) => r.status === 'SKIPPED').map((r) => r.check), ['REPORT lines: init and memory']);
    assert.match(result(results, /REPORT/).detail, /--log-group/);
    assert.match(result(results, /keep-alives/).detail, /first byte \(a keep-alive\) after \d+ ms of a 2000 ms silence/);
    assert.match(stdout, /passed; report written to/);
  });

  it('fails the challenge check when nothing restores WWW-Authenticate at the edge', async () => {
    const { code, results } = await verifyModel({}, { edge: {} });
    assert.equal(code, 1);
    assert.deepEqual(failed(results), ['401 carries WWW-Authenticate']);
    assert.match(result(results, /401/).detail, /x-amzn-Remapped-WWW-Authenticate instead/);
    assert.match(result(results, /401/).fix!, /origin-response Lambda@Edge function/);
  });

  it('fails the keep-alive check when CloudFront buffers answers (and so the listen stream\'s events)', async () => {
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
    assert.deepEqual(results.map((r) => `${r.status} ${r.check}`), ['FAIL CloudFront reaches the function']);
    assert.match(results[0]!.detail, /refused CloudFront's request for lacking the origin header/);
  });

  it('fails the events check when events cannot cross execution environments (no Redis)', async () => {
    const { results } = await verifyModel({}, { redis: false });
    assert.deepEqual(failed(results), ['events reach a listen stream']);
    assert.match(result(results, /events/).fix!, /UPSTASH_REDIS_REST_URL/);
  });

  it('fails the task check when the task\'s worker cannot be started', async () => {
    const { results } = await verifyModel({ AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9' });
    assert.deepEqual(failed(results), ['a task completes']);
    assert.match(result(results, /task/).detail, /the task could not be started: Lambda is unavailable/);
  });
});
