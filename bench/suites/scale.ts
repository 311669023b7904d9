// What the kit costs per request and per open stream in billable units (issue: cost and scale):
// - Redis commands a second per open listener and per environment, idle and with events flowing,
//   with the event bus polling at a fixed 1 s (MCP_EVENT_POLL_MAX_MS=1000, the behaviour before
//   the idle backoff) and with the default backoff to 5 s (cost/fan-out.ts);
// - Lambda milliseconds, DynamoDB units and Redis commands per request type on the modelled
//   deployed path, measured as `npm run cost:measure` measures them (cost/measure.ts).
import { simulateFanOut, type FanOutResult } from '../../cost/fan-out.ts';
import { measureUnits } from '../../cost/measure.ts';
import type { Section } from '../report.ts';

export interface ScalePlan {
  idleSeconds: number;
  busySeconds: number;
  /** Samples per request type on the modelled path. */
  unitSamples: number;
}

const SHAPES = [
  { id: '1x1', label: 'one environment, one listener', environments: 1, listeners: 1 },
  { id: '1x100', label: 'one environment (a server process), 100 listeners', environments: 1, listeners: 100 },
  { id: '100x1', label: '100 environments (Lambda: one stream each), one listener each', environments: 100, listeners: 1 },
];
const POLLING = [
  { id: 'fixed', label: 'fixed 1 s', pollMaxMs: 1_000 },
  { id: 'backoff', label: 'backoff to 5 s', pollMaxMs: 5_000 },
];

/** Runs for a fixed time (idle plus busy), so it takes no budget. */
export async function measureEventPolling(plan: ScalePlan, redis: { url: string; token: string }): Promise<Section> {
  // Every shape and polling mode at once: each has its own meter and stream, so the counts do not
  // mix; running them together keeps the suite to one idle and one busy period.
  const runs = POLLING.flatMap((polling) => SHAPES.map((shape) => ({ polling, shape })));
  const results: FanOutResult[] = await Promise.all(
    runs.map(({ polling, shape }) =>
      simulateFanOut({
        redisUrl: redis.url,
        token: redis.token,
        environments: shape.environments,
        listenersPerEnvironment: shape.listeners,
        idleSeconds: plan.idleSeconds,
        busySeconds: plan.busySeconds,
        publishEveryMs: 2_000,
        pollMs: 1_000,
        pollMaxMs: polling.pollMaxMs,
      }),
    ),
  );
  return {
    id: 'event-polling',
    title: 'Event bus: Redis commands per second per open listener and per environment',
    method:
      "cost/fan-out.ts: instances of the kit's Redis event bus in one process (each what one Lambda environment or one server process holds), " +
      'each with its listeners, on redis-server behind the local Upstash REST endpoint and a meter that counts the stream reads they send. ' +
      `"Idle": ${plan.idleSeconds} s with nothing published; "busy": ${plan.busySeconds} s with another instance publishing an event every 2 s ` +
      '(latency: publish to arrival at each listener). MCP_EVENT_POLL_MS is 1 s throughout; "fixed 1 s" sets MCP_EVENT_POLL_MAX_MS=1000, as the bus polled before its idle backoff, ' +
      '"backoff to 5 s" is the default. All six rows run at once.',
    iterations: `${plan.idleSeconds} s idle, then ${plan.busySeconds} s busy, per row`,
    columns: [
      { key: 'idleEnv', header: 'idle: commands/s per environment', unit: 'per-second' },
      { key: 'idleListener', header: 'idle: per listener', unit: 'per-second' },
      { key: 'busyEnv', header: 'busy: per environment', unit: 'per-second' },
      { key: 'busyListener', header: 'busy: per listener', unit: 'per-second' },
      { key: 'p50', header: 'latency p50', unit: 'ms' },
      { key: 'max', header: 'latency max', unit: 'ms' },
    ],
    rows: runs.map(({ polling, shape }, i) => {
      const r = results[i]!;
      if (r.busy.deliveries !== r.busy.expectedDeliveries)
        throw new Error(`${shape.id}/${polling.id}: ${r.busy.deliveries} of ${r.busy.expectedDeliveries} events delivered`);
      return {
        id: `${polling.id}-${shape.id}`,
        label: `${polling.label}: ${shape.label}`,
        values: {
          idleEnv: r.idle.perEnvironment,
          idleListener: r.idle.perListener,
          busyEnv: r.busy.perEnvironment,
          busyListener: r.busy.perListener,
          p50: r.busy.latencyP50Ms,
          max: r.busy.latencyMaxMs,
        },
      };
    }),
  };
}

const UNIT_ROWS: Record<string, string> = {
  modernCall: 'modern call (2026-07-28)',
  legacyCall: 'legacy call, session cached',
  legacyCallColdSession: 'legacy call, session re-read',
  initialize: 'initialize + initialized',
  cachedHit: 'cached hit (Redis)',
  artifactPut: 'artifact put (10 KB)',
  artifactRead: 'artifact read (10 KB)',
  task: 'task: create, worker, one get',
  taskGet: 'tasks/get',
};

export async function measureUnitRows(plan: ScalePlan): Promise<Section> {
  const measured = await measureUnits({ samples: plan.unitSamples, only: Object.keys(UNIT_ROWS) });
  return {
    id: 'units',
    title: 'Billable units per request type, modelled deployed path',
    method:
      'cost/measure.ts, as `npm run cost:measure` runs it: cost/workload.ts bundled as the construct bundles it, in modelled Lambda environments at ' +
      `${measured.memoryMb} MB behind the API Gateway and CloudFront models, API keys and Redis rate limiting on as deployed, local emulators behind meters. ` +
      'Lambda time is billed milliseconds (each invocation rounded up), the median over samples, summed over the invocations of one unit; ' +
      'DynamoDB units as dynalite computes them for each request (4 KB per read unit, halved when eventually consistent; 1 KB per write unit). ' +
      'A legacy call "re-read" comes after MCP_SESSION_CACHE_MS without one, so the session is read from the table again. Loopback emulators answer ' +
      'faster than DynamoDB and Upstash over the network: deployed durations are longer.',
    iterations: `${plan.unitSamples} samples per request type after one warm-up`,
    columns: [
      { key: 'invocations', header: 'invocations', unit: 'per-call' },
      { key: 'ms', header: 'Lambda billed', unit: 'ms' },
      { key: 'rru', header: 'DynamoDB RRU', unit: 'per-call' },
      { key: 'wru', header: 'DynamoDB WRU', unit: 'per-call' },
      { key: 'redis', header: 'Redis commands', unit: 'per-call' },
    ],
    rows: Object.entries(UNIT_ROWS).map(([id, label]) => {
      const u = measured.units[id]!;
      return {
        id,
        label,
        values: { invocations: u.lambda.invocations, ms: u.lambda.billedMs, rru: u.dynamodb.readUnits, wru: u.dynamodb.writeUnits, redis: u.redis.commands },
      };
    }),
  };
}
