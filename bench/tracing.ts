// `npm run bench:tracing`: what tracing costs, measured side by side in one run as `npm run bench`
// measures the kit: cold start (import plus first `tools/call`) in fresh processes, interleaved,
// and warm per-call time in interleaved rounds, for the echo bundle with MCP_TRACING off and on.
// On, spans go as UDP datagrams to a stand-in for Lambda's X-Ray daemon on loopback (a process of
// its own, as the daemon is, that counts them); "sampled" is every request recorded (the worst case), with
// Lambda's trace header saying Sampled=1, "not sampled" what X-Ray's default rule leaves most
// requests (Sampled=0: context only). Off has Lambda's header too (Lambda sets it in every
// invocation, traced or not). Each warm call is timed to its response's end (what the caller waits
// for) and to the handler's return (what Lambda bills: the spans go out between the two), and the
// warm call is also averaged under X-Ray's default sampling (1 a second, then 5 %) at 10 and 1,000
// requests a second. Prints a Markdown table and the ratios to tracing off.
import { spawn } from 'node:child_process';
import { budget } from './budget.ts';
import { buildAll, type Built } from './build.ts';
import { lambdaEnv, startProbe } from './child.ts';
import { runRounds, type InvokeVariant } from './rounds.ts';
import { summarize } from './stats.ts';

/** Binds a UDP port, prints it, counts datagrams, and prints the count when its stdin closes. */
const STAND_IN = `const s = require('node:dgram').createSocket('udp4'); let n = 0; s.on('message', () => n++);
s.bind(0, '127.0.0.1', () => console.log(s.address().port)); process.stdin.on('end', () => { console.log(n); process.exit(0); }); process.stdin.resume();`;
const daemon = spawn(process.execPath, ['-e', STAND_IN], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines: string[] = [];
daemon.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
const line = async (i: number) => {
  while (lines.length <= i) await new Promise((resolve) => setTimeout(resolve, 10));
  return Number(lines[i]);
};
const DAEMON = { MCP_TRACING: 'true', AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${await line(0)}` };
const LAMBDA_TRACE = (sampled: 0 | 1) => `Root=1-67891234-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=${sampled}`;

const VARIANTS: InvokeVariant[] = [
  { id: 'off', label: 'tracing off (MCP_TRACING unset)', target: 'kit', env: { _X_AMZN_TRACE_ID: LAMBDA_TRACE(0) } },
  { id: 'sampled', label: 'tracing on, sampled (X-Ray daemon)', target: 'kit', env: { ...DAEMON, _X_AMZN_TRACE_ID: LAMBDA_TRACE(1) } },
  { id: 'lines', label: 'tracing on, sampled, JSON lines on stdout', target: 'kit', env: { MCP_TRACING: 'true', _X_AMZN_TRACE_ID: LAMBDA_TRACE(1) } },
  { id: 'unsampled', label: 'tracing on, not sampled', target: 'kit', env: { ...DAEMON, _X_AMZN_TRACE_ID: LAMBDA_TRACE(0) } },
];

async function cold(built: Built, env: Record<string, string> | undefined) {
  const probe = startProbe(built.probes.cold, [built.bundles.kit.file], lambdaEnv(env));
  try {
    const reply = await probe.next(30_000);
    if (reply.kind !== 'cold') throw new Error(`cold probe answered ${reply.kind}`);
    return reply.totalMs;
  } finally {
    probe.stop();
  }
}

const SAMPLES = Number(process.env.BENCH_COLD_SAMPLES ?? 25);
const built = await buildAll();
const colds = VARIANTS.map((): number[] => []);
for (const v of VARIANTS) await cold(built, v.env);
for (let i = 0; i < SAMPLES; i++) for (const [k, v] of VARIANTS.entries()) colds[k]!.push(await cold(built, v.env));
const { results, rounds } = await runRounds(built, VARIANTS, { warmupCalls: 3_000, rounds: 30, callsPerRound: 300 }, budget(180_000));

const coldMedian = (k: number) => summarize(colds[k]!).median;
const warmMedian = (k: number) => results[k]!.micros.median;
const respondedMedian = (k: number) => results[k]!.responded.median;
const ratio = (value: number, off: number) => (value / off).toFixed(3);
const row = (label: string, cold: string, coldRatio: string, billed: number, responded: number) => [
  label,
  cold,
  coldRatio,
  billed.toFixed(1),
  ratio(billed, warmMedian(0)),
  responded.toFixed(1),
  ratio(responded, respondedMedian(0)),
];
const rows = VARIANTS.map((v, k) => row(v.label, coldMedian(k).toFixed(1), ratio(coldMedian(k), coldMedian(0)), warmMedian(k), respondedMedian(k)));
// X-Ray's default rule records the first request each second and 5 % of the rest: a warm call
// costs, on average, the unsampled time plus that share of what a sampled one adds.
const [sampled, unsampled] = [VARIANTS.findIndex((v) => v.id === 'sampled'), VARIANTS.findIndex((v) => v.id === 'unsampled')];
const share = (perSecond: number) => (1 + 0.05 * (perSecond - 1)) / perSecond;
const averaged = (perSecond: number, median: (k: number) => number) => median(unsampled) + share(perSecond) * (median(sampled) - median(unsampled));
for (const perSecond of [10, 1_000]) {
  rows.push(
    row(
      `tracing on, default sampling at ${perSecond.toLocaleString('en-US')} req/s (${(share(perSecond) * 100).toFixed(1)} % sampled)`,
      '',
      '',
      averaged(perSecond, warmMedian),
      averaged(perSecond, respondedMedian),
    ),
  );
}
const header = ['', 'cold (ms, median)', '/ off', 'warm, billed (µs, median)', '/ off', 'warm, caller waits (µs, median)', '/ off'];
daemon.stdin!.end();
const datagrams = await line(1);
if (datagrams === 0) throw new Error('the X-Ray variant sent no datagram: nothing was traced');
console.log(
  `${SAMPLES} cold samples per variant, interleaved; ${rounds} warm rounds × 300 calls after 3,000 warm-up calls; ${datagrams.toLocaleString('en-US')} datagrams to the daemon\n`,
);
console.log([header, header.map((_, i) => (i ? '---:' : '---')), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
