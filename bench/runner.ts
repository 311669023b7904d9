// Runs the whole benchmark: starts a loopback Redis for the rows that need one, builds the bundles,
// runs each suite under its own time budget, and computes the ratios and targets. A plan sets how
// much to run; `run.ts` prints and writes it.
import { startTestRedis } from '../test/helpers/redis.ts';
import { budget } from './budget.ts';
import { buildAll } from './build.ts';
import { computeRatios, loadAverage, machineInfo, type Ratio, type Report, type Section } from './report.ts';
import { measureCache, type CachePlan } from './suites/cache.ts';
import { measureCold, type ColdPlan } from './suites/cold.ts';
import { measureEras, type ErasPlan } from './suites/eras.ts';
import { measureGateway, type GatewayPlan } from './suites/gateway.ts';
import { measureHandover, measureLambdaCold, type ModelledLambdaPlan } from './suites/modelled-lambda.ts';
import { measureMetrics, type MetricsPlan } from './suites/metrics.ts';
import { measureRateLimit, type RateLimitPlan } from './suites/rate-limit.ts';
import { measureEventPolling, measureUnitRows, type ScalePlan } from './suites/scale.ts';
import { measureTasks, type TasksPlan } from './suites/tasks.ts';
import { measureThroughput, type ThroughputPlan } from './suites/throughput.ts';
import { measureWarm, type WarmPlan } from './suites/warm.ts';

export interface Plan {
  name: string;
  warm: WarmPlan;
  cold: ColdPlan;
  eras: ErasPlan;
  cache: CachePlan;
  rateLimit: RateLimitPlan;
  modelledLambda: ModelledLambdaPlan;
  tasks: TasksPlan;
  scale: ScalePlan;
  gateway: GatewayPlan;
  throughput: ThroughputPlan;
  metrics: MetricsPlan;
  /**
   * Per-suite time budgets, warm-ups included; a suite stops starting new rounds once its budget is
   * spent, but always completes its first round and the round in progress.
   */
  budgetMs: {
    warm: number;
    cold: number;
    eras: number;
    cache: number;
    rateLimit: number;
    lambdaCold: number;
    handover: number;
    tasks: number;
    gateway: number;
    throughput: number;
  };
}

export const FULL: Plan = {
  name: 'full',
  warm: { warmupCalls: 3_000, rounds: 50, callsPerRound: 400 },
  cold: { samples: 15 },
  eras: { warmupCalls: 300, rounds: 30, callsPerRound: 300 },
  // A probe's per-call time keeps falling for thousands of calls while V8 optimizes the request
  // path (a median of about 420 µs over the first 500 calls, 170 µs after 6,000, 140 µs after
  // 9,000 on the machine of docs/benchmarks.md), so every suite that times the kit in-process warms
  // it up as long as the warm suite does. An uncached `work` call is about 2 ms of CPU, hence fewer
  // timed calls per round there.
  cache: { warmupCalls: 3_000, rounds: 30, callsPerRound: 100, directCalls: 500 },
  rateLimit: { warmupCalls: 3_000, rounds: 30, callsPerRound: 300 },
  modelledLambda: { coldSamples: 10, handoverWarmup: 3, handoverSamples: 40 },
  tasks: { warmup: 5, samples: 40 },
  scale: { idleSeconds: 20, busySeconds: 10, unitSamples: 5 },
  gateway: { warmupCalls: 1_000, rounds: 20, callsPerRound: 200, listCalls: 300, failCalls: 300 },
  throughput: { rounds: 5, seconds: 2, connections: [16, 64] },
  metrics: { batches: 21, callsPerBatch: 20_000 },
  budgetMs: {
    warm: 45_000,
    cold: 35_000,
    eras: 25_000,
    cache: 45_000,
    rateLimit: 30_000,
    lambdaCold: 30_000,
    handover: 30_000,
    tasks: 30_000,
    gateway: 45_000,
    throughput: 75_000,
  },
};

export const QUICK: Plan = {
  name: 'quick',
  warm: { warmupCalls: 50, rounds: 2, callsPerRound: 20 },
  cold: { samples: 1 },
  eras: { warmupCalls: 10, rounds: 2, callsPerRound: 10 },
  cache: { warmupCalls: 10, rounds: 2, callsPerRound: 10, directCalls: 10 },
  rateLimit: { warmupCalls: 10, rounds: 2, callsPerRound: 10 },
  modelledLambda: { coldSamples: 1, handoverWarmup: 1, handoverSamples: 2 },
  tasks: { warmup: 1, samples: 2 },
  // A quiet poller reads every 5 s: a shorter idle window might see no read at all.
  scale: { idleSeconds: 6, busySeconds: 2, unitSamples: 1 },
  gateway: { warmupCalls: 10, rounds: 2, callsPerRound: 10, listCalls: 5, failCalls: 5 },
  throughput: { rounds: 1, seconds: 1, connections: [16, 64] },
  metrics: { batches: 3, callsPerBatch: 1_000 },
  budgetMs: {
    warm: 5_000,
    cold: 5_000,
    eras: 5_000,
    cache: 5_000,
    rateLimit: 5_000,
    lambdaCold: 5_000,
    handover: 5_000,
    tasks: 5_000,
    gateway: 5_000,
    throughput: 5_000,
  },
};

/** The targets (the performance issue's five, and the protocol-era one), and ratios shown beside them to explain the numbers. */
export const RATIOS: Ratio[] = [
  { label: 'cold start (import + first call), kit / SDK minimal (zod/v4)', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'median', max: 0.6 },
  { label: 'heap after the first call, kit / SDK minimal (zod/v4)', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'heap', max: 0.6 },
  { label: 'code loaded at cold start, kit / SDK minimal (zod/v4)', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'bytes', max: 0.8 },
  { label: 'cold start (import + first call), kit / raw Hono', section: 'cold', numerator: 'kit', denominator: 'hono', column: 'median', max: 1.3 },
  {
    label: 'cold start per environment (client wait), kit / SDK minimal (zod/v4), modelled Lambda',
    section: 'lambda-cold',
    numerator: 'kit',
    denominator: 'sdk',
    column: 'client',
    max: 0.6,
  },
  { label: 'cold start (import + first call), kit / SDK minimal (root zod)', section: 'cold', numerator: 'kit', denominator: 'sdkRoot', column: 'median' },
  { label: 'heap after the first call, kit / SDK minimal (root zod)', section: 'cold', numerator: 'kit', denominator: 'sdkRoot', column: 'heap' },
  { label: 'code loaded at cold start, kit / SDK minimal (root zod)', section: 'cold', numerator: 'kit', denominator: 'sdkRoot', column: 'bytes' },
  {
    label: 'cold start per environment (client wait), kit / SDK minimal (root zod), modelled Lambda',
    section: 'lambda-cold',
    numerator: 'kit',
    denominator: 'sdkRoot',
    column: 'client',
  },
  {
    label: 'cold start per environment (client wait), kit / raw Hono, modelled Lambda',
    section: 'lambda-cold',
    numerator: 'kit',
    denominator: 'hono',
    column: 'client',
  },
  { label: 'warm per-call median, kit / SDK minimal', section: 'warm', numerator: 'kit', denominator: 'sdk', column: 'median', max: 0.35 },
  { label: 'loopback throughput at 16 connections, kit / SDK minimal', section: 'throughput', numerator: 'kit', denominator: 'sdk', column: 'rps16', min: 3 },
  { label: 'loopback throughput at 64 connections, kit / SDK minimal', section: 'throughput', numerator: 'kit', denominator: 'sdk', column: 'rps64', min: 3 },
  { label: 'loopback throughput at 16 connections, kit / raw Hono', section: 'throughput', numerator: 'kit', denominator: 'hono', column: 'rps16', min: 0.35 },
  { label: 'loopback throughput at 64 connections, kit / raw Hono', section: 'throughput', numerator: 'kit', denominator: 'hono', column: 'rps64', min: 0.35 },
  { label: 'HTTP p50, legacy / modern', section: 'eras', numerator: 'legacy', denominator: 'modern', column: 'p50', max: 1.1 },
  { label: 'per-tool metrics per call / the 2 µs budget', section: 'metrics', numerator: 'fragment', denominator: 'budget', column: 'median', max: 1 },
  { label: 'warm per-call median, kit with per-tool metrics / without', section: 'warm', numerator: 'kit-metrics', denominator: 'kit', column: 'median' },
  { label: 'whole deployment package, kit / SDK minimal (zod/v4)', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'total' },
  { label: 'warm per-call median, kit / raw Hono', section: 'warm', numerator: 'kit', denominator: 'hono', column: 'median', max: 1.3 },
  { label: 'warm per-call median, kit at WARN / SDK minimal', section: 'warm', numerator: 'kit-warn', denominator: 'sdk', column: 'median' },
  { label: 'cold import only, kit / SDK minimal (zod/v4)', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'import' },
  { label: 'cold import only, kit / raw Hono', section: 'cold', numerator: 'kit', denominator: 'hono', column: 'import' },
  { label: 'cold start, kit with source maps on (as deployed) / off', section: 'cold', numerator: 'kitMaps', denominator: 'kit', column: 'median' },
  { label: 'first stack trace of an error in the bundle, source maps on / off', section: 'cold', numerator: 'kitMaps', denominator: 'kit', column: 'stack' },
  { label: 'HTTP p99, legacy / modern', section: 'eras', numerator: 'legacy', denominator: 'modern', column: 'p99' },
  { label: 'cache hit / same call uncached, in-process cache', section: 'cache', numerator: 'memory-hit', denominator: 'memory-uncached', column: 'median' },
  { label: 'cache hit / same call uncached, Redis cache', section: 'cache', numerator: 'redis-hit', denominator: 'redis-uncached', column: 'median' },
  {
    label: 'cache hit / echo (what a hit costs over a trivial call), in-process',
    section: 'cache',
    numerator: 'memory-hit',
    denominator: 'memory-echo',
    column: 'median',
  },
  {
    label: 'cache hit / echo (what a hit costs over a trivial call), Redis',
    section: 'cache',
    numerator: 'redis-hit',
    denominator: 'redis-echo',
    column: 'median',
  },
  { label: 'cache hit, Redis / in-process', section: 'cache', numerator: 'redis-hit', denominator: 'memory-hit', column: 'median' },
  { label: 'echo with rate limiting / without', section: 'ratelimit', numerator: 'on', denominator: 'off', column: 'median' },
  { label: 'echo with per-principal and per-tool limits / without', section: 'ratelimit', numerator: 'on-tool', denominator: 'off', column: 'median' },
  {
    label: 'init duration per environment, kit / SDK minimal (zod/v4), modelled Lambda',
    section: 'lambda-cold',
    numerator: 'kit',
    denominator: 'sdk',
    column: 'init',
  },
  { label: 'reply hand-over p50, across environments via Redis / one process', section: 'handover', numerator: 'redis', denominator: 'direct', column: 'p50' },
  {
    label: 'reply hand-over p50, across environments via the table / one process',
    section: 'handover',
    numerator: 'table',
    denominator: 'direct',
    column: 'p50',
  },
  {
    label: 'task creation p50 / same call answered directly, one process',
    section: 'tasks',
    numerator: 'node-create',
    denominator: 'node-direct',
    column: 'p50',
  },
  {
    label: 'call to task completed p50 / same call answered directly, one process',
    section: 'tasks',
    numerator: 'node-complete',
    denominator: 'node-direct',
    column: 'p50',
  },
  {
    label: 'task creation p50 / same call answered directly, modelled Lambda',
    section: 'tasks',
    numerator: 'aws-create',
    denominator: 'aws-direct',
    column: 'p50',
  },
  {
    label: 'call to task completed p50 / same call answered directly, modelled Lambda',
    section: 'tasks',
    numerator: 'aws-complete',
    denominator: 'aws-direct',
    column: 'p50',
  },
  {
    label: 'idle Redis commands/s per environment, backoff to 5 s / fixed 1 s poll',
    section: 'event-polling',
    numerator: 'backoff-100x1',
    denominator: 'fixed-100x1',
    column: 'idleEnv',
    max: 0.3,
  },
  {
    label: 'idle Redis commands/s per listener, 100 listeners / 1 on one environment',
    section: 'event-polling',
    numerator: 'backoff-1x100',
    denominator: 'backoff-1x1',
    column: 'idleListener',
    max: 0.02,
  },
  {
    label: 'Lambda billed ms, legacy call re-reading its session / modern call, modelled Lambda',
    section: 'units',
    numerator: 'legacyCallColdSession',
    denominator: 'modernCall',
    column: 'ms',
  },
  { label: 'Lambda billed ms, cached hit / modern call, modelled Lambda', section: 'units', numerator: 'cachedHit', denominator: 'modernCall', column: 'ms' },
  { label: 'call p50, through the gateway / straight to the server', section: 'gateway', numerator: 'gateway', denominator: 'direct', column: 'p50', max: 1.5 },
  { label: 'call p99, through the gateway / straight to the server', section: 'gateway', numerator: 'gateway', denominator: 'direct', column: 'p99', max: 2 },
  { label: 'call p50, through the gateway / through a hand-written proxy', section: 'gateway', numerator: 'gateway', denominator: 'raw-proxy', column: 'p50' },
  {
    label: 'call p50, through a hand-written proxy / straight to the server',
    section: 'gateway',
    numerator: 'raw-proxy',
    denominator: 'direct',
    column: 'p50',
  },
  {
    label: 'call p99, through a hand-written proxy / straight to the server',
    section: 'gateway',
    numerator: 'raw-proxy',
    denominator: 'direct',
    column: 'p99',
  },
  {
    label: 'call p50, through a node:http proxy / straight to the server',
    section: 'gateway',
    numerator: 'node-proxy',
    denominator: 'direct',
    column: 'p50',
  },
  {
    label: 'call p99, through a node:http proxy / straight to the server',
    section: 'gateway',
    numerator: 'node-proxy',
    denominator: 'direct',
    column: 'p99',
  },
  {
    label: 'call p50, through the gateway calling upstream with fetch / straight to the server',
    section: 'gateway',
    numerator: 'gateway-fetch',
    denominator: 'direct',
    column: 'p50',
  },
  {
    label: 'call p99, through the gateway calling upstream with fetch / straight to the server',
    section: 'gateway',
    numerator: 'gateway-fetch',
    denominator: 'direct',
    column: 'p99',
  },
  {
    label: 'call p50 through the gateway, node:http upstream transport / fetch',
    section: 'gateway',
    numerator: 'gateway',
    denominator: 'gateway-fetch',
    column: 'p50',
  },
  { label: 'call p50, through the gateway / through a node:http proxy', section: 'gateway', numerator: 'gateway', denominator: 'node-proxy', column: 'p50' },
  {
    label: 'call p50 through the gateway, raw upstream call / SDK client',
    section: 'gateway',
    numerator: 'gateway',
    denominator: 'gateway-sdk-client',
    column: 'p50',
  },
  {
    label: 'call p99 through the gateway, SDK client / straight to the server',
    section: 'gateway',
    numerator: 'gateway-sdk-client',
    denominator: 'direct',
    column: 'p99',
  },
  { label: 'call p50 through the gateway, fast lane / SDK lane', section: 'gateway', numerator: 'gateway', denominator: 'gateway-sdk', column: 'p50' },
  {
    label: 'tools/list p50, gateway over 10 upstreams / over 2',
    section: 'gateway-lists',
    numerator: 'upstreams-10',
    denominator: 'upstreams-2',
    column: 'p50',
  },
  {
    label: 'unreachable upstream p50, circuit open / connection refused',
    section: 'gateway-circuit',
    numerator: 'open',
    denominator: 'refused',
    column: 'p50',
  },
];

/** Runs the plan's suites (all, or those named in `only`) and computes the ratios they allow. */
export async function runBench(plan: Plan, progress: (line: string) => void = () => {}, only?: string[]): Promise<Report> {
  const started = performance.now();
  const loadAtStart = loadAverage();
  // Started first so that a missing redis-server fails the run before minutes of measuring.
  progress('starting redis-server');
  const redis = await startTestRedis();
  const sections: Section[] = [];
  try {
    progress('building bundles');
    const built = await buildAll();
    const steps: [string, () => Promise<Section[]>][] = [
      ['warm', async () => [await measureWarm(built, plan.warm, budget(plan.budgetMs.warm))]],
      ['cold', async () => [await measureCold(built, plan.cold, budget(plan.budgetMs.cold))]],
      ['metrics', async () => [measureMetrics(plan.metrics)]],
      ['throughput', async () => [await measureThroughput(built, plan.throughput, budget(plan.budgetMs.throughput))]],
      ['eras', async () => [await measureEras(plan.eras, budget(plan.budgetMs.eras))]],
      ['cache', async () => [await measureCache(built, plan.cache, budget(plan.budgetMs.cache), redis.env)]],
      ['rate-limit', async () => [await measureRateLimit(built, plan.rateLimit, budget(plan.budgetMs.rateLimit), redis.env)]],
      ['modelled-lambda', async () => [await measureLambdaCold(built, plan.modelledLambda, budget(plan.budgetMs.lambdaCold))]],
      ['handover', async () => [await measureHandover(plan.modelledLambda, budget(plan.budgetMs.handover), redis.env)]],
      ['tasks', async () => [await measureTasks(plan.tasks, budget(plan.budgetMs.tasks))]],
      ['event-polling', async () => [await measureEventPolling(plan.scale, redis)]],
      ['units', async () => [await measureUnitRows(plan.scale)]],
      ['gateway', () => measureGateway(plan.gateway, budget(plan.budgetMs.gateway))],
    ];
    const unknown = only?.filter((name) => !steps.some(([id]) => id === name)) ?? [];
    if (unknown.length) throw new Error(`--only: no suite ${unknown.join(', ')}; suites: ${steps.map(([id]) => id).join(', ')}`);
    for (const [id, measure] of steps) {
      if (only && !only.includes(id)) continue;
      progress(id);
      sections.push(...(await measure()));
    }
  } finally {
    await redis.dispose();
  }
  return {
    date: new Date().toISOString(),
    plan: plan.name,
    durationMs: performance.now() - started,
    machine: machineInfo(),
    load: { start: loadAtStart, end: loadAverage() },
    sections,
    ratios: computeRatios(sections, RATIOS),
  };
}
