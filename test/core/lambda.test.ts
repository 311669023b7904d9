// The Lambda entry point (functions/notes/handler.ts), bundled as deployed and run in modelled
// execution environments behind the API Gateway model, sharing a DynamoDB emulator with a
// Node-served instance: a session minted by one serves on the other. Secrets Manager is the one
// AWS service faked here (a loopback endpoint answering GetSecretValue).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resolveSecrets } from '../../shared/adapters/secrets.ts';
import notes from '../../functions/notes/server.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { startInProcess } from '../helpers/server.ts';

const KEY = 'lambda-test-request-state-key-0123456789';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A loopback Secrets Manager answering GetSecretValue for one ARN with whatever `secret` holds now. */
async function fakeSecretsManager(secret: { value: Record<string, string> }) {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const ok = req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && JSON.parse(body).SecretId === 'arn:test:secret';
      res.writeHead(ok ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(ok ? JSON.stringify({ SecretString: JSON.stringify(secret.value) }) : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

describe('Lambda adapter', () => {
  const secret = { value: { MCP_REQUEST_STATE_KEY: KEY } as Record<string, string> };
  let secrets: Awaited<ReturnType<typeof fakeSecretsManager>>;
  let path: AwsPath;
  let node: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    secrets = await fakeSecretsManager(secret);
    path = await startAwsPath(
      'functions/notes/handler.ts',
      { MCP_SECRETS_ARN: 'arn:test:secret', AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint, MCP_REQUEST_STATE_KEY: '' },
      { concurrency: 2 },
    );
    node = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: path.dynamoEndpoint, MCP_REQUEST_STATE_KEY: KEY });
  });
  after(async () => {
    await node.stop();
    await path.stop();
    await secrets.close();
  });

  it('answers /health without touching the data plane', async () => {
    const res = await fetch(`${path.baseUrl}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ok',
      server: 'notes',
      version: '1.0.0',
      // No Redis here: what needs it says so.
      features: {
        rateLimit: 'off: Redis is not configured',
        cache: 'in-process',
        events: 'in-process',
        relay: 'table',
        streamCaps: 'no streams: Redis is not configured',
      },
    });
  });

  it('serves a modern tools/call', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'lambda-test', version: '1' },
    };
    const res = await fetch(path.url, {
      method: 'POST',
      headers: { ...HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'from lambda' }, _meta: meta } }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, 'from lambda');
    assert.ok(res.headers.get('x-request-id'));
  });

  it('a session initialized on the Lambda is served by another instance, and back', async () => {
    const init = await fetch(path.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id')!;
    assert.ok(sessionId);
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const add = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'note_add', arguments: { text: 'via lambda' } } });
    const added = await fetch(path.url, { method: 'POST', headers: { ...HEADERS, ...session }, body: add });
    assert.equal(added.status, 200, await added.text());

    const list = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'note_list', arguments: {} } });
    const res = await fetch(node.url, { method: 'POST', headers: { ...HEADERS, ...session }, body: list });
    assert.equal(((await res.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, '1. via lambda');

    const del = await fetch(path.url, { method: 'DELETE', headers: session });
    assert.equal(del.status, 204);
  });

  it('answers 503 while the secret holds an invalid value, and heals once it is fixed, in the same environment', async () => {
    const broken = await startAwsPath(
      'functions/notes/handler.ts',
      { MCP_SECRETS_ARN: 'arn:test:secret', AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint, MCP_REQUEST_STATE_KEY: '' },
      { concurrency: 1 },
    );
    try {
      secret.value = { MCP_REQUEST_STATE_KEY: 'too short' };
      const res = await fetch(`${broken.baseUrl}/health`);
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /could not start; its logs name the setting to fix/);
      await broken.waitForLog(/MCP_REQUEST_STATE_KEY: must be at least 32 bytes/);
      secret.value = { MCP_REQUEST_STATE_KEY: KEY };
      // The answer ends before its invocation does: the one environment takes the next request once free.
      while (broken.lambda.counts().idle !== 1) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await fetch(`${broken.baseUrl}/health`)).status, 200);
      assert.deepEqual(new Set(broken.lambda.invocations.map((i) => i.environment)), new Set([1]), 'no new environment was needed');
    } finally {
      secret.value = { MCP_REQUEST_STATE_KEY: KEY };
      await broken.stop();
    }
  });

  it('fills unset variables from the MCP_SECRETS_ARN secret, never overriding the environment', async () => {
    secret.value = { MCP_REQUEST_STATE_KEY: KEY, LOG_LEVEL: 'DEBUG' };
    // The SDK's credential chain reads this process's environment, as it does on Lambda.
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    try {
      const env = await resolveSecrets({
        MCP_SECRETS_ARN: 'arn:test:secret',
        LOG_LEVEL: 'WARN',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      });
      assert.equal(env.MCP_REQUEST_STATE_KEY, KEY);
      assert.equal(env.LOG_LEVEL, 'WARN');
    } finally {
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
