// Tasks as the kit runs them: created by the request that accepts a call, run by a worker (an
// invocation of its own on Lambda, a container holding a lease for container tasks when
// MCP_CONTAINER_TASKS is on (queue.ts, workers.ts), the same process locally), answered, polled and cancelled
// from any instance. The wire forms are wire.ts's; the records store.ts's; what runs a tool is
// the server factory's (`execute`). Cancellation reaches the worker through the relay (box
// `task:<id>`) within its slow poll; a worker that stops reporting is marked failed on read.
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { ArtifactStore } from '../artifacts/store.ts';
import type { KitLogger } from '../log.ts';
import { emitMetrics, taskStateMetric } from '../metrics.ts';
import type { Relay } from '../relay/relay.ts';
import { currentTrace, formatTraceparent, parseTraceparent, startSpan, type Tracer } from '../trace.ts';
import type { TaskQueue } from './queue.ts';
import { MAX_CHECKPOINT_BYTES, MAX_TASK_REQUEST_BYTES, TERMINAL, type TaskRecord, type TaskRequest, type TaskStatus, type TaskStore } from './store.ts';

/** What a run of a task's tool came to. */
export type TaskOutcome =
  | { kind: 'result'; result: CallToolResult }
  | { kind: 'input'; inputRequests: Record<string, unknown>; requestState?: string }
  | { kind: 'error'; error: { code: number; message: string } };

export interface TaskRunContext {
  record: TaskRecord;
  signal: AbortSignal;
  /** Progress and status messages of the running tool, kept on the record (throttled). */
  report(message: string): void;
  /** The run's time limit, when not the configured task timeout (a queued task: the rest of its TTL). */
  timeoutMs?: number;
  /** What an earlier attempt at this run saved with `checkpoint`; undefined on a first attempt. */
  resumeFrom?: unknown;
  /** Saves a value with the task for a later attempt at this run (`ctx.task.checkpoint`). */
  checkpoint(value: unknown): Promise<void>;
}

export interface TaskDispatcher {
  /** Starts a worker for run `run` of the task, somewhere; returns once it is handed over. */
  dispatch(taskId: string, run: number): Promise<void>;
}

export interface TaskServiceOptions {
  store: TaskStore;
  relay: Relay;
  artifacts: ArtifactStore;
  log: KitLogger;
  /** Runs the task's tool for one run. */
  execute(run: TaskRunContext): Promise<TaskOutcome>;
  /** A working task not updated for this long lost its worker. */
  staleAfterMs: number;
  /** The longest lifetime a caller may ask for (2025 `task.ttl`). */
  maxTtlMs: number;
  /** The stage, a dimension of the metrics beside the server's name. */
  stage: string;
  /** The server's name, the metrics' dimension. */
  server: string;
  /** Write CloudWatch embedded-metric lines. */
  metrics: boolean;
  /** Status messages are written at most this often. */
  reportEveryMs?: number;
  /** Absent when tracing is off. */
  tracer?: Tracer;
  /** Where container-runtime tasks wait for a container worker; absent, they are dispatched like any task. */
  queue?: TaskQueue;
}

/** Who is asking about a task: only its creator may see it. */
export interface TaskCaller {
  principalId: string;
  sessionId?: string;
  /** The request asking, for the audit line of a cancellation. */
  requestId?: string;
}

/** Answers that would make the task keep more than MAX_TASK_REQUEST_BYTES of its requests. */
export class TaskRequestTooLargeError extends Error {
  override name = 'TaskRequestTooLargeError';
  constructor(readonly bytes: number) {
    super(
      `the task would keep ${bytes} bytes of its call and answers, at most ${MAX_TASK_REQUEST_BYTES} (64 KB) accepted; send large answers as a resource or artifact URI`,
    );
  }
}

const cancelBox = (id: string) => `task:${id}`;
/** Whether the task is still on the run (and attempt) `record` was claimed as: only that run's worker records its end. */
const holds = (record: TaskRecord) => (t: TaskRecord) => t.run === record.run && t.claimedAttempt === record.claimedAttempt;
const RESULT_LINK = '__kitResultArtifact';

export class TaskService {
  dispatcher?: TaskDispatcher;

  constructor(private readonly options: TaskServiceOptions) {}

  get maxTtlMs() {
    return this.options.maxTtlMs;
  }

  private get store() {
    return this.options.store;
  }

  /** Writes the task and hands it to a worker; the record is readable before this returns. */
  async create(init: {
    id: string;
    caller: TaskCaller;
    wire: TaskRecord['wire'];
    request: TaskRequest;
    ttlMs?: number;
    container?: boolean;
  }): Promise<TaskRecord> {
    const creator = this.options.tracer && currentTrace();
    const request = creator ? { ...init.request, traceparent: formatTraceparent(creator) } : init.request;
    const queued = Boolean(init.container && this.options.queue);
    const record = await this.store.create({
      id: init.id,
      principalId: init.caller.principalId,
      sessionId: init.caller.sessionId,
      wire: init.wire,
      request,
      ttlMs: init.ttlMs,
      ...(queued && { queued }),
    });
    this.metric(record, 'working');
    try {
      await this.hand(record);
    } catch (error) {
      // The call fails, so no client learns this task's id: it ends here rather than going stale.
      const message = error instanceof Error ? error.message : String(error);
      await this.finish(record.id, ['working'], {
        status: 'failed',
        statusMessage: `The task could not be started: ${message}`,
        error: { code: -32603, message },
      }).catch(() => undefined);
      throw error;
    }
    return record;
  }

  /**
   * The caller's task as it stands (a lost worker noticed here), its result read back if stored
   * aside. Only a claimed run can go stale: an unclaimed one is still queued (Lambda may hold a
   * throttled event for its whole maximum age), and Lambda reports an event that never ran to the
   * on-failure destination, which fails the task.
   */
  async get(id: string, caller: TaskCaller): Promise<TaskRecord | undefined> {
    let record = await this.store.get(id, caller.principalId, caller.sessionId);
    // A queued task's worker holds a lease instead: one that lapses restarts the run elsewhere.
    const claimed = record !== undefined && !record.queued && (record.claimedRun ?? 0) >= record.run;
    if (record?.status === 'working' && claimed && Date.now() - record.lastUpdatedAt > this.options.staleAfterMs) {
      record =
        (await this.finish(id, ['working'], {
          status: 'failed',
          statusMessage: 'The task stopped reporting: its worker timed out or crashed',
          error: { code: -32603, message: "the task's worker stopped without finishing" },
        })) ?? record;
    }
    if (record?.result && typeof record.result === 'object' && RESULT_LINK in record.result) {
      const uri = (record.result as Record<string, string>)[RESULT_LINK]!;
      const contents = await this.options.artifacts.read(uri, { principalId: record.principalId, sessionId: record.sessionId });
      record = { ...record, result: JSON.parse('text' in contents ? contents.text : Buffer.from(contents.blob, 'base64').toString('utf8')) };
    }
    return record;
  }

  list(caller: TaskCaller): Promise<TaskRecord[]> {
    return this.store.list(caller.principalId, caller.sessionId);
  }

  /**
   * Answers outstanding input requests. Keys not outstanding are ignored; once every outstanding
   * request has its answer the task goes back to work with all answers so far.
   */
  async update(id: string, caller: TaskCaller, responses: Record<string, unknown>): Promise<TaskRecord | undefined> {
    const record = await this.store.get(id, caller.principalId, caller.sessionId);
    if (!record) return undefined;
    const resumed = await this.store.transition(id, ['input_required'], (t) => {
      const outstanding = Object.keys(t.inputRequests ?? {});
      const pending = { ...t.pendingResponses };
      for (const key of outstanding) if (key in responses) pending[key] = responses[key];
      // The answers join what the record keeps of the request: the same bound as at creation.
      const bytes = Buffer.byteLength(JSON.stringify([t.request, pending]));
      if (bytes > MAX_TASK_REQUEST_BYTES) throw new TaskRequestTooLargeError(bytes);
      if (outstanding.some((key) => !(key in pending))) return { pendingResponses: pending };
      // The handler gets its answers under the keys it asked with (the wire key names the run too).
      const answers = Object.fromEntries(Object.entries(pending).map(([key, value]) => [key.slice(key.indexOf(':') + 1), value]));
      return {
        status: 'working' as TaskStatus,
        run: t.run + 1,
        inputRequests: undefined,
        pendingResponses: undefined,
        request: {
          ...t.request,
          inputResponses: { ...t.request.inputResponses, ...answers },
          ...(t.requestState !== undefined && { requestState: t.requestState }),
        },
      };
    });
    if (resumed?.status === 'working') {
      this.metric(resumed, 'working');
      await this.hand(resumed);
    }
    return resumed ?? record;
  }

  /**
   * Cancels a task that has not finished; a finished one is left as it is. The task as it now
   * stands: cancelled, or finished as it did when it finished first. Undefined: no such task.
   */
  async cancel(id: string, caller: TaskCaller): Promise<TaskRecord | undefined> {
    const record = await this.store.get(id, caller.principalId, caller.sessionId);
    if (!record) return undefined;
    const cancelled = await this.finish(id, ['working', 'input_required'], { status: 'cancelled', statusMessage: "Cancelled at the client's request" });
    if (!cancelled) {
      // It finished between the read above and the cancel: read what it finished as, not what it was.
      return (await this.store.get(id, caller.principalId, caller.sessionId)) ?? record;
    }
    const { principalId, sessionId, requestId } = caller;
    this.options.log.audit('task.cancelled', { requestId, principal: principalId, ...(sessionId && { sessionId }), taskId: id, tool: record.request.tool });
    await this.options.relay
      .send(cancelBox(id), { cancel: true })
      .catch((error) => this.options.log.warn('task cancel: the worker was not told', { taskId: id, error: String(error) }));
    return cancelled;
  }

  /** Waits until the task is finished (2025 `tasks/result` blocks), polling the record. */
  async settled(id: string, caller: TaskCaller, signal?: AbortSignal): Promise<TaskRecord | undefined> {
    for (;;) {
      const record = await this.get(id, caller);
      if (!record || TERMINAL.includes(record.status)) return record;
      await new Promise((resolve) => setTimeout(resolve, record.pollIntervalMs));
      if (signal?.aborted) return record;
    }
  }

  /** Hands a working run to its worker: the container queue for a queued task, else the dispatcher. */
  private async hand(record: TaskRecord): Promise<void> {
    if (record.queued) {
      if (!this.options.queue)
        throw new Error(
          'the task waits for a container worker, and MCP_CONTAINER_TASKS is off on this instance; set it alike on the function and the containers',
        );
      await this.options.queue.enqueue(record.id, record.run, record.createdAt + record.ttlMs);
    } else await this.dispatcher!.dispatch(record.id, record.run);
  }

  /** A worker's run: claims it (a duplicate delivery finds it claimed and does nothing), runs the tool, records what came of it. */
  async run(id: string, run: number): Promise<void> {
    let claimed = false;
    // Decided by the last try: a claim whose write lost the race is tried again and then finds
    // the run claimed by the other delivery.
    const record = await this.store.transition(id, ['working'], (t) => {
      claimed = t.run === run && (t.claimedRun ?? 0) < run;
      return claimed ? { claimedRun: run } : undefined;
    });
    if (!record || !claimed) return;
    await this.execute(record);
  }

  /**
   * The start of a container worker's attempt at a queued run it holds the lease of: the record
   * as it runs, or undefined when there is nothing to run (cancelled, finished, or moved on to
   * another run). A later attempt restarts the run from the top and says so in the status.
   */
  async startLeased(id: string, run: number, attempt: number): Promise<TaskRecord | undefined> {
    let current = false;
    const record = await this.store.transition(id, ['working'], (t) => {
      current = t.run === run;
      if (!current) return undefined;
      return {
        claimedRun: run,
        claimedAttempt: attempt,
        ...(attempt > 1 && { statusMessage: `Restarted (attempt ${attempt}): the worker running it stopped before it finished` }),
      };
    });
    return current ? record : undefined;
  }

  /** Whether run `run` of the task is still wanted: the task is working on that run (not cancelled, finished or moved on). */
  async wanted(id: string, run: number): Promise<boolean> {
    const record = await this.store.load(id);
    return record?.status === 'working' && record.run === run;
  }

  /**
   * Fails a queued run whose workers stopped `attempts` times without finishing: the task's error
   * says so, and a dead-letter log line and metric (`TaskDeadLetters`) record it.
   */
  async deadLetter(id: string, attempts: number): Promise<void> {
    const message = `the task's worker stopped ${attempts} times without finishing (its container was replaced or crashed); it is not restarted again`;
    const failed = await this.finish(id, ['working'], {
      status: 'failed',
      statusMessage: `Failed after ${attempts} attempts`,
      error: { code: -32603, message },
    });
    if (!failed) return;
    this.options.log.error('task dead-lettered', { taskId: id, tool: failed.request.tool, attempts });
    if (this.options.metrics) emitMetrics({ Server: this.options.server, Stage: this.options.stage }, { TaskDeadLetters: { value: 1, unit: 'Count' } });
  }

  /**
   * Runs a claimed run's tool and records what came of it. `abandon` (a lost lease, a worker
   * stopping) aborts the run and records nothing: the run is someone else's to restart.
   */
  async execute(record: TaskRecord, abandon?: AbortSignal): Promise<void> {
    const { id } = record;
    const abort = new AbortController();
    const giveUp = () => abort.abort(abandon!.reason);
    if (abandon?.aborted) giveUp();
    else abandon?.addEventListener('abort', giveUp, { once: true });
    this.active.add(abort);
    const watch = this.options.relay.watch(cancelBox(id), () => abort.abort(new Error('the task was cancelled')));
    const reporter = this.reporter(id);
    const span = this.workerSpan(record);
    // A queued task runs for as long as it lives; others within the configured task timeout.
    const timeoutMs = record.queued ? Math.max(1, record.createdAt + record.ttlMs - Date.now()) : undefined;
    const recording = () => !this.closed && !abandon?.aborted;
    const resumeFrom = record.checkpoint?.run === record.run ? record.checkpoint.value : undefined;
    const checkpoint = (value: unknown) => this.checkpoint(record, value, abort.signal);
    try {
      const execute = () =>
        this.options.execute({ record, signal: abort.signal, report: reporter.report, ...(timeoutMs !== undefined && { timeoutMs }), resumeFrom, checkpoint });
      const outcome = await (span ? span.run(execute) : execute());
      span?.end(outcome.kind === 'error' ? 'tool error' : undefined);
      if (recording()) await reporter.flush();
      // Stopped by close(): left as it is, for the stale check to fail it once no one reports.
      if (recording()) await this.record(record, outcome);
    } catch (err) {
      span?.end(err);
      if (recording())
        await this.finish(
          id,
          ['working'],
          { status: 'failed', statusMessage: (err as Error).message, error: { code: -32603, message: (err as Error).message } },
          holds(record),
        );
    } finally {
      abandon?.removeEventListener('abort', giveUp);
      watch.stop();
      this.active.delete(abort);
    }
  }

  /** A worker run's span, the child of the span that created the task (in the same trace), when tracing is on. */
  private workerSpan(record: TaskRecord) {
    const { tracer } = this.options;
    if (!tracer) return undefined;
    const creator = parseTraceparent(record.request.traceparent);
    return startSpan(tracer, `task ${record.request.tool}`, {
      kind: 'consumer',
      ...(creator && { parent: creator, links: [creator] }),
      attributes: { 'mcp.task.id': record.id, 'mcp.task.run': record.run, 'gen_ai.tool.name': record.request.tool },
    });
  }

  private readonly active = new Set<AbortController>();
  private closed = false;

  /** Stops the runs in this process (the server is shutting down): their handlers see ctx.signal abort. */
  close(): void {
    this.closed = true;
    for (const run of this.active) run.abort(new Error('the server is stopping'));
  }

  /** Marks a task failed for a reason reported from outside its run (Lambda's on-failure destination). */
  async fail(id: string, reason: string): Promise<void> {
    await this.finish(id, ['working', 'input_required'], { status: 'failed', statusMessage: reason, error: { code: -32603, message: reason } });
  }

  /**
   * Saves a run's checkpoint, fenced: refused once the run was given up here, or when the task
   * moved on (cancelled, finished, another run, or this run restarted by another attempt).
   */
  private async checkpoint(record: TaskRecord, value: unknown, signal: AbortSignal): Promise<void> {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes > MAX_CHECKPOINT_BYTES)
      throw new Error(
        `a checkpoint holds at most ${MAX_CHECKPOINT_BYTES} bytes of JSON and this one is ${bytes}; store large state as an artifact and checkpoint its URI`,
      );
    signal.throwIfAborted();
    let ours = false;
    await this.store.transition(record.id, ['working'], (t) => {
      ours = t.run === record.run && t.claimedAttempt === record.claimedAttempt;
      return ours ? { checkpoint: { run: record.run, value } } : undefined;
    });
    if (!ours) throw new Error('the checkpoint was not saved: this run no longer holds the task (cancelled, finished, or restarted elsewhere)');
  }

  private async record(record: TaskRecord, outcome: TaskOutcome): Promise<void> {
    if (outcome.kind === 'input') {
      let ours = false;
      const waiting = await this.store.transition(record.id, ['working'], (t) =>
        (ours = holds(record)(t))
          ? {
              status: 'input_required' as TaskStatus,
              statusMessage: 'Waiting for input from the client',
              // Keys must stay unique for the task's life: the run that asked is part of each.
              checkpoint: undefined,
              inputRequests: Object.fromEntries(Object.entries(outcome.inputRequests).map(([key, value]) => [`${record.run}:${key}`, value])),
              pendingResponses: undefined,
              ...(outcome.requestState !== undefined && { requestState: outcome.requestState }),
            }
          : undefined,
      );
      if (waiting && ours) this.metric(waiting, 'input_required');
      return;
    }
    if (outcome.kind === 'error') {
      await this.finish(record.id, ['working'], { status: 'failed', statusMessage: outcome.error.message, error: outcome.error }, holds(record));
      return;
    }
    // 2025-11-25 reports a tool error as a failed task; the 2026-07-28 extension as a completed one.
    const failedTool = record.wire === '2025' && outcome.result.isError === true;
    await this.finish(
      record.id,
      ['working'],
      { status: failedTool ? 'failed' : 'completed', result: await this.storable(record, outcome.result) },
      holds(record),
    );
  }

  /** A result too large for the record goes to S3 beside it; the record keeps the link. */
  private async storable(record: TaskRecord, result: CallToolResult): Promise<unknown> {
    const json = JSON.stringify(result);
    if (Buffer.byteLength(json) <= this.store.options.inlineResultBytes) return result;
    const link = await this.options.artifacts.put(
      { principalId: record.principalId, scope: record.sessionId ? { kind: 'session', id: record.sessionId } : { kind: 'principal' } },
      'task-result.json',
      json,
      { contentType: 'application/json', ttlSeconds: Math.ceil(record.ttlMs / 1000) },
    );
    return { [RESULT_LINK]: link.uri };
  }

  /**
   * Ends the task (a checkpoint goes with the run: the item keeps room for the result); with
   * `guard`, only a record it accepts: a run's own ending, not another's.
   */
  private async finish(
    id: string,
    from: readonly TaskStatus[],
    patch: Partial<TaskRecord>,
    guard?: (t: TaskRecord) => boolean,
  ): Promise<TaskRecord | undefined> {
    let ended = false;
    const finished = await this.store.transition(id, from, (t) => ((ended = !guard || guard(t)) ? { ...patch, checkpoint: undefined } : undefined));
    if (!ended) return undefined;
    if (finished) this.metric(finished, finished.status);
    return finished;
  }

  /** Status messages, written at most every reportEveryMs; the last one is flushed when the run ends. */
  private reporter(id: string) {
    const every = this.options.reportEveryMs ?? 1000;
    let last = 0;
    let waiting: string | undefined;
    let writing: Promise<unknown> = Promise.resolve();
    const write = (message: string) => {
      last = Date.now();
      waiting = undefined;
      writing = writing.then(() => this.store.transition(id, ['working'], () => ({ statusMessage: message }))).catch(() => {});
    };
    return {
      report: (message: string) => (Date.now() - last >= every ? write(message) : (waiting = message)),
      flush: async () => {
        if (waiting !== undefined) write(waiting);
        await writing;
      },
    };
  }

  /** One CloudWatch embedded-metric line per state change (counted per server, stage, state, and per tool), and a log line. */
  private metric(record: TaskRecord, state: TaskStatus) {
    if (this.options.metrics) taskStateMetric(this.options.server, this.options.stage, record.request.tool, state);
    this.options.log.info('task state', { taskId: record.id, tool: record.request.tool, state });
  }
}
