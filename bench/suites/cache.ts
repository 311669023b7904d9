// Tool cache: what a hit costs next to running the tool. One server (bench/servers/work) in six
// probe processes: for each cache backend (in-process map, Redis) the trivial `echo`, the `work`
// tool uncached, and the same work behind a cache policy, timed after its first call so every
// timed call is a hit. Each row's tool runs are counted, so a "hit" that ran the tool fails the run.
import type { Budget } from '../budget.ts';
import type { Built } from '../build.ts';
import { TIMING_COLUMNS, timingValues, type Section } from '../report.ts';
import { runRounds, type InvokeVariant, type RoundsPlan } from '../rounds.ts';
import { WORK_ITERATIONS, work, workCalls } from '../servers/work/server.ts';
import { summarize } from '../stats.ts';

export type CachePlan = RoundsPlan & {
  /** Direct calls of the work function, timed in the runner: what the tool costs without MCP. */
  directCalls: number;
};

export const CACHE_ROW_IDS = ['work-alone', 'memory-echo', 'memory-uncached', 'memory-hit', 'redis-echo', 'redis-uncached', 'redis-hit'];

function variants(redisEnv: Record<string, string>): InvokeVariant[] {
  const calls = workCalls();
  const backends = [
    { id: 'memory', label: 'in-process cache', env: {} },
    { id: 'redis', label: 'Redis cache', env: redisEnv },
  ];
  return backends.flatMap((b): InvokeVariant[] => [
    { id: `${b.id}-echo`, label: `${b.label}: echo (trivial tool)`, target: 'work', env: b.env },
    { id: `${b.id}-uncached`, label: `${b.label}: work, no cache policy`, target: 'work', env: b.env, call: calls.work },
    { id: `${b.id}-hit`, label: `${b.label}: work, cache hit`, target: 'work', env: b.env, call: calls.cached },
  ]);
}

function timeWorkAlone(calls: number) {
  const micros: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    work('timed directly');
    micros.push((performance.now() - started) * 1000);
  }
  return summarize(micros);
}

/** `redisEnv`: UPSTASH_REDIS_REST_URL and _TOKEN of a Redis on loopback. */
export async function measureCache(built: Built, plan: CachePlan, budget: Budget, redisEnv: Record<string, string>): Promise<Section> {
  const alone = timeWorkAlone(plan.directCalls);
  const { rounds, results } = await runRounds(built, variants(redisEnv), plan, budget);
  for (const { variant, toolRunsPerCall } of results) {
    const expected = variant.id.endsWith('-hit') ? 0 : 1;
    if (toolRunsPerCall !== expected) {
      throw new Error(`cache row ${variant.id}: the tool ran ${toolRunsPerCall} times per timed call, expected ${expected}`);
    }
  }
  return {
    id: 'cache',
    title: 'Tool cache: hit against the same call uncached, in-process Lambda invoke',
    method:
      'The "bench-work" server (bench/servers/work, bundled and invoked like the kit in the warm table, LOG_LEVEL=INFO) has three tools: ' +
      `\`echo\`, \`work\` (PBKDF2-SHA256, ${WORK_ITERATIONS.toLocaleString('en-US')} iterations: fixed, deterministic CPU work whose result every answer is checked against; ` +
      'CPU work rather than a timer, which fires on the millisecond grid and late under load, adding noise to the very row the hits are compared against) ' +
      'and `work_cached`, the same handler with `cache: { ttlSeconds: 3600 }` (scope per principal), called with the same arguments every time. ' +
      'Six probe processes, one per row, three without Redis (the in-process cache map) and three with `UPSTASH_REDIS_REST_URL` ' +
      'pointing at redis-server behind the local Upstash REST endpoint on loopback, served from the runner process. ' +
      'The first call of `work_cached` in each process (a miss) is part of the warm-up; the tool-run counter proves every timed call of it was a hit. ' +
      'The "work alone" row times the PBKDF2 call directly in the runner, without MCP. ' +
      'A hit on Redis is a loopback HTTP round trip here; a deployed Upstash adds its network latency on top.',
    iterations: `${plan.warmupCalls} warm-up calls per row, then ${rounds} interleaved rounds × ${plan.callsPerRound} calls; work alone: ${plan.directCalls} direct calls`,
    columns: [
      ...TIMING_COLUMNS,
      { key: 'redis', header: 'Redis requests / call', unit: 'per-call' },
      { key: 'runs', header: 'tool runs / call', unit: 'per-call' },
    ],
    rows: [
      { id: 'work-alone', label: 'work alone (direct call, no MCP)', values: { ...timingValues(alone), redis: 0, runs: 1 } },
      ...results.map(({ variant, micros: s, redisRequestsPerCall, toolRunsPerCall }) => ({
        id: variant.id,
        label: variant.label,
        values: { ...timingValues(s), redis: redisRequestsPerCall, runs: toolRunsPerCall },
      })),
    ],
  };
}
