// `npm run measure:streams`: N `subscriptions/listen` streams held by one long-lived server process
// (the container model), measured: memory per stream, idle CPU, and event delivery to every stream
// (cost/container-streams.ts). docs/scale.md quotes it.
// Usage: npm run measure:streams [-- --streams 1000 --clients 2 --rounds 5 --gap-ms 3000
//        --idle-seconds 10 --env MCP_EVENT_POLL_MAX_MS=1000 --per-instance 12000
//        --container | --server "node dist/container.mjs" --name notes
//        --json --write cost/streams.json]   (--write: the per-stream units `npm run cost` prices containers from)
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultServer, measureContainerStreams, type StreamMeasurement } from '../cost/container-streams.ts';
import type { StreamUnits } from '../cost/containers.ts';
import { buildContainer } from '../local/aws/containers.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    'gap-ms': { type: 'string', default: '3000' },
    'idle-seconds': { type: 'string', default: '10' },
    env: { type: 'string', multiple: true, default: [] },
    server: { type: 'string' },
    container: { type: 'boolean', default: false },
    entry: { type: 'string', default: 'functions/notes/server.ts' },
    'per-instance': { type: 'string' },
    name: { type: 'string', default: 'notes' },
    json: { type: 'boolean', default: false },
    write: { type: 'string' },
  },
});

function whole(flag: string, raw: string): number {
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`--${flag} takes a whole number above 0, got "${raw}"`);
  return Number(raw);
}

const env: Record<string, string> = {};
for (const pair of values.env) {
  const at = pair.indexOf('=');
  if (at < 1) throw new Error(`--env takes NAME=value, got "${pair}"`);
  env[pair.slice(0, at)] = pair.slice(at + 1);
}
/** --server as given; --container: the entry's container bundle as start:aws builds it; else the tsx stand-in. */
async function serverCommand(): Promise<string[]> {
  if (values.server && values.container) throw new Error('--server and --container name two servers; give one');
  if (values.server) return values.server.split(' ').filter(Boolean);
  if (values.container) return [process.execPath, (await buildContainer(values.entry)).bundle];
  return defaultServer(values.entry, values['per-instance'] ? whole('per-instance', values['per-instance']) : undefined);
}

const result = await measureContainerStreams({
  streams: whole('streams', values.streams),
  clients: whole('clients', values.clients),
  rounds: whole('rounds', values.rounds),
  roundGapMs: whole('gap-ms', values['gap-ms']),
  idleSeconds: whole('idle-seconds', values['idle-seconds']),
  server: await serverCommand(),
  serverName: values.name,
  env,
  log: (line) => console.error(line),
});
/** The per-stream numbers `npm run cost` sizes tasks from. */
function streamUnits(r: StreamMeasurement): StreamUnits {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pollMs = Number(env.MCP_EVENT_POLL_MS ?? 1000);
  return {
    measuredAt: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}, shared with other work`,
    streams: r.opened,
    baseRssMb: r.memory.samples[0]!.rssKb / 1024,
    rssKbPerStream: r.memory.rssKbPerStream,
    heapKbPerStream: r.memory.heapKbPerStream ?? Number.NaN,
    idleCpuPercentBase: r.idleCpu[0]!.percentOfCore,
    idleCpuPercentAtStreams: r.idleCpu.at(-1)!.percentOfCore,
    fanOutMsPerStream: median(r.rounds.map((x) => x.spreadMs)) / r.opened,
    latencyMs: { p50: r.latency.median, p99: r.latency.p99, max: r.latency.max },
    pollMs,
    pollMaxMs: Number(env.MCP_EVENT_POLL_MAX_MS ?? Math.max(5000, pollMs)),
  };
}

if (values.write) writeFileSync(values.write, `${JSON.stringify(streamUnits(result), null, 2)}\n`);
if (values.json) console.log(JSON.stringify(result, null, 2));
else {
  const { memory: m, latency: l } = result;
  console.log(`streams open: ${result.opened} (refused ${JSON.stringify(result.refused)}, errors ${JSON.stringify(result.errors)})`);
  console.log(
    `memory: ${m.samples.map((s) => `${s.streams} streams ${s.rssKb} kB RSS${s.heapUsedKb === undefined ? '' : ` / ${s.heapUsedKb} kB heap`}`).join('; ')}`,
  );
  console.log(`per stream: ${m.rssKbPerStream.toFixed(1)} kB RSS${m.heapKbPerStream === undefined ? '' : `, ${m.heapKbPerStream.toFixed(1)} kB heap`}`);
  console.log(`idle CPU: ${result.idleCpu.map((c) => `${c.streams} streams ${c.percentOfCore.toFixed(2)}% of a core`).join('; ')}`);
  console.log(
    `delivery over ${result.rounds.length} events: p50 ${l.median.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms; spread first-to-last ${result.rounds.map((r) => r.spreadMs.toFixed(0)).join(', ')} ms; missing ${result.rounds.map((r) => r.missing).join(', ')}`,
  );
}
