// Without authentication every caller is the one principal `anonymous`: its rate limit, stream
// cap, container task slots and daily session and handle quotas are counted per client address
// instead (an IPv6 one by its /64), so one anonymous caller cannot use up everyone's.
// Two callers here connect from two loopback addresses (127.0.0.1 and 127.0.0.2) to a real server
// sharing a real Redis; the address is the one the deployment vouches for (client-address.ts),
// never an X-Forwarded-For the client wrote. Also: the audit lines for a refused stream and for a
// request naming another principal's legacy session (answered 404 like an unknown one).
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import notes from '../../functions/notes/server.ts';
import { credentialId } from '../../shared/audit.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { addressKey, clientAddress } from '../../shared/http/client-address.ts';
import { createLogger } from '../../shared/log.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { containerTasksServer } from '../fixtures/container-tasks.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'anonymous-caps', version: '1' },
};
type Line = Record<string, unknown>;

/** A 2026-07-28 POST from `from` (a loopback address); the response is left open for a stream. */
function post(
  url: string,
  from: string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
  meta: Record<string, unknown> = META,
): Promise<IncomingMessage> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } });
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST',
      localAddress: from,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(method === 'tools/call' && { 'mcp-name': String(params.name) }),
        ...headers,
      },
    });
    req.once('response', resolve).once('error', reject).end(body);
  });
}

const listen = (url: string, from: string, headers?: Record<string, string>) =>
  post(url, from, 'subscriptions/listen', { notifications: { toolsListChanged: true } }, headers);
const call = (url: string, from: string) => post(url, from, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });

async function json(res: IncomingMessage): Promise<{ error?: { message: string } }> {
  let text = '';
  for await (const chunk of res) text += chunk;
  return JSON.parse(text);
}

describe('anonymous callers are counted by their address', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let streams: Awaited<ReturnType<typeof startInProcess>>;
  let limited: Awaited<ReturnType<typeof startInProcess>>;
  const open: IncomingMessage[] = [];
  const lines: Line[] = [];
  const audits = (event: string) => lines.filter((l) => l.audit === true && l.event === event);

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const env = { ...redis.env, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', MCP_STREAMS_PER_PRINCIPAL: '1' };
    const log = createLogger({ logLevel: 'ERROR', stage: 'test' }, 'notes', (line) => void lines.push(JSON.parse(line)));
    [streams, limited] = await Promise.all([
      startInProcess(notes, env, { log }),
      startInProcess(
        { ...notes, name: 'limited' },
        { ...env, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '2', MCP_RATE_LIMIT_WINDOW_SECONDS: '60' },
      ),
    ]);
  });
  after(async () => {
    for (const res of open) res.destroy();
    await Promise.all([streams?.stop(), limited?.stop()]);
    await redis?.dispose();
    await dynamo?.stop();
  });

  it('one anonymous caller holding its stream does not take another address’s; a forged X-Forwarded-For changes nothing', async () => {
    const first = await listen(streams.url, '127.0.0.1');
    open.push(first);
    assert.equal(first.statusCode, 200);
    const second = await listen(streams.url, '127.0.0.1');
    assert.equal(second.statusCode, 429, 'the same address is at its cap of 1');
    assert.match((await json(second)).error!.message, /Too many open notification streams: at most 1 per caller/);
    const forged = await listen(streams.url, '127.0.0.1', { 'x-forwarded-for': '198.51.100.77' });
    assert.equal(forged.statusCode, 429, 'a client-set X-Forwarded-For is not its address on a server process');
    await json(forged);
    const other = await listen(streams.url, '127.0.0.2');
    open.push(other);
    assert.equal(other.statusCode, 200, 'another address is another anonymous caller (before: one shared cap, 429)');

    const [line] = audits('stream.refused');
    assert.ok(line, JSON.stringify(lines));
    assert.deepEqual(
      [line.principal, line.countedAs, line.status, line.retryAfter],
      ['anonymous', 'anonymous@127.0.0.1', 429, Number(second.headers['retry-after'])],
    );
    assert.match(String(line.reason), /Too many open notification streams/);
  });

  it('rate limits count each address on its own', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await call(limited.url, '127.0.0.1')).statusCode, 200);
    const over = await call(limited.url, '127.0.0.1');
    assert.equal(over.statusCode, 429);
    assert.match((await json(over)).error!.message, /Rate limit exceeded: at most 2 requests per minute/);
    assert.equal((await call(limited.url, '127.0.0.2')).statusCode, 200, 'control: another address has its own limit');
  });
});

describe('anonymous callers: container task slots and daily quotas are counted by address too', () => {
  let redis: TestRedis;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let tasks: Awaited<ReturnType<typeof startInProcess>>;
  let quotas: Awaited<ReturnType<typeof startInProcess>>;
  const TASK_META = { ...META, 'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };

  before(async () => {
    [redis, dynamo] = await Promise.all([startTestRedis(), startTestDynamo()]);
    const env = { ...redis.env, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' };
    [tasks, quotas] = await Promise.all([
      startInProcess(containerTasksServer('function'), { ...env, MCP_CONTAINER_TASKS: 'true', MCP_CONTAINER_TASKS_PER_PRINCIPAL: '1' }),
      startInProcess({ ...notes, name: 'quotas' }, { ...env, MCP_SESSIONS_PER_PRINCIPAL: '1', MCP_HANDLES_PER_PRINCIPAL: '1' }),
    ]);
  });
  after(async () => {
    await Promise.all([tasks?.stop(), quotas?.stop()]);
    await redis?.dispose();
    await dynamo?.stop();
  });

  type Answer = { result?: { resultType?: string; taskId?: string; isError?: boolean; content?: { text: string }[] }; error?: { message: string } };
  const answer = async (res: IncomingMessage) => (await json(res)) as Answer;

  it('container tasks: one address at its limit leaves another address its slot; a cancelled task frees the slot it took', async () => {
    const task = (from: string) => post(tasks.url, from, 'tools/call', { name: 'endless_job', arguments: {} }, {}, TASK_META).then(answer);
    const mine = await task('127.0.0.1');
    assert.equal(mine.result?.resultType, 'task', JSON.stringify(mine));
    const over = await task('127.0.0.1');
    assert.match(JSON.stringify(over), /Too many container tasks: at most 1 unfinished per caller/);
    const other = await task('127.0.0.2');
    assert.equal(other.result?.resultType, 'task', `another address has its own slot (before: ${JSON.stringify(other)})`);
    // The task is still the principal `anonymous`'s (its owner is unchanged); its slot is the address's.
    const cancel = (taskId: string) => post(tasks.url, '127.0.0.1', 'tasks/cancel', { taskId }, { 'mcp-name': taskId }, TASK_META).then(answer);
    const cancelled = await cancel(mine.result!.taskId!);
    assert.ok(!cancelled.error, JSON.stringify(cancelled));
    const again = await task('127.0.0.1');
    assert.equal(again.result?.resultType, 'task', `control: the cancelled task gave its address's slot back: ${JSON.stringify(again)}`);
    for (const t of [other, again]) await cancel(t.result!.taskId!);
  });

  it('sessions and state handles: each address has its own day', async () => {
    const initialize = (from: string) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'quota', version: '1' } },
        });
        httpRequest(quotas.url, {
          method: 'POST',
          localAddress: from,
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        })
          .once('response', resolve)
          .once('error', reject)
          .end(body);
      });
    const started = await initialize('127.0.0.1');
    assert.equal(started.statusCode, 200);
    await json(started);
    const refused = await initialize('127.0.0.1');
    assert.equal(refused.statusCode, 429);
    assert.match((await json(refused)).error!.message, /Too many sessions: at most 1 per caller/);
    const other = await initialize('127.0.0.2');
    assert.equal(other.statusCode, 200, 'another address has its own sessions for the day');
    await json(other);
    const ended = await fetch(quotas.url, { method: 'DELETE', headers: { 'mcp-session-id': String(started.headers['mcp-session-id']) } });
    assert.equal(ended.status, 204);
    const again = await initialize('127.0.0.1');
    assert.equal(again.statusCode, 200, 'control: ending the session gave its address the quota back');
    await json(again);

    const add = (from: string) => post(quotas.url, from, 'tools/call', { name: 'note_add', arguments: { text: 'x' } }).then(answer);
    assert.ok(!(await add('127.0.0.1')).result?.isError);
    assert.match((await add('127.0.0.1')).result!.content![0]!.text, /Too many state handles: at most 1 per caller/);
    const elsewhere = await add('127.0.0.2');
    assert.ok(!elsewhere.result?.isError, `another address mints its own handles: ${JSON.stringify(elsewhere)}`);
  });
});

describe('the client address a deployment vouches for', () => {
  const req = (headers: Record<string, string>) => new Request('https://example.com/mcp', { headers });
  const lambda = { requestContext: { identity: { sourceIp: '198.51.100.1' } } };

  it('on Lambda: the hop API Gateway appended, never the first (the client may have written it)', () => {
    assert.equal(clientAddress(req({ 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }), lambda, false), '203.0.113.9');
    assert.equal(
      clientAddress(req({ 'cloudfront-viewer-address': '192.0.2.5:443', 'x-forwarded-for': '203.0.113.9' }), lambda, false),
      '203.0.113.9',
      'no origin check: the viewer header may be forged',
    );
  });

  it('behind CloudFront with origin verification on: CloudFront-Viewer-Address, IPv6 included', () => {
    assert.equal(
      clientAddress(req({ 'cloudfront-viewer-address': '2001:db8::7:443', 'x-forwarded-for': '1.1.1.1, 130.176.0.1' }), lambda, true),
      '2001:db8::7',
    );
  });

  it('on a server process: the socket peer; unknown: none (the caller stays the one `anonymous`)', () => {
    assert.equal(clientAddress(req({ 'x-forwarded-for': '198.51.100.1' }), { incoming: { socket: { remoteAddress: '10.0.0.8' } } }, false), '10.0.0.8');
    assert.equal(clientAddress(req({ 'x-forwarded-for': '198.51.100.1' }), undefined, false), undefined);
  });
});

describe('what an anonymous caller is counted by', () => {
  it('IPv6: its /64, however the address is written (one host may hold the whole /64)', () => {
    const key = addressKey('2001:db8:0:7::1');
    assert.equal(key, '2001:db8:0:7::/64');
    for (const same of [
      '2001:0DB8:0000:0007:ffff:ffff:ffff:fffe',
      '2001:db8:0:7:1:2:3:4',
      '[2001:db8::7:0:0:0:9]',
      '2001:db8:0:7::1%eth0',
      '2001:db8:0:7::5.6.7.8',
    ]) {
      assert.equal(addressKey(same), key, same);
    }
    assert.notEqual(addressKey('2001:db8:0:8::1'), key, 'control: the next /64 is another caller');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
  });

  it('IPv4 as it is, IPv4-mapped IPv6 as its IPv4 address; anything unparsable as written', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('0:0:0:0:0:FFFF:cb00:7107'), '203.0.113.7');
    assert.notEqual(addressKey('::ffff:203.0.113.8'), '203.0.113.7', 'control: mapped addresses are not merged into a /64');
    assert.equal(addressKey('1::2::3'), '1::2::3');
    assert.equal(addressKey('::ffff:1.2.3.456'), '::ffff:1.2.3.456');
  });
});

describe('audit: a request naming another principal’s legacy session', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  const lines: Line[] = [];
  let alice: string;
  let bob: string;

  before(async () => {
    dynamo = await startTestDynamo();
    const log = createLogger({ logLevel: 'ERROR', stage: 'test' }, 'notes', (line) => void lines.push(JSON.parse(line)));
    server = await startInProcess(
      notes,
      { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', MCP_AUTH_MODE: 'apikey', MCP_GET_STREAMS: 'true' },
      { log },
    );
    const keys = new ApiKeyStore(new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      cacheSeconds: 0,
    });
    alice = (await keys.create({ principalId: 'alice' })).key;
    bob = (await keys.create({ principalId: 'bob' })).key;
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
  });

  it('is answered 404 like an unknown session, and audited with who asked, whose it is and a digest of its id', async () => {
    const client = new LegacyClient({ name: 'alice', version: '1' });
    const transport = new LegacyTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${alice}` } } });
    await client.connect(transport);
    const sessionId = transport.sessionId!;
    const as = (key: string, session: string, requestId: string, method = 'POST') =>
      fetch(server.url, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-06-18',
          'x-request-id': requestId,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        ...(method === 'POST' && { body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }),
      });
    try {
      const unknown = await as(bob, 'no-such-session', 'req-unknown');
      const foreign = await as(bob, sessionId, 'req-foreign');
      assert.equal(foreign.status, 404);
      assert.deepEqual(await foreign.json(), await unknown.json(), 'the same answer as an unknown session');
      const ended = await as(bob, sessionId, 'req-foreign-delete', 'DELETE');
      assert.equal(ended.status, 404, 'nor can another principal end it');
      await ended.text();

      const refused = lines.filter((l) => l.audit === true && l.event === 'session.refused');
      assert.deepEqual(
        refused.map((l) => [l.requestId, l.principal, l.owner, l.session, l.status]),
        [
          ['req-foreign', 'apikey:bob', 'apikey:alice', credentialId(sessionId), 404],
          ['req-foreign-delete', 'apikey:bob', 'apikey:alice', credentialId(sessionId), 404],
        ],
        'control: the unknown session is no event',
      );
      assert.ok(!JSON.stringify(lines).includes(sessionId), 'the session id itself is in no line');
      assert.equal((await client.listTools()).tools.length > 0, true, "alice's session is untouched");
    } finally {
      await client.close();
    }
  });
});
