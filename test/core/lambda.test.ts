// The Lambda entry point driven in-process with synthetic API Gateway REST events, sharing a
// DynamoDB emulator with a Node-served instance: a session minted by one serves on the other.
// Secrets Manager is the one AWS service faked here (a loopback endpoint answering GetSecretValue).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { installLambdaRuntime, invoke, restEvent } from '../../local/lambda-runtime.ts';
import { lambdaHandler, resolveSecrets } from '../../functions/lambda.ts';
import notes from '../../functions/notes/server.ts';
import { QUIET, startInProcess, startTestDynamo } from '../helpers/server.ts';

const KEY = 'lambda-test-request-state-key-0123456789';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('Lambda adapter', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let handler: unknown;
  let node: Awaited<ReturnType<typeof startInProcess>>;
  let secrets: Server;
  let secretsEndpoint: string;

  before(async () => {
    dynamo = await startTestDynamo();
    secrets = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const ok = req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && JSON.parse(body).SecretId === 'arn:test:secret';
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(ok ? JSON.stringify({ SecretString: JSON.stringify({ MCP_REQUEST_STATE_KEY: KEY, LOG_LEVEL: 'DEBUG' }) }) : '{}');
      });
    });
    await new Promise<void>((r) => secrets.listen(0, '127.0.0.1', r));
    secretsEndpoint = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;

    Object.assign(process.env, {
      ...QUIET,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
      MCP_SECRETS_ARN: 'arn:test:secret',
    });
    installLambdaRuntime();
    ({ handler } = await import('../../functions/notes/handler.ts'));
    node = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_REQUEST_STATE_KEY: KEY });
  });
  after(async () => {
    await node.stop();
    await dynamo.stop();
    await new Promise((r) => secrets.close(r));
    delete process.env.MCP_SECRETS_ARN;
  });

  it('answers /health without touching the data plane', async () => {
    const res = await invoke(handler, restEvent({ method: 'GET', path: '/health' }));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), {
      status: 'ok',
      server: 'notes',
      version: '1.0.0',
      // No Redis here: what needs it says so.
      features: { rateLimit: 'off', cache: 'in-process', events: 'in-process', relay: 'table' },
    });
  });

  it('serves a modern tools/call', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { text: 'from lambda' },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'lambda-test', version: '1' },
        },
      },
    });
    const res = await invoke(
      handler,
      restEvent({ method: 'POST', path: '/mcp', headers: { ...HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, body }),
    );
    assert.equal(res.statusCode, 200);
    assert.equal(JSON.parse(res.body).result.content[0].text, 'from lambda');
    assert.ok(res.headers['x-request-id']);
  });

  it('a session initialized on the Lambda is served by another instance, and back', async () => {
    const init = await invoke(
      handler,
      restEvent({
        method: 'POST',
        path: '/mcp',
        headers: HEADERS,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      }),
    );
    assert.equal(init.statusCode, 200);
    const sessionId = init.headers['mcp-session-id']!;
    assert.ok(sessionId);
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const add = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'note_add', arguments: { text: 'via lambda' } } });
    const added = await invoke(handler, restEvent({ method: 'POST', path: '/mcp', headers: { ...HEADERS, ...session }, body: add }));
    assert.equal(added.statusCode, 200, added.body);

    const list = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'note_list', arguments: {} } });
    const res = await fetch(node.url, { method: 'POST', headers: { ...HEADERS, ...session }, body: list });
    assert.equal(((await res.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, '1. via lambda');

    const del = await invoke(handler, restEvent({ method: 'DELETE', path: '/mcp', headers: session }));
    assert.equal(del.statusCode, 204);
  });

  it('answers 503 while the configuration is invalid, and recovers once it is fixed, without a restart', async () => {
    const env: Record<string, string | undefined> = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, LOG_LEVEL: 'ERROR', MCP_SESSION_TTL_SECONDS: 'soon' };
    const broken = lambdaHandler(notes, env);
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => void errors.push(line);
    try {
      const res = await invoke(broken, restEvent({ method: 'GET', path: '/health' }));
      assert.equal(res.statusCode, 503);
      assert.match(JSON.parse(res.body).error.message, /could not start; its logs name the setting to fix/);
      assert.match(errors.join('\n'), /MCP_SESSION_TTL_SECONDS: expected a whole number/);
    } finally {
      console.error = original;
    }
    env.MCP_SESSION_TTL_SECONDS = '3600';
    const res = await invoke(broken, restEvent({ method: 'GET', path: '/health' }));
    assert.equal(res.statusCode, 200);
  });

  it('fills unset variables from the MCP_SECRETS_ARN secret, never overriding the environment', async () => {
    const env = await resolveSecrets({ MCP_SECRETS_ARN: 'arn:test:secret', LOG_LEVEL: 'WARN', AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint });
    assert.equal(env.MCP_REQUEST_STATE_KEY, KEY);
    assert.equal(env.LOG_LEVEL, 'WARN');
  });
});
