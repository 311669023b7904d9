// The Lambda model: one function's pool of execution environments (execution-environment.ts), each a child
// process running runtime.ts on the deployed bundle, driven through its Runtime API
// (runtime-api.ts) the way the Lambda service drives the managed Node.js runtime, each invocation
// accounted in a REPORT line (report.ts). What it models, each as Lambda documents it:
// - one invocation per environment at a time, in an idle environment picked at random (Lambda
//   documents no order; a seeded pick, the seed logged, so a run can be repeated); a request
//   that finds every environment busy starts a new one (a real cold start, its init duration
//   logged), up to the concurrency limit, beyond which the invoke is throttled
//   (TooManyRequestsException);
// - the client's answer ends when the function ends its response stream; the invocation, and the
//   environment's turn, when the handler has returned too;
// - an environment is frozen between invocations (SIGSTOP from the moment its runtime asks for
//   the next event until it gets one): timers and background promises do not run;
// - idle environments are reclaimed after a while; a failed init discards the environment, and
//   the next invoke starts a fresh one;
// - the function timeout ends an invocation ("Task timed out") and the environment with it;
// - the code directory is read-only and `/tmp` writable (Node's permission model: a write
//   elsewhere fails with ERR_ACCESS_DENIED where Lambda says EROFS); the working directory is the
//   code directory, as /var/task is;
// - memory and CPU share by memory size, where this machine allows (resource-limits.ts).
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
import { AWS_LIMITS } from '../../infra/deployed-path.ts';
import { Environment, type EnvironmentHooks, type EnvironmentOptions } from './execution-environment.ts';
import type { InvocationRecord, InvocationType } from './report.ts';
import type { FunctionError, Invocation, InvokeResult } from './runtime-api.ts';
import { parseTraceHeader, type XrayModel } from './xray.ts';

export type { InvocationRecord, InvocationType } from './report.ts';
export type { FunctionError, InvokeResult, StreamedResponse } from './runtime-api.ts';

export interface LambdaModelOptions extends EnvironmentOptions {
  /** Most environments at once; more concurrent invokes are throttled. */
  concurrency: number;
  /** Seeds the pick among idle environments. */
  seed: number;
  /** Active tracing: Lambda's segments, and the trace header each invocation hands the function. @default - off */
  xray?: XrayModel;
}

/** mulberry32: a small seeded generator, enough to pick environments reproducibly. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let requestCounter = 0;
const newRequestId = () => `${Date.now().toString(16)}-${(++requestCounter).toString(16).padStart(6, '0')}-${Math.random().toString(16).slice(2, 10)}`;

/** The trace an event arrives in: API Gateway's `X-Amzn-Trace-Id` header. */
function incomingTrace(event: unknown) {
  const headers = (event as { headers?: Record<string, string> } | null)?.headers;
  return parseTraceHeader(headers?.['X-Amzn-Trace-Id'] ?? headers?.['x-amzn-trace-id']);
}

export class LambdaModel {
  private readonly environments = new Set<Environment>();
  private readonly idle: Environment[] = [];
  private counter = 0;
  /** Every invocation that ended, newest last (tests and benchmarks read it). */
  readonly invocations: InvocationRecord[] = [];
  /** Invokes received, throttled and refused ones included. */
  invokes = 0;

  /** The model's seeded generator (the Invoke API draws from it too). */
  readonly random: () => number;

  private readonly hooks: EnvironmentHooks = {
    idle: (environment) => this.idle.push(environment),
    gone: (environment) => {
      this.environments.delete(environment);
      const at = this.idle.indexOf(environment);
      if (at >= 0) this.idle.splice(at, 1);
    },
    ended: (record) => {
      this.invocations.push(record);
      if (this.invocations.length > 10_000) this.invocations.shift();
    },
  };

  constructor(readonly options: LambdaModelOptions) {
    this.random = seededRandom(options.seed);
    options.log(
      `[lambda] ${options.functionName}: idle environments are picked at random, seed ${options.seed} (MCP_AWS_SEED=${options.seed} repeats the picks)`,
    );
    if (!exitHooked) process.once('exit', stopAll);
    exitHooked = true;
    liveModels.add(this);
  }

  /** Invokes the function with an event; resolves once its response began or it failed. */
  async invoke(event: unknown, type: InvocationType, _qualifier?: string, trace?: string): Promise<InvokeResult> {
    if (this.stopped) return { kind: 'error', errorType: 'ResourceNotFoundException', errorMessage: 'the function was stopped', invokeStatus: 404 };
    this.invokes++;
    const payload = JSON.stringify(event);
    const payloadLimitBytes = type === 'Event' ? AWS_LIMITS.lambdaAsyncPayloadBytes : AWS_LIMITS.lambdaSyncPayloadBytes;
    if (Buffer.byteLength(payload) > payloadLimitBytes) {
      return {
        kind: 'error',
        errorType: 'RequestEntityTooLargeException',
        errorMessage: `Request must be smaller than ${payloadLimitBytes} bytes for the InvokeFunction operation`,
        invokeStatus: 413,
      };
    }
    let environment = this.idle.splice(Math.floor(this.random() * this.idle.length), 1)[0];
    if (!environment) {
      if (this.environments.size >= this.options.concurrency) {
        return { kind: 'error', errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.', invokeStatus: 429 };
      }
      environment = new Environment(++this.counter, this.options, this.hooks);
      this.environments.add(environment);
      environment.state = 'init';
      await environment.start();
      try {
        await environment.ready;
      } catch (error) {
        return error as FunctionError;
      }
    }
    const started = Date.now();
    const traced = this.options.xray?.invocation(parseTraceHeader(trace) ?? incomingTrace(event), this.options.functionName);
    return new Promise<InvokeResult>((resolve) => {
      let settled = false;
      const invocation: Invocation = {
        id: newRequestId(),
        type,
        event: payload,
        started,
        deadline: started + this.options.timeoutSeconds * 1000,
        ...(traced && { traceHeader: traced.header, onEnd: traced.end }),
        settle: (result) => {
          if (settled) return;
          settled = true;
          resolve(result);
        },
      };
      environment.deliver(invocation);
    });
  }

  /** Environments that exist now, by state. */
  counts() {
    const counts = { init: 0, idle: 0, busy: 0 };
    for (const e of this.environments) if (e.state !== 'dead') counts[e.state]++;
    return counts;
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    liveModels.delete(this);
    for (const environment of [...this.environments]) environment.kill('Shutdown', 'model stopped');
  }
}

/** Every model not yet stopped: a frozen child would outlive this process otherwise. */
const liveModels = new Set<LambdaModel>();
let exitHooked = false;
function stopAll() {
  for (const model of liveModels) void model.stop();
}
