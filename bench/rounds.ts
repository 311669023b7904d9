// Times variants of a Lambda bundle, each loaded once in its own warm probe process, with
// sequential in-process `tools/call`s in interleaved rounds, so drift in machine speed (other load,
// frequency scaling) lands on every variant alike instead of on whichever ran last. The warm, cache
// and rate-limit suites are this loop with different variants.
import type { Budget } from './budget.ts';
import type { Built, TargetName } from './build.ts';
import { lambdaEnv, startProbe, type Probe } from './child.ts';
import type { ToolCall } from './request.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * A row of a table: a bundle, the environment it runs with and the call it is timed on. A new row
 * is one more entry (and one more `LAMBDA_TARGETS` entry if it needs its own handler).
 */
export interface InvokeVariant {
  id: string;
  label: string;
  target: TargetName;
  env?: Record<string, string>;
  /** @default ECHO */
  call?: ToolCall;
}

export interface RoundsPlan {
  warmupCalls: number;
  rounds: number;
  callsPerRound: number;
}

export interface VariantResult {
  variant: InvokeVariant;
  /** Per-call times in µs, to the handler's return (what Lambda bills). */
  micros: Summary;
  /** Per-call times in µs to the end of the response stream (what the caller waits for). */
  responded: Summary;
  /** Requests to Redis per timed call, and tool handler runs per timed call (counting servers only). */
  redisRequestsPerCall: number;
  toolRunsPerCall: number;
}

const READY_TIMEOUT_MS = 60_000;
const ROUND_TIMEOUT_MS = 30_000;

export async function runRounds(built: Built, variants: InvokeVariant[], plan: RoundsPlan, budget: Budget) {
  const probes: Probe[] = variants.map((v) =>
    startProbe(built.probes.warm, [built.bundles[v.target].file, String(plan.warmupCalls), ...(v.call ? [JSON.stringify(v.call)] : [])], lambdaEnv(v.env)),
  );
  const samples: number[][] = variants.map(() => []);
  const responded: number[][] = variants.map(() => []);
  const redisRequests = variants.map(() => 0);
  const toolRuns = variants.map(() => 0);
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
        responded[i]!.push(...(reply.respondedMicros ?? []));
        redisRequests[i]! += reply.redisRequests;
        toolRuns[i]! += reply.toolRuns;
      }
    }
  } finally {
    for (const p of probes) p.stop();
  }
  const results: VariantResult[] = variants.map((variant, i) => ({
    variant,
    micros: summarize(samples[i]!),
    responded: summarize(responded[i]!),
    redisRequestsPerCall: redisRequests[i]! / samples[i]!.length,
    toolRunsPerCall: toolRuns[i]! / samples[i]!.length,
  }));
  return { rounds, results };
}
