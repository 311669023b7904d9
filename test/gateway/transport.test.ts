// The gateway's upstream transports side by side: `fetch` (the default) and node:http(s) with a
// keep-alive agent (shared/adapters/upstream-http.ts). A real kit server answers discovery and
// plain calls; a scripted server in front of it answers chosen tools/call the ways upstreams fail
// (5xx, 429, a refusal, odd content, SSE with progress, a stream cut short, a reset, a hang), and a
// closed port refuses. The same calls through both transports must give the same answers and
// errors, and leave the circuit in the same state. Then what only the node transport has to show:
// connection reuse, counted, and TLS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import { nodeTransport, type NodeTransport } from '../../shared/adapters/upstream-http.ts';
import { ResilientClient } from '../../shared/client/resilient-client.ts';
import { checkedTransport, fetchTransport, type UpstreamTransport } from '../../shared/client/transport.ts';
import { startInProcess } from '../helpers/server.ts';

const ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  MCP_REQUEST_STATE_KEY: 'transport-test-request-state-key-0123456789',
};

type Answer = (res: ServerResponse, id: unknown, req: IncomingMessage) => void | Promise<void>;
const json = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
};
const event = (message: object) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
const complete = (id: unknown, text: string) => ({ jsonrpc: '2.0', id, result: { resultType: 'complete', content: [{ type: 'text', text }] } });

/** How the scripted upstream answers a tools/call of each name; any other request goes to the kit server. */
const SCRIPT: Record<string, Answer> = {
  http500: (res) => json(res, 500, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'boom' } }), { 'retry-after': '1' }),
  http503: (res) => json(res, 503, 'down for maintenance', { 'content-type': 'text/plain' }),
  http429: (res) => json(res, 429, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'slow down' } }), { 'retry-after': '2' }),
  http400: (res, id) => json(res, 400, JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'bad arguments: text is required' } })),
  http404: (res) => json(res, 404, 'no such thing', { 'content-type': 'text/plain' }),
  http401: (res) => json(res, 401, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'who are you' } })),
  rpcError: (res, id) => json(res, 200, JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'Unknown tool', data: { hint: 'x' } } })),
  textPlain: (res) => json(res, 200, 'hello', { 'content-type': 'text/plain; charset=utf-8' }),
  badJson: (res) => json(res, 200, '{"jsonrpc":"2.0",'),
  wrongId: (res) => json(res, 200, JSON.stringify(complete(999, 'not yours'))),
  noResultType: (res, id) => json(res, 200, JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } })),
  unicode: (res, id) => json(res, 200, JSON.stringify(complete(id, 'ünïcödé ✓ 𝄞'.repeat(3000)))),
  sse: (res, id) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(event({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: 1, total: 2, message: 'half' } }));
    // CRLF line ends, one split across two writes.
    const answer = event(complete(id, 'streamed')).replace(/\n/g, '\r\n');
    const split = answer.indexOf('\r\n') + 1;
    res.write(answer.slice(0, split));
    setTimeout(() => res.end(answer.slice(split)), 5);
  },
  sseCut: (res, id) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(event({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: 1 } }));
  },
  sseNotJson: (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {oops\n\n');
  },
  resetBefore: (_res, _id, req) => void req.socket.destroy(),
  resetMid: (res, id, req) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
    res.write(JSON.stringify(complete(id, 'cut')).slice(0, 30));
    setTimeout(() => req.socket.destroy(), 5);
  },
  hang: () => {},
  slow: (res, id) => void setTimeout(() => json(res, 200, JSON.stringify(complete(id, 'late'))), 400),
  hangSse: (res, id) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(event({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: 1 } }));
  },
};

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

/** The scripted upstream, and the sockets that carried tools/call to it. */
async function startScripted(kitUrl: string): Promise<{ url: string; server: Server; callSockets: Set<Socket> }> {
  const callSockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const message = body ? (JSON.parse(body) as { id?: unknown; method?: string; params?: { name?: string } }) : {};
    if (message.method === 'tools/call') callSockets.add(req.socket);
    const scripted = message.method === 'tools/call' && SCRIPT[message.params?.name ?? ''];
    if (scripted) return scripted(res, message.id, req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
    const answer = await fetch(kitUrl, { method: req.method!, headers, ...(body && { body }) });
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server, callSockets };
}

/** What a call came to, comparable across transports: the result, or the error's kind and wording. */
async function outcome(
  client: ResilientClient,
  name: string,
  options: { timeoutMs?: number; abortAfterProgress?: boolean } = {},
): Promise<Record<string, unknown>> {
  const progress: unknown[] = [];
  const controller = new AbortController();
  try {
    const result = await client.callTool(
      { name, arguments: { text: 'hi' } },
      {
        ...(options.timeoutMs && { timeoutMs: options.timeoutMs }),
        signal: controller.signal,
        onprogress: (p) => {
          progress.push(p);
          if (options.abortAfterProgress) controller.abort(new Error('the caller left'));
        },
      },
    );
    return { result, progress };
  } catch (err) {
    const e = err as Error & Record<string, unknown>;
    const fields = Object.fromEntries(['code', 'status', 'retryAfterMs', 'reached', 'server'].filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));
    // An open circuit's wait shrinks as the calls go by: whole seconds compare.
    if (typeof fields.retryAfterMs === 'number') fields.retryAfterMs = Math.round(fields.retryAfterMs / 1000);
    return { error: e.name, message: e.message, ...fields, progress };
  }
}

describe('upstream transports: fetch and node:http give the same answers', () => {
  let stopAll: () => Promise<void>;
  let scripted: Awaited<ReturnType<typeof startScripted>>;
  let closedUrl: string;
  let node: NodeTransport;
  const clients: ResilientClient[] = [];
  const client = (url: string, transport: UpstreamTransport) => {
    const c = new ResilientClient({ name: 'up', url, protocol: 'modern', retry: { attempts: 1 }, breaker: { failureThreshold: 1_000 }, transport });
    clients.push(c);
    return c;
  };

  before(async () => {
    const kit = await startInProcess(echo, ENV);
    scripted = await startScripted(kit.url);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/mcp`;
    await new Promise((resolve) => closed.close(resolve));
    node = nodeTransport();
    stopAll = async () => {
      await Promise.all(clients.map((c) => c.close()));
      node.close();
      scripted.server.closeAllConnections();
      await new Promise((resolve) => scripted.server.close(resolve));
      await kit.stop();
    };
  });
  after(() => stopAll());

  it('answers every scripted case alike, and each case comes out as it should (the control: not alike by both failing the same way)', async () => {
    const [viaFetch, viaNode] = [client(scripted.url, fetchTransport()), client(scripted.url, node.send)];
    const cases: [string, { timeoutMs?: number; abortAfterProgress?: boolean }?][] = [
      ['echo'],
      ...Object.keys(SCRIPT)
        .filter((name) => !name.startsWith('hang') && name !== 'slow')
        .map((name) => [name] as [string]),
      ['hang', { timeoutMs: 300 }],
      ['hangSse', { abortAfterProgress: true }],
    ];
    const seen: Record<string, unknown> = {};
    for (const [name, options] of cases) {
      const [a, b] = [await outcome(viaFetch, name, options), await outcome(viaNode, name, options)];
      assert.deepEqual(b, a, `${name}: node:http answered otherwise than fetch`);
      seen[name] = a;
    }
    const kind = (name: string) => (seen[name] as { error?: string }).error;
    const message = (name: string) => (seen[name] as { message?: string }).message ?? '';
    assert.match(JSON.stringify(seen.echo), /hi/);
    assert.match(JSON.stringify(seen.sse), /"streamed".*"half"/);
    assert.equal((seen.unicode as { result: { content: { text: string }[] } }).result.content[0]!.text, 'ünïcödé ✓ 𝄞'.repeat(3000));
    assert.equal(kind('http500'), 'UpstreamUnavailableError');
    assert.match(message('http500'), /HTTP 500: boom/);
    assert.deepEqual([kind('http429'), (seen.http429 as { retryAfterMs?: number }).retryAfterMs], ['UpstreamRateLimitedError', 2]);
    assert.match(message('http400'), /bad arguments/);
    assert.equal(kind('http401'), 'UpstreamAuthError');
    assert.equal(kind('rpcError'), 'UpstreamProtocolError');
    assert.match(message('textPlain'), /Unexpected content type/);
    assert.match(message('wrongId'), /without a response/);
    assert.match(message('noResultType'), /resultType/);
    assert.match(message('sseCut'), /closed the stream/);
    assert.match(message('sseNotJson'), /not JSON/);
    assert.equal(kind('resetBefore'), 'UpstreamUnavailableError');
    assert.equal(kind('resetMid'), 'UpstreamUnavailableError');
    assert.equal(kind('hang'), 'UpstreamTimeoutError');
    assert.equal(message('hangSse'), 'the caller left');
    assert.deepEqual(viaNode.status().consecutiveFailures, viaFetch.status().consecutiveFailures);
    assert.ok(viaNode.status().consecutiveFailures > 0);
  });

  it('refuses alike when nothing listens, and the circuit opens alike', async () => {
    const open = (transport: UpstreamTransport) => {
      const c = new ResilientClient({ name: 'gone', url: closedUrl, protocol: 'modern', retry: { attempts: 1 }, breaker: { failureThreshold: 2 }, transport });
      clients.push(c);
      return c;
    };
    // Nothing listens, so the connect (through fetch in both) fails first: a raw call needs a connection that discovered the server.
    const [viaFetch, viaNode] = [open(fetchTransport()), open(node.send)];
    for (let i = 0; i < 3; i++) assert.deepEqual(await outcome(viaNode, 'echo'), await outcome(viaFetch, 'echo'));
    assert.match(String((await outcome(viaNode, 'echo')).message), /circuit open/);
    assert.equal(viaNode.status().state, 'open');
  });

  it('refuses alike when the server stops between calls (the raw call itself meets the refusal)', async () => {
    const kit = await startInProcess(echo, ENV);
    const front = await startScripted(kit.url);
    const [viaFetch, viaNode] = [client(front.url, fetchTransport()), client(front.url, node.send)];
    assert.deepEqual(await outcome(viaNode, 'echo'), await outcome(viaFetch, 'echo'));
    front.server.closeAllConnections();
    await new Promise((resolve) => front.server.close(resolve));
    const [a, b] = [await outcome(viaFetch, 'echo'), await outcome(viaNode, 'echo')];
    assert.deepEqual(b, a);
    assert.deepEqual([b.error, b.message, b.reached], ['UpstreamUnavailableError', 'upstream "up": unavailable: ECONNREFUSED', false]);
    await kit.stop();
  });

  it('reuses one connection for sequential calls (control: after close, a new one)', async () => {
    const transport = nodeTransport();
    const kit = await startInProcess(echo, ENV);
    const front = await startScripted(kit.url);
    const viaNode = client(front.url, transport.send);
    for (let i = 0; i < 20; i++) assert.match(JSON.stringify(await outcome(viaNode, 'echo')), /hi/);
    assert.equal(front.callSockets.size, 1);
    await Promise.all(Array.from({ length: 8 }, () => outcome(viaNode, 'echo')));
    const concurrent = front.callSockets.size;
    await Promise.all(Array.from({ length: 8 }, () => outcome(viaNode, 'echo')));
    assert.equal(front.callSockets.size, concurrent, 'a second burst opened connections the first left open');
    transport.close();
    await outcome(viaNode, 'echo');
    assert.equal(front.callSockets.size, concurrent + 1);
    front.server.closeAllConnections();
    await new Promise((resolve) => front.server.close(resolve));
    await kit.stop();
  });

  it('drops a connection idle for idleMs, and never one a slower call is using', async () => {
    const transport = nodeTransport({ idleMs: 150 });
    const kit = await startInProcess(echo, ENV);
    const front = await startScripted(kit.url);
    const viaNode = client(front.url, transport.send);
    assert.match(JSON.stringify(await outcome(viaNode, 'slow')), /late/);
    assert.match(JSON.stringify(await outcome(viaNode, 'echo')), /hi/);
    assert.equal(front.callSockets.size, 1, 'a call slower than idleMs lost its connection');
    // The client ends the idle connection: the server sees it close, well before the 4 s the server's own Keep-Alive hint would allow.
    const [used] = front.callSockets;
    if (!used!.destroyed) await once(used!, 'close', { signal: AbortSignal.timeout(2_000) });
    assert.match(JSON.stringify(await outcome(viaNode, 'echo')), /hi/);
    assert.equal(front.callSockets.size, 2, 'a connection idle past idleMs was used again');
    transport.close();
    front.server.closeAllConnections();
    await new Promise((resolve) => front.server.close(resolve));
    await kit.stop();
  });

  it('calls an https upstream over TLS, trusting the CA it is given (control: an untrusted certificate fails)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'transport-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const [key, cert] = [readFileSync(join(dir, 'key.pem')), readFileSync(join(dir, 'cert.pem'))];
    const sockets = new Set<unknown>();
    const server = createTlsServer({ key, cert }, async (req, res) => {
      sockets.add(req.socket);
      const body = JSON.parse(await readBody(req)) as { id: unknown };
      json(res, 200, JSON.stringify(complete(body.id, `over ${(req.socket as { encrypted?: boolean }).encrypted ? 'TLS' : 'plain'}`)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
    const request = (id: number) => ({
      url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call' }),
      signal: new AbortController().signal,
    });
    const trusted = nodeTransport({ tls: { ca: cert } });
    const untrusted = nodeTransport();
    try {
      for (let id = 1; id <= 3; id++) assert.match(await (await checkedTransport('tls', {}, trusted.send)(request(id))).text(), /over TLS/);
      assert.equal(sockets.size, 1);
      await assert.rejects(untrusted.send(request(4)), (err: { code?: string }) => /SELF_SIGNED|UNABLE_TO_VERIFY/.test(err.code ?? ''));
    } finally {
      trusted.close();
      untrusted.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
