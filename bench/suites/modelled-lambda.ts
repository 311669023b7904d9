// Rows measured on the modelled deployed path (local/aws, what `npm run start:aws` runs):
// - cold start per execution environment: a new environment (a fresh process running the bundle
//   through the Runtime API) for the first request, kit against the SDK's minimal handler, both
//   bundled alike, interleaved sample by sample;
// - reply hand-over: a 2025-era client answers an elicitation and its reply lands in another
//   environment than the waiting call, through Redis and through the table.
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startBareFunction } from '../../local/aws/bare-function.ts';
import { buildRuntime } from '../../local/aws/build.ts';
import { startSecretsManager, type SecretsManagerModel } from '../../local/aws/secrets-manager.ts';
import roundTrips from '../../test/fixtures/aws/round-trips.ts';
import { startAwsPath } from '../../test/helpers/aws.ts';
import { startInProcess, startTestDynamo } from '../../test/helpers/server.ts';
import type { Budget } from '../budget.ts';
import type { Built, Bundle, TargetName } from '../build.ts';
import { KIT_ENV } from '../env.ts';
import type { Section } from '../report.ts';
import { modernCall } from '../request.ts';
import { summarize } from '../stats.ts';

export interface ModelledLambdaPlan {
  coldSamples: number;
  handoverWarmup: number;
  handoverSamples: number;
}

export const LAMBDA_COLD_TARGETS: TargetName[] = ['kit', 'sdk', 'sdkRoot', 'hono'];

/** The data plane's two secrets, as infra/data-plane.ts creates them (no Upstash values filled in). */
const SECRETS = {
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-data-AbCdEf': {
    UPSTASH_REDIS_REST_URL: '',
    UPSTASH_REDIS_REST_TOKEN: '',
    MCP_REQUEST_STATE_KEY: KIT_ENV.MCP_REQUEST_STATE_KEY!,
  },
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-origin-AbCdEf': { MCP_ORIGIN_SECRET: 'bench-origin-secret-0123456789abcdefghijklmnopqrst' },
};

/** What Lambda puts in every function's environment: its role's temporary credentials, which may read both secrets. */
const ROLE_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'ASIABENCHEXAMPLE', AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key', AWS_SESSION_TOKEN: 'bench-session-token' };

/**
 * What each bundle's function holds. Every one gets the credentials Lambda puts in every function's
 * environment; the kit runs as the construct deploys it (infra/endpoint/settings.ts): built with its
 * source maps and run with NODE_OPTIONS=--enable-source-maps, reading its secrets at init from
 * MCP_SECRETS_ARN (the Secrets Manager model) instead of finding the key set.
 */
function deployed(built: Built, target: TargetName, secretsManager: SecretsManagerModel): { bundle: Bundle; environment: Record<string, string> } {
  const { MCP_REQUEST_STATE_KEY: _fromTheSecret, ...rest } = KIT_ENV;
  const common = {
    ...rest,
    ...ROLE_CREDENTIALS,
    MCP_STAGE: 'dev',
    MCP_ALLOW_UNAUTHENTICATED: 'true',
    LOG_LEVEL: 'WARN',
  };
  if (target !== 'kit') return { bundle: built.bundles[target], environment: { ...common, MCP_REQUEST_STATE_KEY: KIT_ENV.MCP_REQUEST_STATE_KEY! } };
  const bundle = built.bundles.kitMaps;
  return {
    bundle,
    environment: {
      ...common,
      NODE_OPTIONS: bundle.nodeOptions!,
      MCP_SECRETS_ARN: Object.keys(SECRETS).join(','),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
    },
  };
}

/** One new environment answering its first `tools/call` through the API Gateway model. */
async function coldSample(bundle: string, runtime: string, environment: Record<string, string>) {
  const fn = await startBareFunction({ bundle, runtime, environment, functionName: 'bench' });
  try {
    const call = modernCall(1);
    const started = performance.now();
    const res = await fetch(`${fn.url}/mcp`, { method: 'POST', headers: call.headers, body: call.body });
    const body = await res.text();
    const clientMs = performance.now() - started;
    if (res.status !== 200 || !body.includes('hello from the benchmark')) throw new Error(`cold sample failed: ${res.status} ${body.slice(0, 200)}`);
    const record = await fn.firstInvocation();
    return { clientMs, initMs: record.initDurationMs ?? Number.NaN, invokeMs: record.durationMs, memoryMb: record.maxMemoryMb ?? Number.NaN };
  } finally {
    await fn.stop();
  }
}

export async function measureLambdaCold(built: Built, plan: ModelledLambdaPlan, budget: Budget): Promise<Section> {
  const runtime = await buildRuntime();
  const secretsManager = await startSecretsManager({
    region: 'us-east-1',
    secrets: SECRETS,
    principals: [
      {
        arn: 'arn:aws:sts::123456789012:assumed-role/bench-role/bench',
        accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: ROLE_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
        sessionToken: ROLE_CREDENTIALS.AWS_SESSION_TOKEN,
        granted: Object.keys(SECRETS),
      },
    ],
  });
  const reads = () => [...secretsManager.reads.values()].reduce((sum, n) => sum + n, 0);
  const sample = async (t: TargetName) => {
    const before = reads();
    const { bundle, environment } = deployed(built, t, secretsManager);
    const s = await coldSample(bundle.file, runtime, environment);
    if (reads() - before !== (t === 'kit' ? Object.keys(SECRETS).length : 0)) throw new Error(`${t} read ${reads() - before} secrets at init`);
    return s;
  };
  const samples = LAMBDA_COLD_TARGETS.map(() => ({ client: [] as number[], init: [] as number[], invoke: [] as number[], memory: [] as number[] }));
  let n = 0;
  try {
    // One unrecorded start each, so page-cache warmth is equal for both.
    for (const t of LAMBDA_COLD_TARGETS) await sample(t);
    for (; n < plan.coldSamples && (n === 0 || !budget.spent()); n++) {
      for (const [i, t] of LAMBDA_COLD_TARGETS.entries()) {
        const s = await sample(t);
        samples[i]!.client.push(s.clientMs);
        samples[i]!.init.push(s.initMs);
        samples[i]!.invoke.push(s.invokeMs);
        samples[i]!.memory.push(s.memoryMb);
      }
    }
  } finally {
    await secretsManager.stop();
  }
  return {
    id: 'lambda-cold',
    title: 'Cold start per environment on the modelled Lambda (npm run start:aws)',
    method:
      'Each sample starts a fresh modelled Lambda (local/aws/lambda.ts) and sends one modern `tools/call` of `echo` through the ' +
      'API Gateway model: a new execution environment (a `node` process running the bundle through the Runtime API, as the managed ' +
      'runtime does) starts for it. "init" is the REPORT line\'s Init Duration (process start to the runtime\'s first request for ' +
      'work), "invoke" the first invocation\'s Duration, "client" what the caller waited in all, "memory" the REPORT line\'s Max ' +
      'Memory Used (peak RSS). Bundles built as in the cold-start rows above (bench/build.ts), the same reference and floor. ' +
      'Every function has the credentials Lambda sets; the kit runs as the construct deploys it: built with its source maps, run with ' +
      '`NODE_OPTIONS=--enable-source-maps`, and at init it reads its two secrets ' +
      "(MCP_SECRETS_ARN, the data plane's and the origin secret) from a Secrets Manager model on loopback (local/aws/secrets-manager.ts, " +
      'no service latency modelled), where the baselines, as a project without the kit would deploy them, read none.',
    iterations: `${n} samples per bundle, interleaved, after one unrecorded start each`,
    columns: [
      { key: 'client', header: 'client', unit: 'ms' },
      { key: 'init', header: 'init', unit: 'ms' },
      { key: 'invoke', header: 'first invoke', unit: 'ms' },
      { key: 'memory', header: 'memory', unit: 'count' },
    ],
    rows: LAMBDA_COLD_TARGETS.map((t, i) => ({
      id: t,
      label: t === 'kit' ? 'kit (functions/echo), as deployed' : built.bundles[t].label,
      values: {
        client: summarize(samples[i]!.client).median,
        init: summarize(samples[i]!.init).median,
        invoke: summarize(samples[i]!.invoke).median,
        memory: summarize(samples[i]!.memory).median,
      },
    })),
  };
}

/** Where the waiting call runs: modelled Lambda with either relay, or one Node process (no hand-over). */
async function serve(where: 'redis' | 'table' | 'direct', redisEnv: Record<string, string>) {
  if (where !== 'direct') {
    const path = await startAwsPath('test/fixtures/aws/round-trips.ts', { LOG_LEVEL: 'ERROR', ...(where === 'redis' ? redisEnv : {}) }, { concurrency: 4 });
    return { url: path.url, stop: () => path.stop() };
  }
  const dynamo = await startTestDynamo();
  const server = await startInProcess(roundTrips, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_REQUEST_STATE_KEY: KIT_ENV.MCP_REQUEST_STATE_KEY! });
  return { url: server.url, stop: async () => (await server.stop(), await dynamo.stop()) };
}

/** Times from the client's reply leaving to the tool's result arriving. */
async function handover(where: 'redis' | 'table' | 'direct', plan: ModelledLambdaPlan, budget: Budget, redisEnv: Record<string, string>) {
  const path = await serve(where, redisEnv);
  const client = new LegacyClient({ name: 'bench-handover', version: '1' }, { capabilities: { elicitation: {} } });
  let repliedAt = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    repliedAt = performance.now();
    return { action: 'accept', content: { ok: true } };
  });
  try {
    await client.connect(new LegacyTransport(new URL(path.url)));
    const times: number[] = [];
    for (let i = 0; i < plan.handoverWarmup + plan.handoverSamples && (times.length === 0 || !budget.spent()); i++) {
      await client.callTool({ name: 'confirm', arguments: {} });
      if (i >= plan.handoverWarmup) times.push(performance.now() - repliedAt);
    }
    return summarize(times);
  } finally {
    await client.close();
    await path.stop();
  }
}

export async function measureHandover(plan: ModelledLambdaPlan, budget: Budget, redisEnv: Record<string, string>): Promise<Section> {
  const redis = await handover('redis', plan, budget, redisEnv);
  const table = await handover('table', plan, budget, redisEnv);
  const direct = await handover('direct', plan, budget, redisEnv);
  return {
    id: 'handover',
    title: 'Reply hand-over across Lambda environments (2025-era elicitation)',
    method:
      'An SDK 1.x client calls a tool that asks it to confirm (elicitation/create) on the modelled path; the call holds its ' +
      "environment, so the client's reply POST starts an invocation in another one, which drops it in the call's relay box. " +
      "Timed from the client handing its reply to the SDK to the tool's result arriving: the reply's trip, the waiting call's " +
      "next poll (every 100 ms while it waits) and the result's trip. With Redis (lists) and without (table items in dynalite); " +
      'the baseline is one Node process (npm start), where the reply reaches the waiting call directly. Target: p50 ≤ 250 ms.',
    iterations: `${redis.n} calls with Redis, ${table.n} without, ${direct.n} in one process, after ${plan.handoverWarmup} unrecorded each`,
    columns: [
      { key: 'p50', header: 'p50', unit: 'ms' },
      { key: 'p99', header: 'p99', unit: 'ms' },
      { key: 'n', header: 'calls', unit: 'count' },
    ],
    rows: [
      { id: 'redis', label: 'relay through Redis', values: { p50: redis.median, p99: redis.p99, n: redis.n } },
      { id: 'table', label: 'relay through the table', values: { p50: table.median, p99: table.p99, n: table.n } },
      { id: 'direct', label: 'one process, no hand-over (baseline)', values: { p50: direct.median, p99: direct.p99, n: direct.n } },
    ],
  };
}
