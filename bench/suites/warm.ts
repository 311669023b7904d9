// Warm per-call time: each variant's bundle loaded once in its own probe process, then timed
// sequential in-process `tools/call`s, in interleaved rounds so drift in machine speed (other
// load, frequency scaling) lands on every variant alike instead of on whichever ran last.
import type { Budget } from '../budget.ts';
import type { Built, TargetName } from '../build.ts';
import { lambdaEnv, startProbe, type Probe } from '../child.ts';
import type { Section } from '../report.ts';
import { summarize } from '../stats.ts';

/**
 * A row of the table: a bundle and the environment it runs with. A new row is one more entry
 * (and one more `LAMBDA_TARGETS` entry if it needs its own handler); rows that need a service,
 * such as Redis for a cache hit or a rate limit, start it in runner.ts and pass their variants,
 * with its endpoint in `env`, to `measureWarm`.
 */
export interface WarmVariant {
  id: string;
  label: string;
  target: TargetName;
  env?: Record<string, string>;
}

export const WARM_VARIANTS: WarmVariant[] = [
  { id: 'kit', label: 'kit, LOG_LEVEL=INFO (default)', target: 'kit' },
  { id: 'kit-warn', label: 'kit, LOG_LEVEL=WARN', target: 'kit', env: { LOG_LEVEL: 'WARN' } },
  { id: 'sdk', label: 'SDK minimal handler', target: 'sdk' },
  { id: 'hono', label: 'raw Hono', target: 'hono' },
];

export interface WarmPlan {
  warmupCalls: number;
  rounds: number;
  callsPerRound: number;
}

const READY_TIMEOUT_MS = 60_000;
const ROUND_TIMEOUT_MS = 30_000;

export async function measureWarm(built: Built, plan: WarmPlan, budget: Budget, variants = WARM_VARIANTS): Promise<Section> {
  const probes: Probe[] = variants.map((v) =>
    startProbe(built.probes.warm, [built.bundles[v.target].file, String(plan.warmupCalls)], lambdaEnv(v.env)),
  );
  const samples: number[][] = variants.map(() => []);
  let rounds = 0;
  try {
    // Warm-ups run side by side: nothing is timed until every probe is ready.
    await Promise.all(probes.map((p) => p.next(READY_TIMEOUT_MS)));
    for (; rounds < plan.rounds && (rounds === 0 || !budget.spent()); rounds++) {
      // Each round starts one variant later, so none always runs right after the same neighbour.
      for (let k = 0; k < probes.length; k++) {
        const i = (rounds + k) % probes.length;
        probes[i]!.child.send({ calls: plan.callsPerRound });
        const reply = await probes[i]!.next(ROUND_TIMEOUT_MS);
        if (reply.kind !== 'samples') throw new Error(`warm probe ${variants[i]!.id} answered ${reply.kind}`);
        samples[i]!.push(...reply.micros);
      }
    }
  } finally {
    for (const p of probes) p.stop();
  }
  return {
    id: 'warm',
    title: 'Warm per-call time, in-process Lambda invoke',
    method:
      'Each bundle runs in its own `node` process (stdout to /dev/null, so the kit writes its one INFO line per request for real) ' +
      'with the Lambda runtime\'s `awslambda` streaming global installed. A call is a modern (2026-07-28) `tools/call` of `echo` ' +
      'as an API Gateway REST proxy event through the exported streaming handler, timed from the invoke to the collected ' +
      'response; every answer is checked. After the warm-up, variants take turns in interleaved rounds.',
    iterations: `${plan.warmupCalls} warm-up calls per variant, then ${rounds} interleaved rounds × ${plan.callsPerRound} calls`,
    columns: [
      { key: 'median', header: 'median', unit: 'us' },
      { key: 'p90', header: 'p90', unit: 'us' },
      { key: 'mean', header: 'mean', unit: 'us' },
      { key: 'n', header: 'calls', unit: 'count' },
    ],
    rows: variants.map((v, i) => {
      const s = summarize(samples[i]!);
      return { id: v.id, label: v.label, values: { median: s.median, p90: s.p90, mean: s.mean, n: s.n } };
    }),
  };
}
