// The Lambda model: one function's execution environments, each a child process running
// runtime.ts on the deployed bundle, driven through the Runtime API the way the Lambda service
// drives the managed Node.js runtime. What it models, each as Lambda documents it:
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
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { AWS_LIMITS } from '../../infra/deployed-path.ts';
import { environmentLimits, type EnvironmentLimits } from './resource-limits.ts';

const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
/** Reads anywhere, writes only under /tmp; child processes, workers and addons as Lambda allows them. */
const SANDBOX_FLAGS = ['--permission', '--allow-fs-read=*', '--allow-fs-write=/tmp', '--allow-child-process', '--allow-worker', '--allow-addons', '--disable-warning=SecurityWarning'];

export interface LambdaModelOptions {
  /** The bundled function (the esbuild output the construct deploys). */
  bundle: string;
  /** The runtime bundle (local/aws/runtime.ts built). */
  runtime: string;
  /** Function environment, as the construct sets it plus local endpoints. */
  environment: Record<string, string>;
  functionName: string;
  /** The published version this model runs (local/aws/alias.ts routes between them). @default '$LATEST' */
  functionVersion?: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** Most environments at once; more concurrent invokes are throttled. */
  concurrency: number;
  /** An environment idle this long is reclaimed. */
  idleReclaimMs: number;
  /** Lambda gives an init phase this long. */
  initTimeoutMs: number;
  /** Where the REPORT lines and the environments' output go. */
  log: (line: string) => void;
  /** Seeds the pick among idle environments. */
  seed: number;
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

/** A streamed response as the function wrote it: the HTTP prelude and the body after it. */
export interface StreamedResponse {
  kind: 'stream';
  prelude: { statusCode?: number; headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]>; cookies?: string[] };
  /** Ends when the function ends its stream (`end()`), which may be before the invocation ends. */
  body: Readable;
  /** Resolves when the invocation ends: undefined when it succeeded, else the error that ended it. */
  ended: Promise<FunctionError | undefined>;
}

/** What Lambda answers instead of a response: the function failed, timed out, or was throttled. */
export interface FunctionError {
  kind: 'error';
  errorType: string;
  errorMessage: string;
  /** Status the Invoke API answers with (200 for function errors, 429 throttled, 413 payload too large). */
  invokeStatus: number;
}

export type InvokeResult = StreamedResponse | FunctionError | { kind: 'buffered'; payload: unknown };

/** How the function was invoked: synchronously (API Gateway) or as an asynchronous event. */
export type InvocationType = 'RequestResponse' | 'Event';

interface Invocation {
  id: string;
  type: InvocationType;
  event: string;
  started: number;
  deadline: number;
  settle(result: InvokeResult): void;
  /** Set once the response body began. */
  body?: PassThrough;
  /** Ends the client's body: at the function's `end()`, or with the error that cut it. */
  endBody?: (error: FunctionError | undefined) => void;
  /** The error the function reported (instead of a response, or in trailers after its stream): the invocation failed. */
  failure?: FunctionError;
  /** Settles `ended` when the invocation is over. */
  endInvocation?: (error: FunctionError | undefined) => void;
  timer?: ReturnType<typeof setTimeout>;
}

let requestCounter = 0;
const newRequestId = () => `${Date.now().toString(16)}-${(++requestCounter).toString(16).padStart(6, '0')}-${Math.random().toString(16).slice(2, 10)}`;

/** Peak resident memory of a process, as Lambda's REPORT line states it. */
function maxMemoryMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

class Environment {
  readonly id: number;
  state: 'init' | 'idle' | 'busy' | 'dead' = 'init';
  private child!: ChildProcess;
  private limits!: EnvironmentLimits;
  private server!: Server;
  private pendingNext?: ServerResponse;
  private invocation?: Invocation;
  private initStarted = Date.now();
  private initDurationMs?: number;
  private reclaim?: ReturnType<typeof setTimeout>;
  private frozen = false;
  readonly ready: Promise<void>;
  private readyResolve!: () => void;
  private readyReject!: (error: FunctionError) => void;

  constructor(id: number, private readonly model: LambdaModel) {
    this.id = id;
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
  }

  async start(): Promise<void> {
    const { options } = this.model;
    this.server = createServer((req, res) => this.route(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const port = (this.server.address() as AddressInfo).port;
    this.initStarted = Date.now();
    const taskRoot = dirname(options.bundle);
    this.limits = environmentLimits(options.memoryMb, options.log);
    this.child = spawn(process.execPath, [...SANDBOX_FLAGS, options.runtime, options.bundle], {
      cwd: taskRoot,
      env: {
        PATH: process.env.PATH,
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        ...options.environment,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: options.functionVersion ?? '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `local/[${options.functionVersion ?? '$LATEST'}]env${this.id}`,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: 'index.handler',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = `[env ${this.id}] `;
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line) options.log(prefix + line);
      });
    }
    if (this.child.pid !== undefined) this.limits.join(this.child.pid);
    this.child.once('exit', (code, signal) => {
      this.limits.release();
      this.died(`exited (${signal ?? code})`);
    });
    const initTimer = setTimeout(() => this.kill('Runtime.InitTimeout', `init did not finish within ${options.initTimeoutMs} ms`), options.initTimeoutMs);
    this.ready.finally(() => clearTimeout(initTimer)).catch(() => {});
  }

  private route(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '';
    if (req.method === 'GET' && path.endsWith('/runtime/invocation/next')) return this.next(res);
    if (req.method === 'POST' && path.endsWith('/runtime/init/error')) {
      return readAll(req).then((body) => {
        res.writeHead(202).end();
        const error = parseError(body, 'Runtime.InitError');
        this.readyReject(error);
        this.kill(error.errorType, error.errorMessage);
      });
    }
    const match = /\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    const invocation = this.invocation;
    if (req.method === 'POST' && match && invocation && match[1] === invocation.id) {
      return match[2] === 'response' ? this.response(req, res, invocation) : this.error(req, res, invocation);
    }
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errorMessage: `unexpected ${req.method} ${path}` }));
  }

  /** The runtime asks for work: the previous invocation is over, and the environment freezes. */
  private next(res: ServerResponse) {
    this.pendingNext = res;
    const previous = this.invocation;
    if (previous) this.finish(previous, undefined);
    const initialized = this.state === 'init';
    this.state = 'idle';
    this.freeze();
    if (initialized) {
      // The invoke that started this environment is waiting for it: it is not free for others.
      this.initDurationMs = Date.now() - this.initStarted;
      this.readyResolve();
      return;
    }
    this.reclaim = setTimeout(() => this.kill('Reclaimed', 'idle environment reclaimed'), this.model.options.idleReclaimMs);
    this.model.environmentIdle(this);
  }

  /** Hands an event to the frozen runtime waiting on /next. */
  deliver(invocation: Invocation) {
    clearTimeout(this.reclaim);
    this.state = 'busy';
    this.invocation = invocation;
    invocation.timer = setTimeout(
      () => this.kill('Sandbox.Timedout', `Task timed out after ${this.model.options.timeoutSeconds.toFixed(2)} seconds`),
      invocation.deadline - Date.now(),
    );
    this.thaw();
    const res = this.pendingNext!;
    this.pendingNext = undefined;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': invocation.id,
      'lambda-runtime-deadline-ms': String(invocation.deadline),
      'lambda-runtime-invoked-function-arn': `arn:aws:lambda:us-east-1:000000000000:function:${this.model.options.functionName}`,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${invocation.id.replace(/-/g, '').slice(0, 24)}`,
    });
    res.end(invocation.event);
  }

  private response(req: IncomingMessage, res: ServerResponse, invocation: Invocation) {
    const type = req.headers['content-type'] ?? '';
    if (req.headers['lambda-runtime-function-response-mode'] !== 'streaming') {
      return readAll(req).then((body) => {
        res.writeHead(202).end();
        invocation.settle({ kind: 'buffered', payload: body ? JSON.parse(body) : null });
      });
    }
    // A consumer hears a failure through `ended`; one that has stopped listening (an asynchronous
    // invoke, a cut client) must not turn the destroyed body into an uncaught error.
    const body = new PassThrough().on('error', () => {});
    invocation.body = body;
    const ended = new Promise<FunctionError | undefined>((resolve) => (invocation.endInvocation = resolve));
    invocation.endBody = (error) => {
      invocation.endBody = undefined;
      if (error) body.destroy(new Error(`${error.errorType}: ${error.errorMessage}`));
      else body.end();
    };
    if (!type.startsWith(HTTP_INTEGRATION)) {
      // A stream without the HTTP prelude: API Gateway relays it as a 200 of that type.
      invocation.settle({ kind: 'stream', prelude: { statusCode: 200, headers: { 'content-type': String(type) } }, body, ended });
      req.pipe(body, { end: false });
    } else {
      readPrelude(req, body).then(
        (prelude) => {
          if (!prelude) this.model.options.log(`[env ${this.id}] ${invocation.id} the stream ended with no write(): no prelude went out, so the client gets 200 without the handler's status and headers (the Node.js runtime writes the prelude at the first write())`);
          invocation.settle({ kind: 'stream', prelude: prelude ?? {}, body, ended });
        },
        (error: Error) => {
          this.model.options.log(`[env ${this.id}] ${invocation.id} ${error.message}`);
          // Lambda answered the invoke; API Gateway cannot read what it answered (a malformed proxy response, 502).
          invocation.settle({ kind: 'error', errorType: 'Runtime.MalformedResponse', errorMessage: error.message, invokeStatus: 200 });
        },
      );
    }
    // The client's response ends when the function ends its stream, though the invocation (and
    // the environment) may go on working until the handler returns.
    req.on('end', () => {
      res.writeHead(202).end();
      const errorType = req.trailers['lambda-runtime-function-error-type'];
      const detail = errorType && parseError(Buffer.from(req.trailers['lambda-runtime-function-error-body'] ?? '', 'base64').toString('utf8'), errorType);
      if (detail) invocation.failure = { ...detail, errorType: errorType! };
      invocation.endBody?.(invocation.failure);
    });
  }

  private error(req: IncomingMessage, res: ServerResponse, invocation: Invocation) {
    return readAll(req).then((body) => {
      res.writeHead(202).end();
      invocation.failure = parseError(body, String(req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.UnhandledError'));
      invocation.settle(invocation.failure);
    });
  }

  private finish(invocation: Invocation, ending: FunctionError | undefined) {
    const error = ending ?? invocation.failure;
    clearTimeout(invocation.timer);
    invocation.endBody?.(error);
    invocation.endInvocation?.(error);
    invocation.settle(error ?? { kind: 'error', errorType: 'Runtime.NoResponse', errorMessage: 'the invocation ended without a response', invokeStatus: 200 });
    this.invocation = undefined;
    const duration = Date.now() - invocation.started;
    const memory = maxMemoryMb(this.child.pid);
    const init = this.initDurationMs === undefined ? '' : `\tInit Duration: ${this.initDurationMs.toFixed(2)} ms`;
    this.initDurationMs = undefined;
    this.model.options.log(
      `REPORT RequestId: ${invocation.id}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(duration))} ms\t` +
        `Memory Size: ${this.model.options.memoryMb} MB\tMax Memory Used: ${memory ?? '?'} MB${init}${error ? `\tStatus: ${error.errorType}` : ''}`,
    );
    this.model.invocationEnded({
      id: invocation.id,
      type: invocation.type,
      environment: this.id,
      maxMemoryMb: memory,
      startedAt: invocation.started,
      endedAt: invocation.started + duration,
      durationMs: duration,
      initDurationMs: init ? Number(/([\d.]+) ms$/.exec(init)?.[1]) : undefined,
      error: error?.errorType,
    });
  }

  private freeze() {
    if (this.frozen || this.child.pid === undefined || this.child.exitCode !== null) return;
    this.frozen = process.kill(this.child.pid, 'SIGSTOP');
  }

  private thaw() {
    if (!this.frozen || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGCONT');
    this.frozen = false;
  }

  /** Ends the environment; an invocation in flight ends with the given error. */
  kill(errorType: string, errorMessage: string) {
    if (this.state === 'dead') return;
    const error: FunctionError = { kind: 'error', errorType, errorMessage, invokeStatus: 200 };
    if (this.invocation) {
      this.model.options.log(`[env ${this.id}] ${this.invocation.id} ${errorMessage}`);
      this.finish(this.invocation, error);
    }
    this.readyReject(error);
    this.state = 'dead';
    clearTimeout(this.reclaim);
    this.thaw();
    this.child.kill('SIGKILL');
    this.pendingNext?.destroy();
    this.server.closeAllConnections();
    this.server.close();
    this.model.environmentGone(this);
  }

  private died(how: string) {
    if (this.state !== 'dead') this.kill('Runtime.ExitError', `Runtime exited: ${how}`);
  }
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function parseError(body: string, errorType: string): FunctionError {
  try {
    const parsed = JSON.parse(body) as { errorType?: string; errorMessage?: string };
    return { kind: 'error', errorType: parsed.errorType ?? errorType, errorMessage: parsed.errorMessage ?? body, invokeStatus: 200 };
  } catch {
    return { kind: 'error', errorType, errorMessage: body, invokeStatus: 200 };
  }
}

/**
 * Reads the JSON prelude up to the eight NUL bytes, then passes the rest of the stream on.
 * Undefined for a stream that ended empty (no write(), so no prelude); a body without the
 * delimiter (`end(chunk)` alone) is malformed.
 */
function readPrelude(req: IncomingMessage, body: PassThrough): Promise<StreamedResponse['prelude'] | undefined> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(Buffer.alloc(8));
      if (at < 0) return;
      req.off('data', onData);
      req.off('end', onEnd);
      try {
        resolve(JSON.parse(head.subarray(0, at).toString('utf8')));
      } catch (error) {
        reject(new Error(`malformed response prelude: ${(error as Error).message}`));
        return;
      }
      const rest = head.subarray(at + 8);
      if (rest.length) body.write(rest);
      req.pipe(body, { end: false });
    };
    const onEnd = () => {
      if (head.length === 0) return resolve(undefined);
      reject(new Error('malformed response: the body has no prelude (the Node.js runtime writes it at the first write(), and end(chunk) alone makes none)'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
  });
}

export interface InvocationRecord {
  id: string;
  type: InvocationType;
  environment: number;
  /** Peak resident memory of the environment so far, as the REPORT line gives it. */
  maxMemoryMb?: number;
  /** Epoch ms. */
  startedAt: number;
  endedAt: number;
  durationMs: number;
  initDurationMs?: number;
  error?: string;
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

  constructor(readonly options: LambdaModelOptions) {
    this.random = seededRandom(options.seed);
    options.log(`[lambda] ${options.functionName}: idle environments are picked at random, seed ${options.seed} (MCP_AWS_SEED=${options.seed} repeats the picks)`);
    if (!exitHooked) process.once('exit', stopAll);
    exitHooked = true;
    liveModels.add(this);
  }

  /** Invokes the function with an event; resolves once its response began or it failed. */
  async invoke(event: unknown, type: InvocationType): Promise<InvokeResult> {
    if (this.stopped) return { kind: 'error', errorType: 'ResourceNotFoundException', errorMessage: 'the function was stopped', invokeStatus: 404 };
    this.invokes++;
    const payload = JSON.stringify(event);
    const payloadLimitBytes = type === 'Event' ? AWS_LIMITS.lambdaAsyncPayloadBytes : AWS_LIMITS.lambdaSyncPayloadBytes;
    if (Buffer.byteLength(payload) > payloadLimitBytes) {
      return { kind: 'error', errorType: 'RequestEntityTooLargeException', errorMessage: `Request must be smaller than ${payloadLimitBytes} bytes for the InvokeFunction operation`, invokeStatus: 413 };
    }
    let environment = this.idle.splice(Math.floor(this.random() * this.idle.length), 1)[0];
    if (!environment) {
      if (this.environments.size >= this.options.concurrency) {
        return { kind: 'error', errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.', invokeStatus: 429 };
      }
      environment = new Environment(++this.counter, this);
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
    return new Promise<InvokeResult>((resolve) => {
      let settled = false;
      const invocation: Invocation = {
        id: newRequestId(),
        type,
        event: payload,
        started,
        deadline: started + this.options.timeoutSeconds * 1000,
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

  environmentIdle(environment: Environment) {
    this.idle.push(environment);
  }

  environmentGone(environment: Environment) {
    this.environments.delete(environment);
    const at = this.idle.indexOf(environment);
    if (at >= 0) this.idle.splice(at, 1);
  }

  invocationEnded(record: InvocationRecord) {
    this.invocations.push(record);
    if (this.invocations.length > 10_000) this.invocations.shift();
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
