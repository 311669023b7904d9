// The gateway's fast lane answers exactly as its SDK lane would. One gateway (one set of upstream
// clients, one catalog) is served by two kits, one with the direct lane and one without; both get
// the same 2026-07-28 `tools/call`s: results of every kind an upstream gives (text, structured,
// an error result, an image, a result `_meta`, an MRTR question), bad arguments, unknown tools and
// upstreams, an upstream that is down, and callers an upstream is not open to. Status, content
// type and body must match, and the access line says which lane answered. The fast lane's
// upstream calls reuse their connection, and a call it hands over is not made upstream twice.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { loadConfig } from '../../shared/config.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway, type Gateway } from '../../shared/gateway/gateway.ts';
import { createKit } from '../../shared/kit.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startInProcess } from '../helpers/server.ts';

const STATE_KEY = 'fast-lane-test-key-0123456789abcdefgh';
const ENV = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', MCP_REQUEST_STATE_KEY: STATE_KEY };
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

let upstreamRuns = 0;
const upstream = defineServer({
  name: 'up',
  version: '1.0.0',
  tools: [
    tool('echo', { description: 'echo', input: z.object({ text: z.string() }) }, ({ text }) => (upstreamRuns++, text)),
    tool('noinput', { description: 'no input' }, () => 'none'),
    tool('structured', { description: 's', output: z.object({ n: z.number() }) }, () => ({ ...text('n=1'), structuredContent: { n: 1 } })),
    tool('fails', { description: 'f' }, () => ({ ...text('it failed'), isError: true })),
    tool('throws', { description: 't' }, () => {
      throw new Error('boom');
    }),
    tool('reports', { description: 'p' }, async (_args, ctx) => {
      await ctx.progress(1, 2, 'half');
      return 'done';
    }),
    tool('image', { description: 'i' }, () => (upstreamRuns++, { content: [{ type: 'image', data: 'aGk=', mimeType: 'image/png' }] })),
    tool('link', { description: 'l' }, () => ({ content: [{ type: 'resource_link', uri: 'https://example.com/a', name: 'a' }] })),
    tool('meta', { description: 'm' }, () => ({ ...text('m'), _meta: { mine: true } })),
    tool('asks', { description: 'a' }, async (_args, ctx) => inputRequired({ inputRequests: { ok: inputRequired.elicit({ message: 'ok?', requestedSchema: z.object({ ok: z.boolean() }) }) }, requestState: await ctx.mintRequestState({ asked: 1 }) })),
  ],
});

/** A TCP relay that counts the connections made through it. */
async function countingRelay(port: number): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const open = new Set<{ destroy(): void }>();
  const server: Server = createServer((socket) => {
    connections++;
    const target = connect(port, '127.0.0.1');
    open.add(socket).add(target);
    socket.pipe(target).pipe(socket);
    socket.on('error', () => target.destroy());
    target.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    // Kept-alive connections would hold close() open.
    close: () => new Promise((resolve) => (server.close(() => resolve()), open.forEach((s) => s.destroy()))),
  };
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const PV = 'io.modelcontextprotocol/protocolVersion';
const CI = 'io.modelcontextprotocol/clientInfo';
const CC = 'io.modelcontextprotocol/clientCapabilities';

type Call = { body: Record<string, any>; headers: Record<string, string> };
function call(name: string, args?: unknown, change: (c: Call) => void = () => {}): Call {
  const c: Call = {
    body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, ...(args !== undefined && { arguments: args }), _meta: { [PV]: '2026-07-28', [CI]: { name: 'fast-lane-test', version: '1' }, [CC]: {} } } },
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
  };
  change(c);
  return c;
}

/** What a client can tell apart: status, content type, the body's messages parsed; signed state masked (it differs every run). */
async function observe(response: Response) {
  const type = response.headers.get('content-type');
  const body = (await response.text()).replace(/"requestState":"[^"]+"/g, '"requestState":"…"');
  const messages = type?.startsWith('text/event-stream')
    ? body.split('\n\n').filter((f) => f.startsWith('event:')).map((f) => JSON.parse(/^data: (.*)$/m.exec(f)![1]!))
    : body
      ? [JSON.parse(body)]
      : [];
  return { status: response.status, type, messages };
}

describe('gateway fast lane', () => {
  let served: Awaited<ReturnType<typeof startInProcess>>;
  let relay: Awaited<ReturnType<typeof countingRelay>>;
  let gateway: Gateway;
  let fast: ReturnType<typeof createKit>;
  let sdkOnly: ReturnType<typeof createKit>;

  before(async () => {
    served = await startInProcess(upstream, ENV);
    relay = await countingRelay(Number(new URL(served.url).port));
    const url = `http://127.0.0.1:${relay.port}/mcp`;
    const down = `http://127.0.0.1:${await closedPort()}/mcp`;
    const upstreams = {
      up: { url },
      admins: { url, access: { scopes: ['admin'] } },
      alices: { url, access: { principals: ['alice'] } },
      // Never opens its circuit, so both lanes meet the same refused connection.
      down: { url: down, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
    };
    gateway = createGateway(await loadGatewayConfig({ ...ENV, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams }) }, () => Promise.reject(new Error('no files'))));
    const config = loadConfig({ ...ENV, LOG_LEVEL: 'INFO' });
    fast = createKit(gateway.definition, config);
    sdkOnly = createKit(gateway.definition, config, { directLane: false });
    // The catalog knows the upstream's tools, as after any list (an unlisted name is otherwise sent upstream).
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: call('x').body.params._meta } };
    const listed = await sdkOnly.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { ...call('x').headers, 'mcp-method': 'tools/list' }, body: JSON.stringify(list) }));
    assert.equal(listed.status, 200, await listed.clone().text());
    assert.match(await listed.text(), /up__echo/);
  });
  after(async () => {
    await Promise.all([fast.close(), sdkOnly.close()]);
    await gateway.close();
    await served.stop();
    await relay.close();
  });

  /** Both kits' answers to one call, and the lane the access line names for the fast kit. */
  async function both(c: Call) {
    const send = async (kit: ReturnType<typeof createKit>) =>
      observe(await kit.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) })));
    const lines: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
      typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (lines.push(chunk), true) : original(chunk, ...rest),
    );
    let direct;
    try {
      direct = await send(fast);
    } finally {
      write.mock.restore();
    }
    const access = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mcp request');
    const sdk = await send(sdkOnly);
    return { direct, sdk, lane: access?.lane as string | undefined };
  }

  /** Calls the fast lane answers itself. */
  const fastCases: [string, Call][] = [
    ['a text result', call('up__echo', { text: 'hi' })],
    ['a string id', call('up__echo', { text: 'hi' }, (c) => (c.body.id = 'abc'))],
    ['no arguments', call('up__noinput')],
    ['structured content', call('up__structured', {})],
    ['an error result from upstream', call('up__fails', {})],
    ['a tool that threw upstream', call('up__throws', {})],
    ['bad arguments (the upstream words the refusal)', call('up__echo', { text: 1 })],
    ['an upstream that is down (a tool error naming it)', call('down__echo', { text: 'hi' })],
    ['a progress token', call('up__echo', { text: 'hi' }, (c) => (c.body.params._meta.progressToken = 't'))],
    ['progress the upstream reports, relayed (SSE)', call('up__reports', {}, (c) => (c.body.params._meta.progressToken = 'p'))],
    ['progress the upstream reports, for a caller that asked for none', call('up__reports', {})],
    ['client capabilities', call('up__echo', { text: 'hi' }, (c) => (c.body.params._meta[CC] = { elicitation: { form: {} }, roots: { listChanged: true } }))],
  ];
  /** Calls it hands to the SDK lane, before or after the upstream answered. */
  const sdkCases: [string, Call][] = [
    ['an image', call('up__image', {})],
    ['a resource link', call('up__link', {})],
    ['a result _meta', call('up__meta', {})],
    ['an MRTR question', call('up__asks', {})],
    ['a tool the upstream does not list', call('up__nope', {})],
    ['a name without a prefix', call('echo', { text: 'hi' })],
    ['an upstream that does not exist', call('zz__echo', { text: 'hi' })],
    ['a caller without the scope an upstream requires', call('admins__echo', { text: 'hi' })],
    ['a caller an upstream is not open to', call('alices__echo', { text: 'hi' })],
    ['Mcp-Name disagreeing', call('up__echo', { text: 'hi' }, (c) => (c.headers['mcp-name'] = 'up__other'))],
    ['an extra params member', call('up__echo', { text: 'hi' }, (c) => (c.body.params.requestState = 'x'))],
    ['arguments as an array', call('up__echo', [1])],
  ];

  for (const [name, c] of fastCases) {
    it(`answers itself, as the SDK lane would: ${name}`, async () => {
      const { direct, sdk, lane } = await both(c);
      assert.deepEqual(direct, sdk);
      assert.equal(lane, 'direct');
    });
  }
  for (const [name, c] of sdkCases) {
    it(`leaves it to the SDK lane: ${name}`, async () => {
      const { direct, sdk, lane } = await both(c);
      assert.deepEqual(direct, sdk);
      assert.notEqual(lane, 'direct');
    });
  }

  it('says what is wrong when it leaves a refusal to the SDK lane (control: the answers compared are real refusals)', async () => {
    const { direct } = await both(call('admins__echo', { text: 'hi' }));
    assert.match(JSON.stringify(direct.messages), /Unknown tool \\"admins__echo\\": no upstream is named \\"admins\\" \(upstreams: up, down\)/);
  });

  it('relays upstream progress on a stream to a caller that asked for it (control: the compared answers carry it)', async () => {
    const { direct } = await both(call('up__reports', {}, (c) => (c.body.params._meta.progressToken = 'p')));
    assert.equal(direct.type, 'text/event-stream');
    assert.deepEqual(direct.messages.map((m: { method?: string }) => m.method ?? 'result'), ['notifications/progress', 'result']);
  });

  it('a call it hands over after the upstream answered is made upstream once', async () => {
    const before = upstreamRuns;
    await fast.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: call('up__image').headers, body: JSON.stringify(call('up__image', {}).body) }));
    assert.equal(upstreamRuns - before, 1);
  });

  it('reuses its upstream connection from call to call', async () => {
    const c = call('up__echo', { text: 'again' });
    await (await fast.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) }))).text();
    const opened = relay.connections();
    const before = upstreamRuns;
    for (let i = 0; i < 20; i++) {
      const answer = await observe(await fast.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) })));
      assert.equal(answer.messages[0].result.content[0].text, 'again');
    }
    assert.equal(upstreamRuns - before, 20, 'every call reached the upstream');
    assert.equal(relay.connections(), opened, 'a call opened a new connection upstream');
  });
});
