// The gateway's fast lane answers exactly as its SDK lane would. One gateway (one set of upstream
// clients, one catalog) is served by two kits, one with the direct lane and one without; both get
// the same 2026-07-28 `tools/call`s: results of every kind an upstream gives (text, structured,
// an error result, an image, a result `_meta`, an MRTR question), bad arguments, unknown tools and
// upstreams, an upstream that is down, and callers an upstream is not open to. Status, content
// type and body must match, and the access line says which lane answered. The fast lane's
// upstream calls (over node:http, as deployed) reuse their connection, and a call it hands over is
// not made upstream twice.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { loadConfig } from '../../shared/config.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { nodeTransport } from '../../shared/adapters/upstream-http.ts';
import { createGateway, type Gateway } from '../../shared/gateway/gateway.ts';
import { createKit } from '../../shared/kit.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { bothLanes, call, CC, laneCases, observe, type Call } from '../helpers/lanes.ts';
import { startInProcess } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

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
    tool('slow', { description: 's' }, (_args, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted')))),
    tool('asks', { description: 'a' }, async (_args, ctx) =>
      inputRequired({
        inputRequests: { ok: inputRequired.elicit({ message: 'ok?', requestedSchema: z.object({ ok: z.boolean() }) }) },
        requestState: await ctx.mintRequestState({ asked: 1 }),
      }),
    ),
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
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}

describe('gateway fast lane', () => {
  let served: Awaited<ReturnType<typeof startInProcess>>;
  let relay: Awaited<ReturnType<typeof countingRelay>>;
  let gateway: Gateway;
  let fast: ReturnType<typeof createKit>;
  let sdkOnly: ReturnType<typeof createKit>;
  const transport = nodeTransport();

  before(async () => {
    served = await startInProcess(upstream, ENV);
    relay = await countingRelay(Number(new URL(served.url).port));
    const url = `http://127.0.0.1:${relay.port}/mcp`;
    const down = `http://127.0.0.1:${await freePort()}/mcp`;
    const upstreams = {
      up: { url },
      admins: { url, access: { scopes: ['admin'] } },
      alices: { url, access: { principals: ['alice'] } },
      // Never opens its circuit, so both lanes meet the same refused connection.
      down: { url: down, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
    };
    gateway = createGateway(
      await loadGatewayConfig({ ...ENV, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams }) }, () => Promise.reject(new Error('no files'))),
      { transport: transport.send },
    );
    const config = loadConfig({ ...ENV, LOG_LEVEL: 'INFO' });
    fast = createKit(gateway.definition, config);
    sdkOnly = createKit(gateway.definition, config, { directLane: false });
    // The catalog knows the upstream's tools, as after any list (an unlisted name is otherwise sent upstream).
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: call('x').body.params._meta } };
    const listed = await sdkOnly.app.fetch(
      new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { ...call('x').headers, 'mcp-method': 'tools/list' }, body: JSON.stringify(list) }),
    );
    assert.equal(listed.status, 200, await listed.clone().text());
    assert.match(await listed.text(), /up__echo/);
  });
  after(async () => {
    await Promise.all([fast.close(), sdkOnly.close()]);
    await gateway.close();
    transport.close();
    await served.stop();
    await relay.close();
  });

  const both = (c: Call) => bothLanes(fast, sdkOnly, c);

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

  laneCases(fastCases, sdkCases, both);

  it("the gateway's background work (upstream session touches) is the kit's pending work, which kit.settle waits for", async () => {
    let finish!: () => void;
    gateway.definition.pending!.track(new Promise<void>((resolve) => (finish = resolve)));
    let settled = false;
    const settling = fast.settle(5_000).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'settle waits for the tracked work');
    finish();
    await settling;
    assert.equal(gateway.definition.pending!.size, 0);
  });

  it('says what is wrong when it leaves a refusal to the SDK lane (control: the answers compared are real refusals)', async () => {
    const { direct } = await both(call('admins__echo', { text: 'hi' }));
    assert.match(JSON.stringify(direct.messages), /Unknown tool \\"admins__echo\\": no upstream is named \\"admins\\" \(upstreams: up, down\)/);
  });

  it('relays upstream progress on a stream to a caller that asked for it (control: the compared answers carry it)', async () => {
    const { direct } = await both(call('up__reports', {}, (c) => (c.body.params._meta.progressToken = 'p')));
    assert.equal(direct.type, 'text/event-stream');
    assert.deepEqual(
      direct.messages.map((m: { method?: string }) => m.method ?? 'result'),
      ['notifications/progress', 'result'],
    );
  });

  it('a call it hands over after the upstream answered is made upstream once', async () => {
    const before = upstreamRuns;
    await fast.app.fetch(
      new Request('http://127.0.0.1/mcp', { method: 'POST', headers: call('up__image').headers, body: JSON.stringify(call('up__image', {}).body) }),
    );
    assert.equal(upstreamRuns - before, 1);
  });

  it('reuses its upstream connection from call to call', async () => {
    const c = call('up__echo', { text: 'again' });
    await (await fast.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) }))).text();
    const opened = relay.connections();
    const before = upstreamRuns;
    for (let i = 0; i < 20; i++) {
      const answer = await observe(
        await fast.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) })),
      );
      assert.equal(answer.messages[0].result.content[0].text, 'again');
    }
    assert.equal(upstreamRuns - before, 20, 'every call reached the upstream');
    assert.equal(relay.connections(), opened, 'a call opened a new connection upstream');
  });
});

// The raw 2026-07-28 call path of the resilient client against its SDK client path: two gateways on
// the same upstreams, one calling them raw (the default) and one through the SDK's client
// (`rawUpstreamCalls: false`), both answering on the fast lane. Every answer must match, whatever the
// upstream did: results, error results, protocol errors, an unknown tool, a refused connection, a
// time limit, a refusal before any call, progress on an SSE stream; and, from a hand-written upstream,
// a plain SSE answer, HTTP refusals and results the SDK refuses.

const completeResult = (id: unknown, result: object) => ({
  status: 200,
  type: 'application/json',
  body: JSON.stringify({ jsonrpc: '2.0', id, result: { ...result, resultType: 'complete' } }),
});

/** The wire answers of a 2026-07-28 server, written by hand so they can be what the kit never sends. */
const ODD_ANSWERS: Record<string, (id: unknown) => { status: number; type: string; body: string }> = {
  sse: (id) => ({
    status: 200,
    type: 'text/event-stream',
    body: `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } })}\n\nevent: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'by stream' }], resultType: 'complete' } })}\n\n`,
  }),
  refused: () => ({ status: 403, type: 'text/plain', body: 'not you' }),
  rpc400: (id) => ({
    status: 400,
    type: 'application/json',
    body: JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'bad thing', data: { why: 1 } } }),
  }),
  teapot: () => ({ status: 418, type: 'text/plain', body: 'short and stout' }),
  noResultType: (id) => ({ status: 200, type: 'application/json', body: JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } }) }),
  badContent: (id) => ({
    status: 200,
    type: 'application/json',
    body: JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text' }], resultType: 'complete' } }),
  }),
  // Results at the edge of what the raw path accepts without the SDK's schema (raw-call.ts surelyValid).
  badAnnotations: (id) => completeResult(id, { content: [{ type: 'text', text: 'x', annotations: { priority: 5 } }] }),
  goodAnnotations: (id) => completeResult(id, { content: [{ type: 'text', text: 'x', annotations: { priority: 0.5 } }] }),
  isErrorString: (id) => completeResult(id, { content: [], isError: 'yes' }),
  contentString: (id) => completeResult(id, { content: 'x' }),
  otherType: (id) => ({ status: 200, type: 'application/json', body: JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'later' } }) }),
  rpcError: (id) => ({
    status: 200,
    type: 'application/json',
    body: JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'Tool nope not found', data: { tool: 'nope' } } }),
  }),
  moved: () => ({ status: 307, type: 'text/plain', body: '/mcp?moved' }),
  html: () => ({ status: 200, type: 'text/html', body: '<p>hi</p>' }),
};

async function oddUpstream() {
  const server = createHttpServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const message = JSON.parse(text) as { id: unknown; method: string; params?: { name?: string } };
    const reply = (status: number, type: string, body: string) =>
      res.writeHead(status, { 'content-type': type, ...(status === 307 && { location: body }) }).end(body);
    const result = (r: object) => reply(200, 'application/json', JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { ...r, resultType: 'complete' } }));
    if (message.method === 'server/discover')
      return result({
        supportedVersions: ['2026-07-28'],
        capabilities: { tools: {} },
        ttlMs: 0,
        cacheScope: 'private',
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'odd', version: '1' } },
      });
    if (message.method === 'tools/list')
      return result({ tools: Object.keys(ODD_ANSWERS).map((name) => ({ name, inputSchema: { type: 'object' } })), ttlMs: 0, cacheScope: 'private' });
    const tool = req.url?.endsWith('?moved') ? 'sse' : (message.params?.name ?? '');
    const answer = ODD_ANSWERS[tool]?.(message.id) ?? { status: 404, type: 'text/plain', body: 'no' };
    reply(answer.status, answer.type, answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

describe('raw upstream calls', () => {
  let served: Awaited<ReturnType<typeof startInProcess>>;
  let odd: Awaited<ReturnType<typeof oddUpstream>>;
  const gateways: Gateway[] = [];
  // The raw path over node:http, as deployed; the SDK's client path uses fetch.
  const transport = nodeTransport();
  let raw: ReturnType<typeof createKit>;
  let sdk: ReturnType<typeof createKit>;

  before(async () => {
    served = await startInProcess(upstream, ENV);
    odd = await oddUpstream();
    const url = served.url;
    const upstreams = {
      up: { url, retry: { attempts: 1 } },
      admins: { url, access: { scopes: ['admin'] } },
      down: { url: `http://127.0.0.1:${await freePort()}/mcp`, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
      hasty: { url, timeouts: { callMs: 150 }, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
      odd: { url: odd.url, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
    };
    const config = loadConfig({ ...ENV, LOG_LEVEL: 'ERROR' });
    const gatewayConfig = await loadGatewayConfig({ ...ENV, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams }) }, () => Promise.reject(new Error('no files')));
    for (const rawUpstreamCalls of [true, false]) gateways.push(createGateway(gatewayConfig, { rawUpstreamCalls, transport: transport.send }));
    [raw, sdk] = gateways.map((g) => createKit(g.definition, config)) as [ReturnType<typeof createKit>, ReturnType<typeof createKit>];
    for (const kit of [raw, sdk]) {
      const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: call('x').body.params._meta } };
      const listed = await kit.app.fetch(
        new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { ...call('x').headers, 'mcp-method': 'tools/list' }, body: JSON.stringify(list) }),
      );
      assert.match(await listed.text(), /odd__sse/);
    }
  });
  after(async () => {
    await Promise.all([raw.close(), sdk.close()]);
    await Promise.all(gateways.map((g) => g.close()));
    transport.close();
    await served.stop();
    await odd.close();
  });

  /** Both gateways' answers to one call, and how many calls each made through the SDK's client. */
  async function both(c: Call) {
    const sdkCalls = mock.method(Client.prototype, 'callTool');
    const send = async (kit: ReturnType<typeof createKit>) => {
      const before = sdkCalls.mock.callCount();
      const answer = await observe(
        await kit.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) })),
      );
      return { answer, viaSdk: sdkCalls.mock.callCount() - before };
    };
    try {
      return { raw: await send(raw), sdk: await send(sdk) };
    } finally {
      sdkCalls.mock.restore();
    }
  }

  /** Name, call, and whether the SDK client path gets as far as the SDK's callTool. */
  const cases: [string, Call, boolean][] = [
    ['a text result', call('up__echo', { text: 'hi' }), true],
    ['structured content', call('up__structured', {}), true],
    ['an error result', call('up__fails', {}), true],
    ['a tool that threw', call('up__throws', {}), true],
    ['bad arguments', call('up__echo', { text: 1 }), true],
    ['an image (handed to the SDK lane)', call('up__image', {}), true],
    ['a resource link', call('up__link', {}), true],
    ['a result _meta', call('up__meta', {}), true],
    ['an MRTR question', call('up__asks', {}), true],
    ['a tool the upstream does not list', call('up__nope', {}), false],
    ['a JSON-RPC error from the upstream', call('odd__rpcError', {}), true],
    ['progress relayed from an SSE answer', call('up__reports', {}, (c) => (c.body.params._meta.progressToken = 'p')), true],
    ['progress for a caller that asked for none', call('up__reports', {}), true],
    ['an upstream that is down (the SDK client fails to connect, before its callTool)', call('down__echo', { text: 'hi' }), false],
    ['an upstream past its time limit', call('hasty__slow', {}), true],
    ['a caller without the scope an upstream requires (never sent)', call('admins__echo', { text: 'hi' }), false],
    ['an SSE answer with a log message before the result', call('odd__sse', {}), true],
    ['403 from the upstream', call('odd__refused', {}), true],
    ['400 carrying a JSON-RPC error', call('odd__rpc400', {}), true],
    ['418 from the upstream', call('odd__teapot', {}), true],
    ['a result without resultType', call('odd__noResultType', {}), true],
    ['a text block without text', call('odd__badContent', {}), true],
    ['an unknown resultType', call('odd__otherType', {}), true],
    ['a text block with annotations the schema refuses', call('odd__badAnnotations', {}), true],
    ['a text block with annotations the schema takes', call('odd__goodAnnotations', {}), true],
    ['isError not a boolean', call('odd__isErrorString', {}), true],
    ['content not an array', call('odd__contentString', {}), true],
    ['an HTML answer', call('odd__html', {}), true],
    ['a redirect (the raw path hands the call to the SDK client, which follows it)', call('odd__moved', {}), true],
  ];
  /** Calls the raw gateway still makes through the SDK client. */
  const handedToSdk = new Set(['odd__moved']);
  for (const [name, c, viaSdk] of cases) {
    it(`answers as the SDK client path does: ${name}`, async () => {
      const { raw: r, sdk: s } = await both(c);
      assert.deepEqual(r.answer, s.answer);
      assert.equal(r.viaSdk, handedToSdk.has(c.body.params.name) ? 1 : 0, 'the raw gateway called through the SDK client');
      assert.equal(s.viaSdk, viaSdk ? 1 : 0, 'control: the other gateway calls through the SDK client');
    });
  }

  it('control: the compared answers are what the upstream said', async () => {
    const texts = async (c: Call) => JSON.stringify((await both(c)).raw.answer.messages);
    assert.match(await texts(call('hasty__slow', {})), /no answer to tools\/call within 150 ms/);
    assert.match(await texts(call('odd__sse', {})), /by stream/);
    assert.match(await texts(call('odd__moved', {})), /by stream/);
    assert.match(await texts(call('odd__refused', {})), /access denied \(403\)/);
    assert.match(await texts(call('odd__rpc400', {})), /bad thing/);
    assert.match(await texts(call('odd__rpcError', {})), /-32602: Tool nope not found/);
    assert.match(await texts(call('odd__noResultType', {})), /missing required resultType/);
    for (const refused of ['badAnnotations', 'isErrorString', 'contentString'])
      assert.match(await texts(call(`odd__${refused}`, {})), /Invalid result for tools\/call/, refused);
    assert.match(await texts(call('down__echo', { text: 'hi' })), /ECONNREFUSED/);
  });
});
