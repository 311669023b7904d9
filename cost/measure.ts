// Measures the billable units of each request type (cost/scenarios.ts) on the metered modelled
// deployed path (cost/metered-path.ts): each unit once unmeasured, then `samples` times, each
// sample the difference of the meters and of the Lambda model's invocation records around it.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { InvocationRecord } from '../local/aws/lambda.ts';
import { PATH_DEFAULTS } from '../infra/deployed-path.ts';
import { startMeteredPath } from './metered-path.ts';
import { usageBetween, type Usage } from './meters.ts';
import { SCENARIOS, type Scenario, type ScenarioClient } from './scenarios.ts';

export interface MeasureOptions {
  /** Measured runs of each request type. @default 5 */
  samples?: number;
  /** How long each stream unit is held open (the stream cap); counts are scaled to a minute. @default 60 */
  streamSeconds?: number;
  /** Measured streams of each kind (each takes streamSeconds). @default 2 */
  streamSamples?: number;
  /** Only these request types. @default all */
  only?: string[];
  progress?: (line: string) => void;
}

/** The billable units of one request type, averaged over its samples (Lambda time: the median). */
export interface Unit {
  description: string;
  lambda: { invocations: number; asyncInvocations: number; billedMs: number; gbSeconds: number };
  apiGateway: { requests: number; bytesOut: number };
  cloudFront: { requests: number; bytesIn: number; bytesOut: number; edgeFunctionInvocations: number };
  dynamodb: { readUnits: number; writeUnits: number; requests: number };
  s3: { putClassRequests: number; getClassRequests: number };
  redis: { commands: number; bytes: number; byCommand: Record<string, number> };
  logs: { bytes: number };
}

export interface MeasuredUnits {
  measuredAt: string;
  commit: string;
  machine: string;
  memoryMb: number;
  samples: number;
  streamSamples: number;
  streamSeconds: number;
  /** A new execution environment's init, billed on Lambda since August 2025 (not part of any unit). */
  coldStart: { initMs: number; gbSeconds: number };
  units: Record<string, Unit>;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const billedMs = (i: InvocationRecord) => Math.max(1, Math.ceil(i.durationMs));

interface Sample {
  invocations: InvocationRecord[];
  usage: Usage;
  logBytes: number;
}

function unitOf(scenario: Scenario, samples: Sample[], memoryMb: number, scale: number): Unit {
  const avg = (f: (s: Sample) => number) => round(mean(samples.map(f)) * scale);
  const ms = median(samples.map((s) => s.invocations.reduce((sum, i) => sum + billedMs(i), 0))) * scale;
  const byCommand: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.usage.redis.byCommand)) byCommand[k] = (byCommand[k] ?? 0) + v;
  return {
    description: scenario.description,
    lambda: {
      invocations: avg((s) => s.invocations.length),
      asyncInvocations: avg((s) => s.invocations.filter((i) => i.type === 'Event').length),
      billedMs: round(ms, 1),
      gbSeconds: round((ms / 1000) * (memoryMb / 1024), 5),
    },
    apiGateway: { requests: avg((s) => s.usage.front.apiGatewayRequests), bytesOut: avg((s) => s.usage.front.responseBytes) },
    cloudFront: {
      requests: avg((s) => s.usage.front.requests),
      bytesIn: avg((s) => s.usage.front.requestBytes),
      bytesOut: avg((s) => s.usage.front.responseBytes),
      // The origin-response function that restores WWW-Authenticate runs on every origin answer.
      edgeFunctionInvocations: avg((s) => s.usage.front.requests),
    },
    dynamodb: {
      readUnits: avg((s) => s.usage.dynamodb.readUnits),
      writeUnits: avg((s) => s.usage.dynamodb.writeUnits),
      requests: avg((s) => s.usage.dynamodb.requests),
    },
    s3: { putClassRequests: avg((s) => s.usage.s3.putClass), getClassRequests: avg((s) => s.usage.s3.getClass) },
    redis: {
      commands: avg((s) => s.usage.redis.commands),
      bytes: avg((s) => s.usage.redis.bytes),
      byCommand: Object.fromEntries(Object.entries(byCommand).map(([k, v]) => [k, round((v / samples.length) * scale)])),
    },
    logs: { bytes: avg((s) => s.logBytes) },
  };
}

export async function measureUnits(options: MeasureOptions = {}): Promise<MeasuredUnits> {
  const samples = options.samples ?? 5;
  const streamSeconds = options.streamSeconds ?? 60;
  const streamSamples = options.streamSamples ?? 2;
  const progress = options.progress ?? (() => {});
  const memoryMb = PATH_DEFAULTS.memorySizeMb;
  const path = await startMeteredPath({
    concurrency: 8,
    // GET streams are measured here, off by default in the construct; streams end at the unit's length.
    environment: { MCP_GET_STREAMS: 'true', MCP_STREAM_MAX_SECONDS: String(streamSeconds) },
  });
  const { model, meters } = path;
  try {
    const client: ScenarioClient = {
      url: path.url,
      apiKey: path.apiKey,
      streamSeconds,
      sessionCacheMs: 2_000,
      state: {},
      workerEnded: (since) => until(() => model.lambda.invocations.some((i) => i.type === 'Event' && i.startedAt >= since), 'the task worker', 30_000),
    };
    const settled = () =>
      until(() => model.lambda.counts().busy === 0 && model.lambda.counts().init === 0, 'environments to settle', streamSeconds * 1000 + 30_000);
    const units: Record<string, Unit> = {};
    for (const scenario of SCENARIOS.filter((s) => !options.only || options.only.includes(s.id))) {
      const runs = scenario.stream ? streamSamples : samples;
      progress(`${scenario.id}: ${scenario.stream ? `${runs} streams of ${streamSeconds} s` : `${runs} samples`}`);
      await scenario.prepare?.(client);
      // One unmeasured run first: every unit is measured on warm environments (a stream opens in
      // an environment the units before it warmed).
      if (!scenario.stream) await scenario.run(client);
      await settled();
      const taken: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const [from, usage, logged] = [model.lambda.invocations.length, meters.snapshot(), path.logBytes()];
        await scenario.run(client);
        await settled();
        taken.push({ invocations: model.lambda.invocations.slice(from), usage: usageBetween(usage, meters.snapshot()), logBytes: path.logBytes() - logged });
      }
      units[scenario.id] = unitOf(scenario, taken, memoryMb, scenario.stream ? 60 / streamSeconds : 1);
    }
    const inits = model.lambda.invocations.map((i) => i.initDurationMs).filter((ms): ms is number => ms !== undefined);
    const initMs = median(inits);
    return {
      measuredAt: new Date().toISOString(),
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
      machine: `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node.js ${process.version}`,
      memoryMb,
      samples,
      streamSamples,
      streamSeconds,
      coldStart: { initMs: round(initMs, 1), gbSeconds: round((initMs / 1000) * (memoryMb / 1024), 5) },
      units,
    };
  } finally {
    await path.stop();
  }
}

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
