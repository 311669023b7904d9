// The container's start-up without Docker (infra/containers/bootstrap.mjs), for real: the example
// server "echo" bundled into a pack as the construct builds it (with a stand-in adapter, the real
// one being another part's), put into s3rver, then the bootstrap started exactly as the task's
// command runs it, with credentials from a local stand-in for the ECS credentials endpoint. It must
// sign its GetObject (s3rver does not check Signature Version 4, so a proxy in front of it does,
// recomputing the signature with the AWS SDK's own signer), unpack the bundle, and serve on PORT.
// Controls: a wrong secret key is refused and the bootstrap exits; a pack naming a file outside
// its folder is refused before anything is written there.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { bootstrapImport, buildContainerPack } from '../../infra/endpoint/container-image.ts';
import { startTestS3 } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUCKET = 'cdk-hnb659fds-assets-111111111111-us-east-1';
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-bootstrap-'));

/** The ECS credentials endpoint's answer, from a local server that counts its callers. */
function credentialsServer(secretAccessKey: string, token: string) {
  const calls: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    calls.push(req.headers.authorization);
    if (req.headers.authorization !== token) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        AccessKeyId: 'S3RVER',
        SecretAccessKey: secretAccessKey,
        Token: 'session-token',
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
  });
  return { server, calls };
}

/** node:crypto as the SDK signer's hash. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string | Uint8Array);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/**
 * S3's signature check in front of s3rver: the request's SigV4 signature recomputed by the SDK's
 * signer with the key S3RVER/S3RVER; a mismatch answers 403 as S3 would, a match is passed on.
 */
function signatureCheckingProxy(s3Endpoint: string): Server {
  return createServer(async (req, res) => {
    const auth = /Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(req.headers.authorization ?? '');
    if (!auth) return void res.writeHead(403).end('no SigV4 authorization');
    const [, , , region, signedHeaders, signature] = auth;
    const headers = Object.fromEntries(signedHeaders!.split(';').map((name) => [name, String(req.headers[name])]));
    const amzDate = headers['x-amz-date']!;
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const [hostname, port] = headers.host!.split(':');
    const signer = new SignatureV4({
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', sessionToken: headers['x-amz-security-token'] },
      region: region!,
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      { method: req.method!, protocol: 'http:', hostname: hostname!, port: Number(port), path: req.url!, headers, query: {} },
      { signingDate },
    );
    const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1];
    if (expected !== signature) return void res.writeHead(403).end('SignatureDoesNotMatch');
    const { host: _host, ...forwarded } = headers;
    const upstream = await fetch(`${s3Endpoint}${req.url}`, { headers: { ...forwarded, authorization: req.headers.authorization! } });
    res
      .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' })
      .end(Buffer.from(await upstream.arrayBuffer()));
  });
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The task's command, on this machine: `node --input-type=module -e <bootstrap import>`. */
function startBootstrap(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--input-type=module', '-e', bootstrapImport()], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

/** Polls `url` until it answers, failing as soon as the process exits instead. */
async function waitForHttp(url: string, child: ChildProcess, output: () => string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) assert.fail(`bootstrap exited with ${child.exitCode}: ${output()}`);
    const response = await fetch(url).catch(() => undefined);
    if (response) return response;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`nothing answered on ${url} within 60 s: ${output()}`);
}

describe('container bootstrap: bundle from the asset bucket, no Docker', () => {
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  const proxy = { server: undefined as Server | undefined, endpoint: '' };
  const children: ChildProcess[] = [];
  const key = 'a1b2c3.json.gz';

  before(async () => {
    s3 = await startTestS3(BUCKET);
    proxy.server = signatureCheckingProxy(s3.endpoint);
    proxy.endpoint = await listen(proxy.server);
    const pack = join(TMP, 'bundle.json.gz');
    buildContainerPack(join(REPO, 'functions/echo/server.ts'), join(REPO, 'test/fixtures/containers/adapter.ts'), pack);
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(pack) }));
    client.destroy();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    proxy.server?.close();
    await s3?.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  async function run(secretAccessKey: string, bundleKey = key) {
    const { server, calls } = credentialsServer(secretAccessKey, 'container-auth-token');
    const credentialsUrl = await listen(server);
    after(() => server.close());
    const port = await freePort();
    const dir = mkdtempSync(join(TMP, 'bundle-'));
    const started = startBootstrap({
      AWS_REGION: 'us-east-1',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${credentialsUrl}/v2/credentials/task`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth-token',
      AWS_ENDPOINT_URL_S3: proxy.endpoint,
      MCP_BUNDLE_BUCKET: BUCKET,
      MCP_BUNDLE_KEY: bundleKey,
      MCP_BUNDLE_DIR: dir,
      PORT: String(port),
    });
    children.push(started.child);
    return { ...started, port, dir, calls };
  }

  it('fetches the pack with signed requests, unpacks it and serves the bundled server on PORT', async () => {
    const { child, output, port, dir, calls } = await run('S3RVER');
    const health = await waitForHttp(`http://127.0.0.1:${port}/health`, child, output);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const served = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { server: string; tools: number };
    assert.equal(served.server, 'echo', 'the bundle holds the echo server definition');
    assert.ok(served.tools >= 2, `the definition's tools came with it: ${served.tools}`);
    assert.equal(calls.length, 1, 'credentials asked once, with the container authorization token');
    assert.ok(existsSync(join(dir, 'index.mjs')), 'the entry was written under MCP_BUNDLE_DIR');
    assert.match(output(), /bootstrap: bundle loaded/);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, 'SIGTERM reaches the adapter, which closes and exits');
  });

  it('control: a wrong secret key is refused (SignatureDoesNotMatch), and the bootstrap exits with the status', async () => {
    const { child, output } = await run('not-the-secret');
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0);
    assert.match(output(), /GetObject .* answered 403/);
  });

  it('control: a pack naming a file outside its folder is refused', async () => {
    const evil = gzipSync(JSON.stringify({ entry: 'index.mjs', files: { '../escaped.mjs': 'export {};', 'index.mjs': '' } }));
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'evil.json.gz', Body: evil }));
    client.destroy();
    const { child, output, dir } = await run('S3RVER', 'evil.json.gz');
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0);
    assert.match(output(), /outside its folder/);
    assert.equal(existsSync(join(dir, '..', 'escaped.mjs')), false);
  });
});

/**
 * An S3 stand-in that answers each GetObject as `script` says for that try (`ok` serves the pack,
 * `hang` never answers, `reset` drops the connection, a number answers that status), the last
 * entry for every try after; it records each try's path.
 */
function flakyS3(pack: Buffer, script: (number | 'ok' | 'hang' | 'reset')[]) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url!);
    const step = script[Math.min(paths.length, script.length) - 1];
    if (step === 'hang') return;
    if (step === 'reset') return void req.socket.destroy();
    if (step === 'ok') return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(pack);
    res.writeHead(step!, { 'content-type': 'application/xml' }).end(`<Error><Code>Status${step}</Code></Error>`);
  });
  return { server, paths };
}

describe('container bootstrap: timeouts and retries of the bundle fetch', () => {
  // A pack whose entry serves HTTP on PORT: enough to see the bootstrap got it and ran it.
  const pack = gzipSync(
    JSON.stringify({
      entry: 'index.mjs',
      files: {
        'index.mjs': "import { createServer } from 'node:http';\ncreateServer((q, r) => r.end('served')).listen(Number(process.env.PORT), '127.0.0.1');\n",
      },
    }),
  );
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  const dirs: string[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const server of servers) server.closeAllConnections(), server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function run(script: Parameters<typeof flakyS3>[1], env: Record<string, string> = {}) {
    const s3 = flakyS3(pack, script);
    const creds = credentialsServer('secret', 'token');
    servers.push(s3.server, creds.server);
    const [s3Url, credentialsUrl, port] = [await listen(s3.server), await listen(creds.server), await freePort()];
    const started = startBootstrap({
      AWS_REGION: 'us-east-1',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${credentialsUrl}/v2/credentials/task`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'token',
      AWS_ENDPOINT_URL_S3: s3Url,
      MCP_BUNDLE_BUCKET: BUCKET,
      MCP_BUNDLE_KEY: 'assets/abc123.json.gz',
      MCP_BUNDLE_DIR: dirs[dirs.push(mkdtempSync(join(tmpdir(), 'mcp-kit-bootstrap-retry-'))) - 1]!,
      MCP_BUNDLE_RETRY_MS: '20',
      MCP_BUNDLE_TIMEOUT_MS: '1000',
      MCP_BUNDLE_ATTEMPTS: '4',
      PORT: String(port),
      ...env,
    });
    children.push(started.child);
    return { ...started, port, paths: s3.paths };
  }

  const retries = (output: string) => output.split('\n').filter((line) => line.includes('trying again'));

  it('tries again after 500, 503 throttling and a dropped connection, then serves', async () => {
    const { child, output, port, paths } = await run([500, 503, 'reset', 'ok']);
    const answer = await waitForHttp(`http://127.0.0.1:${port}/`, child, output);
    assert.equal(await answer.text(), 'served');
    assert.equal(paths.length, 4);
    assert.deepEqual(new Set(paths), new Set([`/${BUCKET}/assets/abc123.json.gz`]), 'the same object each try');
    const lines = retries(output()).map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((l) => [l.level, l.attempt, l.bucket, l.key]),
      [1, 2, 3].map((attempt) => ['WARN', attempt, BUCKET, 'assets/abc123.json.gz']),
    );
    assert.match(lines[0].error, /answered 500/);
    assert.match(lines[1].error, /answered 503/);
  });

  it('gives up on a try that hangs after MCP_BUNDLE_TIMEOUT_MS and tries again', async () => {
    const started = Date.now();
    const { child, output, port, paths } = await run(['hang', 'ok'], { MCP_BUNDLE_TIMEOUT_MS: '300' });
    await waitForHttp(`http://127.0.0.1:${port}/`, child, output);
    assert.equal(paths.length, 2);
    assert.match(retries(output())[0]!, /no answer within 300 ms/);
    assert.ok(Date.now() - started >= 300, 'the first try was waited for up to its limit');
  });

  it('fails at once on 403, naming the bucket, the key and what to check, and exits non-zero', async () => {
    const { child, output, paths } = await run([403]);
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.equal(paths.length, 1, 'no retry: another try would be refused too');
    assert.equal(retries(output()).length, 0);
    const line = JSON.parse(
      output()
        .split('\n')
        .find((l) => l.includes('did not start'))!,
    );
    assert.equal(line.level, 'ERROR');
    assert.match(line.error, new RegExp(`answered 403.*bucket ${BUCKET}, key assets/abc123\\.json\\.gz.*task role may s3:GetObject`));
  });

  it('fails at once on 404, saying to check that the asset was published', async () => {
    const { child, output, paths } = await run([404]);
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.equal(paths.length, 1);
    assert.match(output(), /answered 404.*asset was published/);
  });

  it('exits non-zero after MCP_BUNDLE_ATTEMPTS tries that all fail, so ECS replaces the task', async () => {
    const { child, output, paths } = await run([503], { MCP_BUNDLE_ATTEMPTS: '3' });
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.equal(paths.length, 3);
    assert.equal(retries(output()).length, 2, 'a warning between tries, the error after the last');
    assert.match(output(), /did not start.*answered 503/);
  });
});
