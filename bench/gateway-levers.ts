// What a gateway lever buys: gateways built from named commits (git archive, as bench/levers.ts
// does) served side by side in ONE process, each in front of the same echo server, with calls
// straight to the server and through a hand-written Hono proxy interleaved with theirs, round by
// round. Reports p10, p25, p50, p90, p99 per row, the ratios to a direct call and to the proxy,
// and the process's CPU per call (median of the rounds; it counts the client and the echo server
// too, the same for every row). Every answer is checked.
//   npx tsx bench/gateway-levers.ts [label=]commit ...
// Each commit's whole kit is loaded from its own tree: no row shares a module (or its JIT state)
// with another. The machine is shared: compare rows of one run, and lower percentiles first.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import echo from '../functions/echo/server.ts';
import { serveApp } from '../shared/adapters/node.ts';
import type { createGateway as CreateGateway } from '../shared/gateway/gateway.ts';
import type { loadGatewayConfig as LoadGatewayConfig } from '../shared/gateway/config.ts';
import { startInProcess } from '../test/helpers/server.ts';
import { ROOT } from './build.ts';
import { KIT_ENV } from './env.ts';
import { assertEcho, modernCall, type HttpCall } from './request.ts';

const OUT = join(ROOT, '.local/bench/gateway-levers');
const WARMUP = Number(process.env.WARMUP ?? 1_500);
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const PER_ROUND = Number(process.env.PER_ROUND ?? 100);
const FORWARDED = ['accept', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name'];
const VIA_GATEWAY = { name: 'e0__echo', arguments: { text: 'hello from the benchmark' }, text: 'hello from the benchmark' };

interface Row {
  label: string;
  url: string;
  call: (id: number) => HttpCall;
  samples: number[];
  cpu: number[];
}

function treeOf(label: string, commit: string): string {
  const tree = join(OUT, `src-${label}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C '${ROOT}' archive ${commit} | tar -x -C '${tree}'`], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${commit}: ${archive.stderr}`);
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  return tree;
}

/** The floor of a second hop, as bench/suites/gateway.ts serves it. */
function rawProxy(upstream: string) {
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

async function gatewayRow(spec: string, upstream: string): Promise<Row & { stop(): Promise<void> }> {
  const [label, commit] = spec.includes('=') ? (spec.split('=') as [string, string]) : [spec, spec];
  const tree = treeOf(label, commit);
  const { loadGatewayConfig } = (await import(join(tree, 'shared/gateway/config.ts'))) as { loadGatewayConfig: typeof LoadGatewayConfig };
  const { createGateway } = (await import(join(tree, 'shared/gateway/gateway.ts'))) as { createGateway: typeof CreateGateway };
  const helpers = (await import(join(tree, 'test/helpers/server.ts'))) as { startInProcess: typeof startInProcess };
  const env = { ...KIT_ENV, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams: { e0: { url: upstream } } }) };
  const gateway = createGateway(await loadGatewayConfig(env, () => Promise.reject(new Error('no files'))));
  const served = await helpers.startInProcess(gateway.definition, { ...KIT_ENV });
  return {
    label,
    url: served.url,
    call: (id) => modernCall(id, VIA_GATEWAY),
    samples: [],
    cpu: [],
    stop: async () => (await served.stop(), await gateway.close()),
  };
}

let nextId = 1;
async function timed(row: Row): Promise<number> {
  const call = row.call(nextId++);
  const started = performance.now();
  const response = await fetch(row.url, { method: 'POST', headers: call.headers, body: call.body });
  const body = await response.text();
  const micros = (performance.now() - started) * 1000;
  assertEcho(row.label, response.status, body);
  return micros;
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))]!;

function print(rows: Row[]) {
  const [direct, proxy] = [rows[0]!, rows[1]!];
  const cols = ['p10', 'p25', 'p50', 'p90', 'p99', 'p50/direct', 'p99/direct', 'p50/proxy', 'CPU µs/call'];
  console.log(['row'.padEnd(12), ...cols.map((c) => c.padStart(12))].join(''));
  for (const row of rows) {
    const q = (f: number) => quantile(row.samples, f);
    const values = [
      q(0.1).toFixed(0),
      q(0.25).toFixed(0),
      q(0.5).toFixed(0),
      q(0.9).toFixed(0),
      q(0.99).toFixed(0),
      (q(0.5) / quantile(direct.samples, 0.5)).toFixed(2),
      (q(0.99) / quantile(direct.samples, 0.99)).toFixed(2),
      (q(0.5) / quantile(proxy.samples, 0.5)).toFixed(2),
      quantile(row.cpu, 0.5).toFixed(0),
    ];
    console.log([row.label.padEnd(12), ...values.map((v) => v.padStart(12))].join(''));
  }
}

const specs = process.argv.slice(2);
if (specs.length === 0) throw new Error('usage: npx tsx bench/gateway-levers.ts [label=]commit ...');
const upstream = await startInProcess(echo, { ...KIT_ENV });
const proxy = await rawProxy(upstream.url);
const gateways = [];
for (const spec of specs) gateways.push(await gatewayRow(spec, upstream.url));
const rows: Row[] = [
  { label: 'direct', url: upstream.url, call: (id) => modernCall(id), samples: [], cpu: [] },
  { label: 'raw proxy', url: `${proxy.url}/mcp`, call: (id) => modernCall(id), samples: [], cpu: [] },
  ...gateways,
];
try {
  for (let i = 0; i < WARMUP; i++) for (const row of rows) await timed(row);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(round + k) % rows.length]!;
      const before = process.cpuUsage();
      for (let i = 0; i < PER_ROUND; i++) row.samples.push(await timed(row));
      const used = process.cpuUsage(before);
      row.cpu.push((used.user + used.system) / PER_ROUND);
    }
  }
  print(rows);
} finally {
  for (const g of gateways) await g.stop();
  await proxy.close();
  await upstream.stop();
}
