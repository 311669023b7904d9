// One execution environment's lifecycle: a child process running runtime.ts on the deployed
// bundle, sandboxed and limited like Lambda's, that inits, takes one invocation at a time through
// its Runtime API (runtime-api.ts), is frozen between invocations, reclaimed when idle, and ended
// by the function timeout, a failed init or its own exit. The pool that owns it (lambda.ts) hears
// what happens through the hooks passed in; the REPORT accounting is report.ts.
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
import { spawn, type ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { LAMBDA_NODE_MAJOR } from '../../infra/function-bundle.ts';
import { account, maxMemoryMb, type InvocationRecord } from './report.ts';
import { environmentLimits, type EnvironmentLimits } from './resource-limits.ts';
import { RuntimeApi, type FunctionError, type Invocation } from './runtime-api.ts';

/** Reads anywhere, writes only under /tmp; child processes, workers and addons as Lambda allows them. */
const SANDBOX_FLAGS = [
  '--permission',
  '--allow-fs-read=*',
  '--allow-fs-write=/tmp',
  '--allow-child-process',
  '--allow-worker',
  '--allow-addons',
  '--disable-warning=SecurityWarning',
];

/** What an environment runs, and how. */
export interface EnvironmentOptions {
  /** The bundled function (the esbuild output the construct deploys). */
  bundle: string;
  /** The runtime bundle (local/aws/runtime.ts built). */
  runtime: string;
  /** Function environment, as the construct sets it plus local endpoints. */
  environment: Record<string, string>;
  functionName: string;
  /** The published version this function runs (local/aws/alias.ts routes between them). @default '$LATEST' */
  functionVersion?: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** An environment idle this long is reclaimed. */
  idleReclaimMs: number;
  /** Lambda gives an init phase this long. */
  initTimeoutMs: number;
  /** Where the REPORT lines and the environments' output go. */
  log: (line: string) => void;
}

/** What the environment tells the pool that owns it. */
export interface EnvironmentHooks {
  /** It finished an invocation and waits, frozen, for the next (not after its init: the invoke that started it takes it). */
  idle(environment: Environment): void;
  /** It ended, for whatever reason. */
  gone(environment: Environment): void;
  /** An invocation ended; its REPORT line is logged. */
  ended(record: InvocationRecord): void;
}

export class Environment {
  state: 'init' | 'idle' | 'busy' | 'dead' = 'init';
  private child!: ChildProcess;
  private limits!: EnvironmentLimits;
  private readonly api: RuntimeApi;
  private pendingNext?: ServerResponse;
  private invocation?: Invocation;
  private initStarted = Date.now();
  private initDurationMs?: number;
  private reclaim?: ReturnType<typeof setTimeout>;
  private frozen = false;
  readonly ready: Promise<void>;
  private readyResolve!: () => void;
  private readyReject!: (error: FunctionError) => void;

  constructor(
    readonly id: number,
    private readonly options: EnvironmentOptions,
    private readonly hooks: EnvironmentHooks,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
    this.api = new RuntimeApi({
      next: (res) => this.next(res),
      initError: (error) => {
        this.readyReject(error);
        this.kill(error.errorType, error.errorMessage);
      },
      current: () => this.invocation,
      log: (line) => options.log(`[env ${this.id}] ${line}`),
    });
  }

  async start(): Promise<void> {
    const { options } = this;
    const runtimeApi = await this.api.listen();
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
        AWS_LAMBDA_RUNTIME_API: runtimeApi,
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: options.functionVersion ?? '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `local/[${options.functionVersion ?? '$LATEST'}]env${this.id}`,
        AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${LAMBDA_NODE_MAJOR}.x`,
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: 'index.handler',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.relayOutput();
    if (this.child.pid !== undefined) this.limits.join(this.child.pid);
    this.child.once('exit', (code, signal) => {
      this.limits.release();
      this.died(`exited (${signal ?? code})`);
    });
    const initTimer = setTimeout(() => this.kill('Runtime.InitTimeout', `init did not finish within ${options.initTimeoutMs} ms`), options.initTimeoutMs);
    this.ready.finally(() => clearTimeout(initTimer)).catch(() => {});
  }

  /** The process's stdout and stderr, line by line, into the log. */
  private relayOutput() {
    const prefix = `[env ${this.id}] `;
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line) this.options.log(prefix + line);
      });
    }
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
    this.reclaim = setTimeout(() => this.kill('Reclaimed', 'idle environment reclaimed'), this.options.idleReclaimMs);
    this.hooks.idle(this);
  }

  /** Hands an event to the frozen runtime waiting on /next. */
  deliver(invocation: Invocation) {
    clearTimeout(this.reclaim);
    this.state = 'busy';
    this.invocation = invocation;
    invocation.timer = setTimeout(
      () => this.kill('Sandbox.Timedout', `Task timed out after ${this.options.timeoutSeconds.toFixed(2)} seconds`),
      invocation.deadline - Date.now(),
    );
    this.thaw();
    const res = this.pendingNext!;
    this.pendingNext = undefined;
    RuntimeApi.deliver(res, invocation, this.options.functionName);
  }

  private finish(invocation: Invocation, ending: FunctionError | undefined) {
    const error = ending ?? invocation.failure;
    clearTimeout(invocation.timer);
    invocation.endBody?.(error);
    invocation.endInvocation?.(error);
    invocation.onEnd?.();
    invocation.settle(error ?? { kind: 'error', errorType: 'Runtime.NoResponse', errorMessage: 'the invocation ended without a response', invokeStatus: 200 });
    this.invocation = undefined;
    const { report, record } = account({
      id: invocation.id,
      type: invocation.type,
      environment: this.id,
      startedAt: invocation.started,
      endedAt: Date.now(),
      memoryMb: this.options.memoryMb,
      maxMemoryMb: maxMemoryMb(this.child.pid),
      initDurationMs: this.initDurationMs,
      error: error?.errorType,
    });
    this.initDurationMs = undefined;
    this.options.log(report);
    this.hooks.ended(record);
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
      this.options.log(`[env ${this.id}] ${this.invocation.id} ${errorMessage}`);
      this.finish(this.invocation, error);
    }
    this.readyReject(error);
    this.state = 'dead';
    clearTimeout(this.reclaim);
    this.thaw();
    this.child.kill('SIGKILL');
    this.pendingNext?.destroy();
    this.api.close();
    this.hooks.gone(this);
  }

  private died(how: string) {
    if (this.state !== 'dead') this.kill('Runtime.ExitError', `Runtime exited: ${how}`);
  }
}
