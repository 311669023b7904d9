// Warm per-call time: the kit, the SDK minimal handler and raw Hono, each bundle loaded once in its
// own probe process, timed on the same `echo` call in interleaved rounds (bench/rounds.ts).
import type { Budget } from '../budget.ts';
import type { Built } from '../build.ts';
import { TIMING_COLUMNS, timingValues, type Section } from '../report.ts';
import { runRounds, type InvokeVariant, type RoundsPlan } from '../rounds.ts';

export const WARM_VARIANTS: InvokeVariant[] = [
  { id: 'kit', label: 'kit, LOG_LEVEL=INFO (default)', target: 'kit' },
  { id: 'kit-warn', label: 'kit, LOG_LEVEL=WARN', target: 'kit', env: { LOG_LEVEL: 'WARN' } },
  { id: 'kit-metrics', label: 'kit, per-tool metrics on (MCP_METRICS=true)', target: 'kit', env: { MCP_METRICS: 'true' } },
  { id: 'sdk', label: 'SDK minimal handler', target: 'sdk' },
  { id: 'hono', label: 'raw Hono', target: 'hono' },
];

export type WarmPlan = RoundsPlan;

export async function measureWarm(built: Built, plan: WarmPlan, budget: Budget, variants = WARM_VARIANTS): Promise<Section> {
  const { rounds, results } = await runRounds(built, variants, plan, budget);
  return {
    id: 'warm',
    title: 'Warm per-call time, in-process Lambda invoke',
    method:
      'Each bundle runs in its own `node` process (stdout to /dev/null, so the kit writes its one INFO line per request for real) ' +
      "with the Lambda runtime's `awslambda` streaming global installed. A call is a modern (2026-07-28) `tools/call` of `echo` " +
      'as an API Gateway REST proxy event through the exported streaming handler, timed from the invoke to the collected ' +
      'response; every answer is checked. After the warm-up, variants take turns in interleaved rounds.',
    iterations: `${plan.warmupCalls} warm-up calls per variant, then ${rounds} interleaved rounds × ${plan.callsPerRound} calls`,
    columns: [...TIMING_COLUMNS],
    rows: results.map(({ variant, micros: s }) => ({ id: variant.id, label: variant.label, values: timingValues(s) })),
  };
}
