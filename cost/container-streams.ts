// Many `subscriptions/listen` streams held by one long-lived server process (the container model):
// starts a real redis-server and the server command given, opens the streams from separate load
// processes (cost/stream-listeners.ts), and measures the server's memory (RSS from /proc, heap
// over IPC when the server answers), its CPU while the streams sit idle, and how late an event
// published by another instance through Redis reaches every stream.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, type Summary } from '../bench/stats.ts';
import { freePort } from '../local/free-port.ts';
import { startRedis } from '../local/redis.ts';
import { createRedisEventBus } from '../shared/events/redis-bus.ts';
import type { KitLogger } from '../shared/log.ts';
import { createRedis } from '../shared/redis.ts';
import { MODERN } from './scenarios.ts';
import type { ListenerCommand, ListenerReport } from './stream-listeners.ts';

export interface StreamMeasureOptions {
  streams: number;
  /** Load processes the streams are spread over. */
  clients: number;
  /** Events published once every stream is open (after one warm-up event). */
  rounds: number;
  /** Quiet time before each event: long enough and the server's poller has backed off. */
  roundGapMs: number;
  /** How long CPU is sampled with the warm-up streams open, and again with all of them. */
  idleSeconds: number;
  /** The server process: command and arguments; it serves on PORT and must be the process itself (its pid is measured). */
  server: string[];
  /** The server definition's name: events travel on the Redis stream `mcp:events:<name>`. */
  serverName: string;
  /** Server settings on top of the measurement's own. */
  env?: Record<string, string>;
  deliveryTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface MemorySample {
  streams: number;
  rssKb: number;
  heapUsedKb?: number;
  /** Memory of C++ objects bound to JS (socket buffers among them), after the same GC. */
  externalKb?: number;
}

export interface StreamMeasurement {
  opened: number;
  /** Answers that were not a stream: `<HTTP status> <JSON-RPC code> <message>` → how many. */
  refused: Record<string, number>;
  errors: string[];
  memory: { samples: MemorySample[]; rssKbPerStream: number; heapKbPerStream?: number };
  /** Share of one core the server used while nothing happened, with `streams` open. */
  idleCpu: { streams: number; percentOfCore: number }[];
  /** Milliseconds from publish to arrival, one summary per round; `spread` is last arrival minus first. */
  rounds: { latency: Summary; spreadMs: number; missing: number }[];
  /** Every arrival of every measured round. */
  latency: Summary;
  /** A stream listening for prompt list changes only, open through the rounds: how many list changes reached it (0 when the kit filters). */
  control: { status: number; listChanges: number };
}

const WARM = 10;
const quietLog = { debug() {}, info() {}, warn() {}, error() {} } as unknown as KitLogger;
const now = () => performance.timeOrigin + performance.now();

/** `streamsPerInstance`: the process's stream limit, MCP_CONTAINER_STREAMS (its default when absent). */
export function defaultServer(entry = 'functions/notes/server.ts', streamsPerInstance?: number): string[] {
  return [process.execPath, '--expose-gc', '--import', 'tsx', 'cost/stream-server.ts', entry, ...(streamsPerInstance ? [String(streamsPerInstance)] : [])];
}

async function waitHealthy(base: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${output()}`);
    const ok = await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`the server did not answer ${base}/health within 30 s:\n${output()}`);
}

function serverEnv(port: number, redis: { url: string; token: string }, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LOG_LEVEL: 'ERROR',
    PORT: String(port),
    AWS_REGION: 'us-east-1',
    // Listen streams touch neither table nor bucket; nothing answers on port 9.
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    MCP_REQUEST_STATE_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'),
    MCP_ALLOWED_HOSTS: 'localhost,127.0.0.1',
    // Every stream here is one unauthenticated principal; in use they are many callers.
    MCP_STREAMS_PER_PRINCIPAL: '1000000',
    MCP_RATE_LIMIT_ENABLED: 'false',
    MCP_STREAM_MAX_SECONDS: '3600',
    ...extra,
  };
}

/** The server's resident memory (/proc), and its heap after a full GC when it answers the IPC question. */
async function memory(child: ChildProcess, streams: number): Promise<MemorySample> {
  let heapUsedKb: number | undefined;
  let externalKb: number | undefined;
  if (child.connected) {
    const answer = once(child, 'message') as Promise<[{ memory: NodeJS.MemoryUsage }]>;
    child.send('memory');
    const reply = await Promise.race([answer, sleep(10_000).then(() => undefined)]);
    if (reply) [heapUsedKb, externalKb] = [reply[0].memory.heapUsed, reply[0].memory.external].map((b) => Math.round(b / 1024));
  }
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  return { streams, rssKb, heapUsedKb, externalKb };
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

function cpuSeconds(pid: number): number {
  // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function idleCpu(pid: number, seconds: number, streams: number) {
  const [cpu, at] = [cpuSeconds(pid), performance.now()];
  await sleep(seconds * 1000);
  return { streams, percentOfCore: (100 * (cpuSeconds(pid) - cpu)) / ((performance.now() - at) / 1000) };
}

/** A load process and a way to wait for its next report of a kind. */
function startClient() {
  const child = fork(new URL('./stream-listeners.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <K extends ListenerReport['type']>(type: K) =>
    new Promise<Extract<ListenerReport, { type: K }>>((resolve, reject) => {
      const onMessage = (m: ListenerReport) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as Extract<ListenerReport, { type: K }>);
      };
      const onExit = (code: number | null) => reject(new Error(`a load process exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return { child, next, send: (command: ListenerCommand) => child.send(command) };
}
type Client = ReturnType<typeof startClient>;

const listenBody = (notifications: Record<string, boolean>, id: string | number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'subscriptions/listen',
    params: {
      notifications,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'stream-measure', version: '1.0.0' },
      },
    },
  });
const BODY = listenBody({ toolsListChanged: true }, 'ID');
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MODERN,
  'mcp-method': 'subscriptions/listen',
};

/** The control: a stream for prompt list changes only, counting the list changes that reach it. */
async function openControl(url: string, signal: AbortSignal) {
  const response = await fetch(url, { method: 'POST', headers: HEADERS, body: listenBody({ promptsListChanged: true }, 'control'), signal });
  const control = { status: response.status, listChanges: 0 };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? []) control.listChanges += decoder.decode(chunk as Uint8Array).split('list_changed').length - 1;
  })().catch(() => {});
  return control;
}

/** Opens `count` more streams spread over the clients; resolves with what they opened. */
async function openStreams(clients: Client[], url: string, from: number, count: number) {
  const share = (i: number) => Math.floor(count / clients.length) + (i < count % clients.length ? 1 : 0);
  let firstId = from;
  const replies = clients.map((c, i) => {
    const reply = c.next('opened');
    c.send({ type: 'open', url, count: share(i), firstId, headers: HEADERS, bodyTemplate: BODY });
    firstId += share(i);
    return reply;
  });
  return Promise.all(replies);
}

/** Publishes one event from this process (another instance, as the bus sees it) and collects the arrivals. */
async function round(clients: Client[], publish: () => void, n: number, timeoutMs: number) {
  await Promise.all(clients.map((c) => (c.send({ type: 'arm', round: n }), c.next('armed'))));
  const replies = clients.map((c) => c.next('delivered'));
  const published = now();
  publish();
  const timer = setTimeout(() => {
    for (const c of clients) c.send({ type: 'collect', round: n });
  }, timeoutMs);
  const delivered = await Promise.all(replies);
  clearTimeout(timer);
  const at = delivered.flatMap((d) => d.at);
  return {
    latencies: at.map((t) => t - published),
    spreadMs: at.length ? Math.max(...at) - Math.min(...at) : Number.NaN,
    missing: delivered.reduce((s, d) => s + d.missing, 0),
  };
}

export async function measureContainerStreams(o: StreamMeasureOptions): Promise<StreamMeasurement> {
  const log = o.log ?? (() => {});
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-streams-'));
  const token = 'streams-token';
  const redis = await startRedis({ dataDir, token });
  if (!redis) throw new Error('redis-server is required: run `apt-get install redis-server`');
  const port = await freePort();
  const server = spawn(o.server[0]!, o.server.slice(1), { env: serverEnv(port, redis, o.env ?? {}), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  server.stdout!.on('data', (d) => (output += d));
  server.stderr!.on('data', (d) => (output += d));
  const clients = Array.from({ length: o.clients }, startClient);
  const bus = createRedisEventBus({
    redis: createRedis({ url: redis.url, token, timeoutMs: 5_000 }),
    stream: `mcp:events:${o.serverName}`,
    pollMs: 60_000,
    log: quietLog,
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, server, () => output);
    const url = `${base}${o.env?.MCP_PATH ?? '/mcp'}`;
    return await measure(o, { server, clients, url, log, publish: () => bus.publish({ kind: 'tools_list_changed' }) });
  } finally {
    for (const c of clients) if (c.child.connected) c.send({ type: 'close' });
    await bus.close();
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([once(server, 'exit'), sleep(5_000).then(() => server.kill('SIGKILL'))]);
    }
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface Running {
  server: ChildProcess;
  clients: Client[];
  url: string;
  log: (line: string) => void;
  publish: () => void;
}

async function measure(o: StreamMeasureOptions, { server, clients, url, log, publish }: Running): Promise<StreamMeasurement> {
  const timeoutMs = o.deliveryTimeoutMs ?? 15_000;
  const warm = Math.min(WARM, o.streams);
  const opened = [...(await openStreams(clients.slice(0, 1), url, 0, warm))];
  await round(clients.slice(0, 1), publish, 0, timeoutMs);
  const samples = [await memory(server, warm)];
  const idle = [await idleCpu(server.pid!, o.idleSeconds, warm)];
  log(`warm: ${warm} streams, ${samples[0]!.rssKb} kB RSS`);
  const half = Math.floor(o.streams / 2);
  for (const [from, to] of [
    [warm, Math.max(warm, half)],
    [Math.max(warm, half), o.streams],
  ] as const) {
    const started = now();
    opened.push(...(await openStreams(clients, url, from, to - from)));
    log(`opened streams ${from}..${to} in ${Math.round(now() - started)} ms`);
    await sleep(1_000);
    // Labelled with the streams actually held: a refused open holds nothing.
    samples.push(
      await memory(
        server,
        opened.reduce((sum, r) => sum + r.ok, 0),
      ),
    );
  }
  const ok = opened.reduce((s, r) => s + r.ok, 0);
  const refused: Record<string, number> = {};
  for (const r of opened) for (const [why, n] of Object.entries(r.refused)) refused[why] = (refused[why] ?? 0) + n;
  // The warm-up event: every stream is live before anything is timed.
  const first = await round(clients, publish, 0, timeoutMs);
  log(`warm-up event: ${first.latencies.length} of ${ok} streams got it, ${first.missing} missing`);
  idle.push(await idleCpu(server.pid!, o.idleSeconds, ok));
  const stopControl = new AbortController();
  const control = await openControl(url, stopControl.signal);
  const rounds = [];
  const all: number[] = [];
  for (let n = 1; n <= o.rounds; n++) {
    await sleep(o.roundGapMs);
    const r = await round(clients, publish, n, timeoutMs);
    all.push(...r.latencies);
    rounds.push({ latency: summarize(r.latencies), spreadMs: r.spreadMs, missing: r.missing });
    log(
      `round ${n}: p50 ${rounds.at(-1)!.latency.median.toFixed(0)} ms, p99 ${rounds.at(-1)!.latency.p99.toFixed(0)} ms, spread ${r.spreadMs.toFixed(0)} ms, missing ${r.missing}`,
    );
  }
  stopControl.abort();
  const [low, high] = [samples[0]!, samples.at(-1)!];
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : (b - a) / Math.max(1, high.streams - low.streams);
  return {
    opened: ok,
    refused,
    errors: [...new Set(opened.flatMap((r) => r.errors))],
    memory: { samples, rssKbPerStream: per(low.rssKb, high.rssKb)!, heapKbPerStream: per(low.heapUsedKb, high.heapUsedKb) },
    idleCpu: idle,
    rounds,
    latency: summarize(all),
    control: { ...control },
  };
}
