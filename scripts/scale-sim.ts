// `npm run scale:sim`: many open notification streams on the modelled deployed path
// (cost/stream-fan-out.ts), once polling Redis every second and once with the idle backoff, with
// the server-wide stream cap below the number of streams: how many environments the streams hold,
// how many the cap refused, and the Redis commands a second per environment. docs/scale.md quotes it.
// With --containers: 1,000 and 10,000 listeners on container tasks instead, projected from the
// per-stream cost one process measured (cost/streams.json, `npm run measure:streams`); no simulation runs.
// Usage: npm run scale:sim [-- --streams 100 --max-open 80 --seconds 30 | --containers]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SIZING, projectStreams, type StreamUnits } from '../cost/containers.ts';
import { simulateStreamFanOut } from '../cost/stream-fan-out.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '100' },
    'max-open': { type: 'string', default: '80' },
    seconds: { type: 'string', default: '30' },
    containers: { type: 'boolean', default: false },
  },
});

if (values.containers) {
  const units = JSON.parse(readFileSync('cost/streams.json', 'utf8')) as StreamUnits;
  console.log(
    `measured (cost/streams.json, ${units.measuredAt.slice(0, 10)}, ${units.streams} streams in one process, ${units.machine}): ${units.rssKbPerStream.toFixed(0)} kB RSS and ${units.fanOutMsPerStream.toFixed(3)} ms of fan-out a stream, delivery p99 ${units.latencyMs.p99.toFixed(0)} ms with a ${units.pollMs} ms poll`,
  );
  for (const listeners of [1_000, 10_000]) {
    const { oneProcess: one, tasks } = projectStreams(units, listeners, DEFAULT_SIZING);
    console.log(
      `projected, ${listeners.toLocaleString('en-US')} listeners: one process ${one.rssMb.toFixed(0)} MB RSS, ${one.idleCpuPercent.toFixed(1)}% of a core idle, fan-out ${one.fanOutMs.toFixed(0)} ms, slowest delivery ${one.worstDeliveryMs.toFixed(0)} ms; ` +
        `on ${tasks.tasks} tasks of ${DEFAULT_SIZING.vcpu} vCPU/${DEFAULT_SIZING.memoryGb} GB (${tasks.streamsEach} each): ${tasks.rssMbEach.toFixed(0)} MB RSS each, slowest delivery ${tasks.worstDeliveryMs.toFixed(0)} ms`,
    );
  }
  process.exit(0);
}
const [streams, maxOpenStreams, idleSeconds] = [values.streams, values['max-open'], values.seconds].map((v, i) => {
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${['streams', 'max-open', 'seconds'][i]} takes a whole number above 0, got "${v}"`);
  return Number(v);
}) as [number, number, number];

for (const [label, pollMaxMs] of [
  ['fixed 1 s poll', 1_000],
  ['backoff to 5 s (default)', 5_000],
] as const) {
  const r = await simulateStreamFanOut({ streams, maxOpenStreams, pollMaxMs, idleSeconds });
  console.log(
    `${label}: ${streams} streams asked, ${r.opened} opened (MCP_MAX_OPEN_STREAMS=${maxOpenStreams}), refused: ${JSON.stringify(r.refused)}, slots counted: ${r.slotsHeld}; ` +
      `${r.busyEnvironments} environments busy; ${r.pollsPerSecond.toFixed(1)} Redis reads/s, ${r.pollsPerSecondPerEnvironment.toFixed(3)} per environment`,
  );
}
