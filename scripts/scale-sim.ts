// `npm run scale:sim`: many open notification streams on the modelled deployed path
// (cost/stream-fan-out.ts), once polling Redis every second and once with the idle backoff, with
// the server-wide stream cap below the number of streams: how many environments the streams hold,
// how many the cap refused, and the Redis commands a second per environment. docs/scale.md quotes it.
// Usage: npm run scale:sim [-- --streams 100 --max-open 80 --seconds 30]
import { parseArgs } from 'node:util';
import { simulateStreamFanOut } from '../cost/stream-fan-out.ts';

const { values } = parseArgs({ options: { streams: { type: 'string', default: '100' }, 'max-open': { type: 'string', default: '80' }, seconds: { type: 'string', default: '30' } } });
const [streams, maxOpenStreams, idleSeconds] = [values.streams, values['max-open'], values.seconds].map((v, i) => {
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${['streams', 'max-open', 'seconds'][i]} takes a whole number above 0, got "${v}"`);
  return Number(v);
}) as [number, number, number];

for (const [label, pollMaxMs] of [['fixed 1 s poll', 1_000], ['backoff to 5 s (default)', 5_000]] as const) {
  const r = await simulateStreamFanOut({ streams, maxOpenStreams, pollMaxMs, idleSeconds });
  console.log(
    `${label}: ${streams} streams asked, ${r.opened} opened (MCP_MAX_OPEN_STREAMS=${maxOpenStreams}), refused: ${JSON.stringify(r.refused)}, slots counted: ${r.slotsHeld}; ` +
      `${r.busyEnvironments} environments busy; ${r.pollsPerSecond.toFixed(1)} Redis reads/s, ${r.pollsPerSecondPerEnvironment.toFixed(3)} per environment`,
  );
}
