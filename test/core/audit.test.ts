// The audit log: each security event, caused through a real HTTP server by real SDK clients (the
// key events by `npm run keys` itself), is one JSON line marked `"audit": true` naming the event,
// who (a principal, or for a failed authentication the source address and a hash prefix of what
// was sent, never the credential), the request id and the trace id. Written at log level ERROR,
// where nothing else of these calls is; a successful call writes none.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiKeyStore, apiKeyId } from '../../shared/auth/api-keys.ts';
import { createLogger } from '../../shared/log.ts';
import { confirmToken } from '../../shared/server/confirm.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
type Line = Record<string, unknown>;

const server = defineServer({
  name: 'audited',
  version: '1.0.0',
  tools: [
    tool('ping', { description: 'Answers pong', input: z.object({}) }, () => 'pong'),
    tool('rotate_secrets', { description: 'An administrative action', input: z.object({}), scopes: ['admin'] }, () => 'rotated'),
    tool('erase', { description: 'Erases, once the user confirms', input: z.object({ confirm: confirmToken }) }, async (_args, ctx) => {
      const answer = await ctx.confirm('Erase everything?', { version: 1 });
      if (answer.status === 'ask') return answer.result;
      return answer.status === 'confirmed' ? 'erased' : 'kept';
    }),
    tool('hang', { description: 'Waits until cancelled', input: z.object({}), task: 'optional' }, async (_args, ctx) => {
      await ctx.task.start();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      return 'let go';
    }),
  ],
});

describe('audit log', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let redis: TestRedis;
  let main: Awaited<ReturnType<typeof startInProcess>>;
  let limited: Awaited<ReturnType<typeof startInProcess>>;
  let keys: ApiKeyStore;
  let alice: string;
  const lines: Line[] = [];
  const opened: { close(): Promise<void> }[] = [];
  const audits = (event: string) => lines.filter((l) => l.audit === true && l.event === event);

  before(async () => {
    [dynamo, redis] = await Promise.all([startTestDynamo(), startTestRedis()]);
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_REQUEST_STATE_KEY: 'audit-test-request-state-key-0123456789',
      MCP_TASK_POLL_MS: '100',
      ...redis.env,
    };
    // ERROR: audit lines are written whatever the level.
    const log = createLogger({ logLevel: 'ERROR', stage: 'test' }, 'audited', (line) => void lines.push(JSON.parse(line)));
    main = await startInProcess(server, env, { log });
    limited = await startInProcess(
      { ...server, name: 'limited' },
      { ...env, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '3', MCP_RATE_LIMIT_WINDOW_SECONDS: '60' },
      { log },
    );
    keys = new ApiKeyStore(new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 0 });
    alice = (await keys.create({ principalId: 'alice' })).key;
  });
  after(async () => {
    for (const c of opened) await c.close().catch(() => {});
    await Promise.all([main.stop(), limited.stop()]);
    await Promise.all([dynamo.stop(), redis.dispose()]);
  });

  async function modern(url: string, headers: Record<string, string>, elicit?: 'accept' | 'decline') {
    const client = new ModernClient(
      { name: 'audit', version: '1' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: elicit ? { elicitation: {} } : {} },
    );
    if (elicit)
      client.setRequestHandler('elicitation/create', async () =>
        elicit === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' },
      );
    await client.connect(new ModernTransport(new URL(url), { requestInit: { headers } }));
    opened.push(client);
    return client;
  }

  const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

  it('auth.failed: source address, credential kind and hash prefix, request and trace ids; never the key', async () => {
    const revoked = (await keys.create({ principalId: 'mallory' })).key;
    await keys.revoke(revoked);
    const headers = {
      authorization: `Bearer ${revoked}`,
      'x-forwarded-for': '198.51.100.1, 203.0.113.9',
      'x-request-id': 'req-auth-1',
      traceparent: TRACEPARENT,
    };
    await assert.rejects(modern(main.url, headers), /401|Unauthorized/);
    const [line] = audits('auth.failed').filter((l) => l.requestId === 'req-auth-1');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.message, 'audit');
    assert.equal(line.credential, 'apikey');
    assert.equal(line.credentialId, apiKeyId(revoked), 'the id `npm run keys -- list` showed for the key');
    assert.equal(line.sourceIp, '203.0.113.9', 'the hop nearest the server, the one a caller cannot forge');
    assert.equal(line.traceId, TRACE_ID);
    assert.equal(line.status, 401);
    assert.match(String(line.reason), /unknown, revoked or expired/);
    assert.equal(line.principal, undefined);
    assert.ok(!JSON.stringify(lines).includes(revoked.slice(5)), 'the key is in no line');

    // A token that is no API key and no credentials at all are told apart; the address CloudFront saw wins.
    await assert.rejects(modern(main.url, { 'x-request-id': 'req-auth-2', 'cloudfront-viewer-address': '2001:db8::7:443' }), /401|Unauthorized/);
    const [none] = audits('auth.failed').filter((l) => l.requestId === 'req-auth-2');
    assert.deepEqual([none?.credential, none?.credentialId, none?.sourceIp], ['none', undefined, '2001:db8::7']);
  });

  it('a successful call writes no audit line', async () => {
    const client = await modern(main.url, { authorization: `Bearer ${alice}` });
    const before = lines.length;
    assert.equal(text(await client.callTool({ name: 'ping', arguments: {} })), 'pong');
    assert.deepEqual(lines.slice(before), [], 'nothing logged at ERROR for a call that passes');
  });

  it('scope.refused: the caller, the tool, the scopes it lacks', async () => {
    const client = await modern(main.url, { authorization: `Bearer ${alice}`, 'x-request-id': 'req-scope' });
    await assert.rejects(client.callTool({ name: 'rotate_secrets', arguments: {} }), /403|insufficient_scope|admin/);
    const [line] = audits('scope.refused');
    assert.deepEqual([line?.principal, line?.tool, line?.missing, line?.requestId], ['apikey:alice', 'rotate_secrets', ['admin'], 'req-scope']);
    // Control: with the scope, the same call passes and adds no line.
    const admin = await modern(main.url, { authorization: `Bearer ${(await keys.create({ principalId: 'root', scopes: ['admin'] })).key}` });
    assert.equal(text(await admin.callTool({ name: 'rotate_secrets', arguments: {} })), 'rotated');
    assert.equal(audits('scope.refused').length, 1);
  });

  it('rate_limit.refused: the caller, the tool, when to retry', async () => {
    const bob = (await keys.create({ principalId: 'bob' })).key;
    const client = await modern(limited.url, { authorization: `Bearer ${bob}`, 'x-request-id': 'req-limit' });
    let refused: unknown;
    for (let i = 0; i < 5 && !refused; i++) await client.callTool({ name: 'ping', arguments: {} }).catch((err: unknown) => (refused = err));
    assert.ok(refused, 'the limit of 3 a minute refused a call');
    const [line] = audits('rate_limit.refused');
    assert.deepEqual([line?.principal, line?.tool, line?.requestId], ['apikey:bob', 'ping', 'req-limit']);
    assert.ok(Number(line?.retryAfter) >= 1, JSON.stringify(line));
    assert.match(String(line?.reason), /Rate limit exceeded: at most 3 requests per minute/);
  });

  it('confirmation.accepted and confirmation.declined, through elicitation', async () => {
    const yes = await modern(main.url, { authorization: `Bearer ${alice}`, 'x-request-id': 'req-yes' }, 'accept');
    assert.equal(text(await yes.callTool({ name: 'erase', arguments: {} })), 'erased');
    const no = await modern(main.url, { authorization: `Bearer ${alice}`, 'x-request-id': 'req-no' }, 'decline');
    assert.equal(text(await no.callTool({ name: 'erase', arguments: {} })), 'kept');
    const [accepted] = audits('confirmation.accepted');
    assert.deepEqual(
      [accepted?.principal, accepted?.tool, accepted?.how, accepted?.era, accepted?.requestId],
      ['apikey:alice', 'erase', 'elicitation', 'modern', 'req-yes'],
    );
    const [declined] = audits('confirmation.declined');
    assert.deepEqual([declined?.principal, declined?.tool, declined?.answer, declined?.requestId], ['apikey:alice', 'erase', 'decline', 'req-no']);
  });

  it('confirmation.invalid: a token that is not one of this call', async () => {
    const client = await modern(main.url, { authorization: `Bearer ${alice}`, 'x-request-id': 'req-forged' });
    const answer = await client.callTool({ name: 'erase', arguments: { confirm: 'forged-token-7f3a' } });
    assert.match(text(answer), /not valid for this call/);
    const [line] = audits('confirmation.invalid');
    assert.deepEqual([line?.principal, line?.how, line?.requestId], ['apikey:alice', 'token', 'req-forged']);
    assert.ok(!JSON.stringify(line).includes('forged-token-7f3a'), 'the token itself is not logged');
  });

  it('task.cancelled: the caller, the session, the task (a 2025-11-25 session)', async () => {
    const client = new LegacyClient({ name: 'audit-tasks', version: '1' });
    await client.connect(new LegacyTransport(new URL(main.url), { requestInit: { headers: { authorization: `Bearer ${alice}` } } }));
    opened.push(client);
    const stream = client.experimental.tasks.callToolStream({ name: 'hang', arguments: {} }, CallToolResultSchema, { task: {} });
    const created = (await stream.next()).value as { type: string; task: { taskId: string } };
    assert.equal(created.type, 'taskCreated');
    assert.equal(audits('task.cancelled').length, 0, 'creating a task is no event');
    assert.equal((await client.experimental.tasks.cancelTask(created.task.taskId)).status, 'cancelled');
    await stream.return(undefined);
    const [line] = audits('task.cancelled');
    assert.deepEqual([line?.principal, line?.sessionId, line?.taskId, line?.tool], ['apikey:alice', client.transport?.sessionId, created.task.taskId, 'hang']);
    assert.equal(typeof line?.requestId, 'string');
    // Cancelling it again is refused (already finished) and writes nothing more.
    await assert.rejects(client.experimental.tasks.cancelTask(created.task.taskId), /already finished|-32602/);
    assert.equal(audits('task.cancelled').length, 1);
  });

  it('apikey.created and apikey.revoked: `npm run keys` writes them to stderr with who ran it, never the key', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(MCP_|AWS_|UPSTASH_)/.test(name)));
        const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
          cwd: REPO,
          env: { ...inherited, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_TABLE_NAME: 'mcp-kit', LOG_LEVEL: 'ERROR' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const auditLines = (stderr: string) =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line)
        .filter((l) => l.audit === true);

    const created = await run(['create', '--principal', 'ops-bot', '--scopes', 'admin', '--ttl-days', '3']);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    const [made] = auditLines(created.stderr);
    assert.equal(made?.event, 'apikey.created');
    assert.deepEqual([made?.keyId, made?.keyPrincipal, made?.scopes], [apiKeyId(key), 'apikey:ops-bot', ['admin']]);
    assert.match(String(made?.actor), /^cli:.+@.+/);
    assert.match(String(made?.expiresAt), /^\d{4}-\d\d-\d\dT/);
    assert.ok(!created.stderr.includes(key), 'the key only on stdout');

    const revoked = await run(['revoke', key]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const [gone] = auditLines(revoked.stderr);
    assert.deepEqual([gone?.event, gone?.keyId, gone?.keyPrincipal], ['apikey.revoked', apiKeyId(key), 'apikey:ops-bot']);
    assert.ok(!revoked.stderr.includes(key) && !revoked.stdout.includes(key));
    // Control: revoking a key that is gone fails and audits nothing.
    const again = await run(['revoke', apiKeyId(key)]);
    assert.equal(again.code, 1);
    assert.deepEqual(auditLines(again.stderr), []);
  });
});
