// The MCP gateway over loopback HTTP: what a call pays for going through it instead of straight to
// the server, beside the floor of any second hop (a hand-written Hono proxy), how long a list takes
// to gather from 2 and from 10 upstreams, and how fast a call to an upstream whose circuit is open
// is refused. Everything runs in the runner process: the kit's echo server (several, for the
// lists), gateways and the proxy in front of them, and a keep-alive fetch client.
import { Agent, createServer as createHttpServer, request, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { serveApp, type Served as ServedApp } from '../../shared/adapters/node.ts';
import { nodeTransport } from '../../shared/adapters/upstream-http.ts';
import echo from '../../functions/echo/server.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../shared/gateway/gateway.ts';
import type { ServerDefinition } from '../../shared/server/define.ts';
import { startInProcess } from '../../test/helpers/server.ts';
import type { Budget } from '../budget.ts';
import { KIT_ENV } from '../env.ts';
import type { Column, Section } from '../report.ts';
import { assertEcho, modernCall, type HttpCall, type ToolCall } from '../request.ts';
import { summarize } from '../stats.ts';

export interface GatewayPlan {
  warmupCalls: number;
  rounds: number;
  callsPerRound: number;
  /** Lists timed per row. */
  listCalls: number;
  /** Refused calls timed per row. */
  failCalls: number;
}

export const GATEWAY_ROW_IDS = {
  calls: ['direct', 'raw-proxy', 'node-proxy', 'gateway', 'gateway-fetch', 'gateway-sdk-client', 'gateway-sdk'],
  lists: ['direct', 'upstreams-2', 'upstreams-10'],
  circuit: ['open', 'refused'],
};

const CALL_TIMEOUT_MS = 10_000;
const COLUMNS: Column[] = [
  { key: 'p50', header: 'p50', unit: 'us' },
  { key: 'p90', header: 'p90', unit: 'us' },
  { key: 'p99', header: 'p99', unit: 'us' },
  { key: 'n', header: 'samples', unit: 'count' },
];
/** echo, with list results that may not be cached: every gateway list asks every upstream. */
const UNCACHED_ECHO: ServerDefinition = { ...echo, listCacheHint: { ttlMs: 0, cacheScope: 'private' } };

type Served = Awaited<ReturnType<typeof startInProcess>>;

/** A loopback port nothing listens on (one that was free a moment ago): connections to it are refused. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The headers a 2026-07-28 call carries that the proxy sends on. */
const FORWARDED = ['accept', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name'];

/**
 * The floor of a second hop: a hand-written Hono app that sends the POST on to `upstream` with
 * `fetch` (Node's keep-alive agent) and answers with the upstream's status and body, nothing checked.
 */
function rawProxy(upstream: string): Promise<ServedApp> {
  const app = new Hono().post('/mcp', async (c) => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED) {
      const value = c.req.header(name);
      if (value !== undefined) headers[name] = value;
    }
    const answer = await fetch(upstream, { method: 'POST', headers, body: await c.req.text() });
    return new Response(await answer.text(), { status: answer.status, headers: { 'content-type': answer.headers.get('content-type') ?? 'application/json' } });
  });
  return serveApp(app, { port: 0, host: '127.0.0.1' });
}

/** A request or response body, whole, as text. */
function readAll(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/**
 * The true floor of a second hop here: node:http alone, no framework and no `fetch`. The POST goes
 * on over a keep-alive Agent with the forwarded headers, and the upstream's status, content type and
 * body come back as they are, nothing checked. Bodies are read whole and sent with a length: piping
 * them (chunked both ways) measured slower (bench/findings.md).
 */
async function nodeProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new Agent({ keepAlive: true });
  const server = createHttpServer(async (req, res) => {
    const body = await readAll(req);
    const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
    for (const name of FORWARDED) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const out = request(upstream, { method: 'POST', headers, agent }, async (answer) => {
      const text = await readAll(answer);
      res.writeHead(answer.statusCode ?? 502, {
        'content-type': answer.headers['content-type'] ?? 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
    out.on('error', () => res.writeHead(502).end());
    out.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

/** A stateless `tools/list`, built from the call the other rows make. */
function listCall(id: number): HttpCall {
  const call = modernCall(id);
  const { 'mcp-name': _name, ...headers } = call.headers;
  const { params } = JSON.parse(call.body) as { params: { _meta: object } };
  return {
    headers: { ...headers, 'mcp-method': 'tools/list' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: params._meta } }),
  };
}

let nextId = 1;
/** One timed round trip, checked: µs. */
async function timed(url: string, call: HttpCall, check: (status: number, body: string) => void): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: call.headers, body: call.body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  const body = await response.text();
  const micros = (performance.now() - started) * 1000;
  check(response.status, body);
  return micros;
}

const row = (id: string, label: string, samples: number[]) => {
  const s = summarize(samples);
  return { id, label, values: { p50: s.median, p90: s.p90, p99: s.p99, n: s.n } };
};

/** A gateway in this process, configured as MCP_GATEWAY_CONFIG would configure it. */
async function startGateway(upstreams: Record<string, object>, options: GatewayOptions): Promise<{ served: Served; gateway: Gateway }> {
  const gateway = createGateway(
    await loadGatewayConfig({ ...KIT_ENV, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams }) }, () => Promise.reject(new Error('no files'))),
    options,
  );
  return { served: await startInProcess(gateway.definition, { ...KIT_ENV }), gateway };
}

/** Where the call rows send their calls besides the upstream itself. */
interface CallUrls {
  /** The hand-written proxy in front of the upstream. */
  proxy: string;
  /** The node:http proxy in front of the upstream. */
  nodeProxy: string;
  gateway: string;
  /** The same gateway with `fetch` as its upstream transport. */
  gatewayFetch: string;
  /** A gateway calling its upstream through the SDK's client (raw upstream calls off). */
  sdkClient: string;
  /** The first gateway served without its fast lane (the direct lane off), for comparison. */
  sdkLane: string;
}

async function measureCalls(plan: GatewayPlan, budget: Budget, upstream: Served, urls: CallUrls) {
  const viaGateway: ToolCall = { name: 'e0__echo', arguments: { text: 'hello from the benchmark' }, text: 'hello from the benchmark' };
  const paths = [
    { id: 'direct', label: 'straight to the echo server', url: upstream.url, call: (id: number) => modernCall(id), samples: [] as number[] },
    {
      id: 'raw-proxy',
      label: 'through a hand-written Hono proxy (fetch, keep-alive): the second hop alone',
      url: urls.proxy,
      call: (id: number) => modernCall(id),
      samples: [] as number[],
    },
    {
      id: 'node-proxy',
      label: 'through a hand-written node:http proxy (keep-alive Agent): the floor of a second hop',
      url: urls.nodeProxy,
      call: (id: number) => modernCall(id),
      samples: [] as number[],
    },
    {
      id: 'gateway',
      label: 'through the gateway (e0__echo), fast lane',
      url: urls.gateway,
      call: (id: number) => modernCall(id, viaGateway),
      samples: [] as number[],
    },
    {
      id: 'gateway-fetch',
      label: 'through a gateway calling upstream with fetch (fast lane; the row above uses node:http)',
      url: urls.gatewayFetch,
      call: (id: number) => modernCall(id, viaGateway),
      samples: [] as number[],
    },
    {
      id: 'gateway-sdk-client',
      label: 'through a gateway calling upstream with the SDK client (fast lane)',
      url: urls.sdkClient,
      call: (id: number) => modernCall(id, viaGateway),
      samples: [] as number[],
    },
    {
      id: 'gateway-sdk',
      label: 'through the same gateway, SDK lane (fast lane off)',
      url: urls.sdkLane,
      call: (id: number) => modernCall(id, viaGateway),
      samples: [] as number[],
    },
  ];
  const run = (p: (typeof paths)[number]) => timed(p.url, p.call(nextId++), (status, body) => assertEcho(p.label, status, body));
  for (let i = 0; i < plan.warmupCalls; i++) for (const p of paths) await run(p);
  let rounds = 0;
  for (; rounds < plan.rounds && (rounds === 0 || !budget.spent()); rounds++) {
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(rounds + k) % paths.length]!;
      for (let i = 0; i < plan.callsPerRound; i++) path.samples.push(await run(path));
    }
  }
  return { rows: paths.map((p) => row(p.id, p.label, p.samples)), rounds };
}

async function measureLists(plan: GatewayPlan, upstreams: Served[], two: string, ten: string) {
  const expectTools = (label: string, count: number) => (status: number, body: string) => {
    const tools = (JSON.parse(body) as { result?: { tools?: unknown[] } }).result?.tools?.length;
    if (status !== 200 || tools !== count) throw new Error(`${label}: expected ${count} tools, got HTTP ${status}: ${body.slice(0, 300)}`);
  };
  // Every tool of every upstream is listed: echo's (functions/echo) times the number of servers.
  const each = UNCACHED_ECHO.tools.length;
  const paths = [
    { id: 'direct', label: 'one echo server, straight', url: upstreams[0]!.url, count: each },
    { id: 'upstreams-2', label: 'gateway in front of 2 echo servers', url: two, count: 2 * each },
    { id: 'upstreams-10', label: 'gateway in front of 10 echo servers', url: ten, count: 10 * each },
  ];
  const rows = [];
  for (const p of paths) {
    for (let i = 0; i < Math.min(plan.warmupCalls, 50); i++) await timed(p.url, listCall(nextId++), expectTools(p.label, p.count));
    const samples: number[] = [];
    for (let i = 0; i < plan.listCalls; i++) samples.push(await timed(p.url, listCall(nextId++), expectTools(p.label, p.count)));
    rows.push(row(p.id, p.label, samples));
  }
  return rows;
}

async function measureCircuit(plan: GatewayPlan, gatewayUrl: string) {
  const refusedCall = (name: string): ToolCall => ({ name, arguments: { text: 'x' }, text: '' });
  const expectRefusal = (label: string, pattern: RegExp) => (status: number, body: string) => {
    if (status !== 200 || !body.includes('"isError":true') || !pattern.test(body))
      throw new Error(`${label}: expected a tool error matching ${pattern}, got HTTP ${status}: ${body.slice(0, 300)}`);
  };
  // One failure opens "down"'s circuit, for longer than the run.
  await timed(gatewayUrl, modernCall(nextId++, refusedCall('down__echo')), () => {});
  const paths = [
    { id: 'open', label: 'circuit open: refused without a connection attempt', tool: 'down__echo', pattern: /circuit open/ },
    { id: 'refused', label: 'circuit closed, connection refused (no retry)', tool: 'refused__echo', pattern: /ECONNREFUSED/ },
  ];
  const rows = [];
  for (const p of paths) {
    const samples: number[] = [];
    for (let i = 0; i < plan.failCalls; i++)
      samples.push(await timed(gatewayUrl, modernCall(nextId++, refusedCall(p.tool)), expectRefusal(p.label, p.pattern)));
    rows.push(row(p.id, p.label, samples));
  }
  return rows;
}

export async function measureGateway(plan: GatewayPlan, budget: Budget): Promise<Section[]> {
  const upstreams: Served[] = [];
  const gateways: { served: Served; gateway: Gateway }[] = [];
  let sdkLane: Served | undefined;
  let proxy: ServedApp | undefined;
  let floor: Awaited<ReturnType<typeof nodeProxy>> | undefined;
  // The upstream transport the gateway is deployed with (functions/gateway/server.ts): node:http(s), keep-alive.
  const transport = nodeTransport();
  const deployed: GatewayOptions = { transport: transport.send };
  try {
    for (let i = 0; i < 10; i++) upstreams.push(await startInProcess(UNCACHED_ECHO, { ...KIT_ENV }));
    const closed = `http://127.0.0.1:${await closedPort()}/mcp`;
    const named = (n: number) => Object.fromEntries(upstreams.slice(0, n).map((u, i) => [`e${i}`, { url: u.url }]));
    const [two, ten, failing] = [
      await startGateway(named(2), deployed),
      await startGateway(named(10), deployed),
      await startGateway(
        {
          down: { url: closed, breaker: { failureThreshold: 1, cooldownMs: 3_600_000 }, retry: { attempts: 1 } },
          refused: { url: closed, breaker: { failureThreshold: 1_000_000_000 }, retry: { attempts: 1 } },
        },
        deployed,
      ),
    ];
    const sdkClient = await startGateway(named(1), { ...deployed, rawUpstreamCalls: false });
    // No transport: the default, fetch.
    const viaFetch = await startGateway(named(2), {});
    gateways.push(two, ten, failing, sdkClient, viaFetch);
    // The same gateway (its upstream clients) served a second time, without the direct lane.
    sdkLane = await startInProcess(two.gateway.definition, { ...KIT_ENV }, { directLane: false });
    proxy = await rawProxy(upstreams[0]!.url);
    floor = await nodeProxy(upstreams[0]!.url);
    const calls = await measureCalls(plan, budget, upstreams[0]!, {
      proxy: `${proxy.url}/mcp`,
      nodeProxy: floor.url,
      gateway: two.served.url,
      gatewayFetch: viaFetch.served.url,
      sdkClient: sdkClient.served.url,
      sdkLane: sdkLane.url,
    });
    const lists = await measureLists(plan, upstreams, two.served.url, ten.served.url);
    const circuit = await measureCircuit(plan, failing.served.url);
    const where =
      "In the runner process on loopback: the kit's echo server(s) (@hono/node-server, LOG_LEVEL=ERROR), the gateway (a kit server, LOG_LEVEL=ERROR) and a keep-alive `fetch` client, one request at a time; a sample is the full round trip including reading the body. Runner, gateway and upstreams share the machine's cores.";
    return [
      {
        id: 'gateway',
        title: 'Gateway overhead per call, loopback HTTP (2026-07-28 on both sides)',
        method:
          `${where} The same echo call straight to the server; through a hand-written Hono proxy (served as the kit is, sending the POST on with \`fetch\` and answering with the upstream's body: the cost of a second hop and nothing else); and as e0__echo through the gateway, whose client to the server is the resilient client (its own 2026-07-28 connection, kept open), sending the call as one plain POST (its raw path); the row after it is a gateway whose resilient client calls through the SDK's client instead. ` +
          "The gateway answers a plain call on its fast lane (the kit's direct lane, no SDK server); the last row is the same gateway served with the direct lane off, every call through a pooled SDK server. " +
          'A call through the gateway makes two loopback HTTP round trips where a direct call makes one: the proxy row is that floor here.',
        iterations: `${plan.warmupCalls} warm-up calls per row, then ${calls.rounds} interleaved rounds × ${plan.callsPerRound} calls`,
        columns: COLUMNS,
        rows: calls.rows,
      },
      {
        id: 'gateway-lists',
        title: 'Gateway tools/list aggregation, loopback HTTP',
        method: `${where} The echo servers answer lists with ttlMs 0, so every gateway list asks every upstream (in parallel) and nothing comes from a cache; each list is checked to hold one tool per upstream.`,
        iterations: `${Math.min(plan.warmupCalls, 50)} warm-up lists per row, then ${plan.listCalls}`,
        columns: COLUMNS,
        rows: lists,
      },
      {
        id: 'gateway-circuit',
        title: 'Gateway: a call to an unreachable upstream',
        method: `${where} Both upstreams point at a closed loopback port, without retries; "down" has its circuit opened by one failure before timing. Each call is checked to be a tool error naming the cause.`,
        iterations: `${plan.failCalls} calls per row`,
        columns: COLUMNS,
        rows: circuit,
      },
    ];
  } finally {
    await proxy?.close();
    await floor?.close();
    await sdkLane?.stop();
    for (const { served, gateway } of gateways) {
      await served.stop();
      await gateway.close();
    }
    for (const u of upstreams) await u.stop();
    transport.close();
  }
}
