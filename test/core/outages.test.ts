// When a dependency is down, the caller is told which one and when to retry (503, Retry-After, a
// JSON-RPC error naming it), GET /health stays cheap and up, and GET /health?ready reports each
// dependency; everything recovers without a restart. Also: a client that leaves mid-body is
// logged as such, unknown paths answer JSON with the security headers, and a deployed stage
// refuses browser origins it was not told about.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { startDynamo } from '../../local/dynamo.ts';
import type { KitLogger } from '../../shared/log.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const initialize = (url: string) =>
  fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'outage', version: '1' } },
    }),
  });

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dependency outages', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let port: number;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  const base = () => server.url.replace(/\/mcp$/, '');

  before(async () => {
    dynamo = await startTestDynamo();
    port = Number(new URL(dynamo.endpoint).port);
    // S3 points at a closed port: down from the start.
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
  });
  after(async () => {
    await server.stop();
    await dynamo.stop();
  });

  it('DynamoDB down: initialize gets 503 with Retry-After naming DynamoDB; /health stays 200; readiness says which', async () => {
    assert.equal((await initialize(server.url)).status, 200, 'control: with DynamoDB up, initialize works');
    await dynamo.stop();
    const down = await initialize(server.url);
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '5');
    const body = (await down.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /^Service Unavailable: DynamoDB is unavailable \(request id [0-9a-f-]{36}\); retry shortly$/);
    assert.equal((await fetch(`${base()}/health`)).status, 200, '/health touches no dependency');
    const ready = await until(
      () => fetch(`${base()}/health?ready`).then(async (r) => ({ status: r.status, body: (await r.json()) as any })),
      (r) => r.body.dependencies.dynamodb.status === 'unavailable',
    );
    assert.equal(ready.status, 503);
    assert.equal(ready.body.dependencies.dynamodb.status, 'unavailable');
    assert.equal(ready.body.dependencies.dynamodb.error, 'DynamoDB is unavailable', 'named, without the connection error (anyone may ask)');
    assert.equal(ready.body.dependencies.s3.status, 'unavailable');
    assert.equal(ready.body.dependencies.redis.status, 'not configured');
    assert.equal(typeof ready.body.dependencies.dynamodb.latencyMs, 'number');
  });

  it('recovers without a restart once DynamoDB is back', async () => {
    dynamo = await startDynamo({ port });
    const { ensureTable } = await import('../../local/dynamo.ts');
    const { createDynamoClient } = await import('../../shared/store/table.ts');
    await ensureTable(await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
    assert.equal((await initialize(server.url)).status, 200);
    const ready = await until(
      () => fetch(`${base()}/health?ready`).then(async (r) => (await r.json()) as any),
      (r) => r.dependencies.dynamodb.status === 'ok',
    );
    assert.equal(ready.dependencies.dynamodb.status, 'ok');
  });

  it('S3 down: an export says artifact storage is unavailable, and nothing half-written is linked', async () => {
    const init = await initialize(server.url);
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { ...HEADERS, ...session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notebook_export', arguments: {} } }),
    });
    const answer = (await res.json()) as { result: { isError: boolean; content: { type: string; text: string }[] } };
    assert.equal(answer.result.isError, true);
    assert.match(answer.result.content[0]!.text, /artifact storage unavailable/);
    assert.ok(
      answer.result.content.every((c) => c.type === 'text'),
      'no link to an object that was not written',
    );
  });
});

describe('edges of the HTTP surface', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  const lines: { level: string; message: string; data?: unknown }[] = [];
  const log: KitLogger = Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [level, (message: string, data?: unknown) => void lines.push({ level, message, data })]),
  ) as unknown as KitLogger;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let deployed: Awaited<ReturnType<typeof startInProcess>>;
  let listed: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint }, { log });
    deployed = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_STAGE: 'dev' });
    listed = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_STAGE: 'dev', MCP_ALLOWED_ORIGINS: 'https://app.example.com' });
  });
  after(async () => {
    await Promise.all([server.stop(), deployed.stop(), listed.stop()]);
    await dynamo.stop();
  });

  it('a client that goes away mid-body is logged as such, not as a server error, and the server keeps serving', async () => {
    const url = new URL(server.url);
    await new Promise<void>((resolve) => {
      // Expect: 100-continue makes the server answer once it has the request, so the body is cut
      // while the server reads it, not before it saw the request at all.
      const headers = { 'content-type': 'application/json', 'transfer-encoding': 'chunked', expect: '100-continue' };
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers });
      req.on('error', () => resolve());
      req.on('continue', () => req.write('{"jsonrpc":"2.0","id":1,', () => (req.destroy(), resolve())));
      req.flushHeaders();
    });
    const logged = await until(
      async () => lines.find((l) => l.message === 'client went away'),
      (l) => l !== undefined,
      3000,
    );
    assert.ok(logged, 'logged the departure');
    assert.equal(logged.level, 'info');
    assert.equal(lines.filter((l) => l.level === 'error').length, 0, 'no error lines');
    assert.equal((await initialize(server.url)).status, 200);
  });

  it('unknown paths answer a JSON 404 with the security headers', async () => {
    const res = await fetch(server.url.replace(/\/mcp$/, '/nope'));
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /^Not Found: GET \/nope; this server serves MCP at \/mcp and its health at GET \/health$/);
  });

  it('a deployed stage without MCP_ALLOWED_ORIGINS refuses a browser origin, naming the setting; without Origin it serves', async () => {
    const withOrigin = await fetch(deployed.url, {
      method: 'POST',
      headers: { ...HEADERS, origin: 'https://app.example.com' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(withOrigin.status, 403);
    assert.match(
      ((await withOrigin.json()) as { error: { message: string } }).error.message,
      /Origin "https:\/\/app\.example\.com" is not allowed; list .* in MCP_ALLOWED_ORIGINS/,
    );
    assert.equal((await initialize(deployed.url)).status, 200, 'control: no Origin header');
  });

  it('a listed origin passes on a deployed stage; another is refused', async () => {
    const ok = await fetch(listed.url, {
      method: 'POST',
      headers: { ...HEADERS, origin: 'https://app.example.com' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'o', version: '1' } },
      }),
    });
    assert.equal(ok.status, 200);
    const other = await fetch(listed.url, {
      method: 'POST',
      headers: { ...HEADERS, origin: 'https://evil.example.com' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(other.status, 403);
  });
});
