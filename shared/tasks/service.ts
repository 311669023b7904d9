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
import type { TaskSlots } from './slots.ts';
import { writeBehind } from './write-behind.ts';
import {
  MAX_CHECKPOINT_BYTES,
  MAX_TASK_REQUEST_BYTES,
  TERMINAL,
  type RunFence,
  type TaskRecord,
  type TaskRequest,
  type TaskStatus,
  type TaskStore,
} from './store.ts';

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
  /** The per-principal limit on unfinished container tasks; absent, none. */
  slots?: TaskSlots;
  /** A container task's run limit (MCP_CONTAINER_TASK_TIMEOUT_SECONDS); 0 or absent: derived from its TTL. */
  containerTimeoutMs?: number;
}

/** Who is asking about a task: only its creator may see it. */
export interface TaskCaller {
  principalId: string;
  /** Whom a new container task's slot is counted for, when not `principalId` (principal.ts `limitKeyOf`). */
  countedAs?: string;
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
const NOT_HELD = 'the checkpoint was not saved: this run no longer holds the task (cancelled, finished, or restarted elsewhere)';
const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);
/** How long before its record expires a container task's run is stopped: a tenth of its TTL, at most 5 minutes. */
const expiryMargin = (ttlMs: number) => Math.min(Math.floor(ttlMs / 10), 300_000);

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
    const { slots } = this.options;
    const { principalId, countedAs } = init.caller;
    const slotKey = countedAs ?? principalId;
    // Past the caller's limit this throws before anything of the task is written.
    if (queued && slots) await slots.take(slotKey, init.id, Date.now() + (init.ttlMs ?? this.store.options.ttlMs));
    const owner = { principalId, ...(queued && countedAs !== undefined && countedAs !== principalId && { countedAs }) };
    const record = await this.store
      .create({ id: init.id, ...owner, sessionId: init.caller.sessionId, wire: init.wire, request, ttlMs: init.ttlMs, ...(queued && { queued }) })
      .catch(async (error: unknown) => {
        if (queued) await slots?.release(slotKey, init.id).catch(() => undefined);
        throw error;
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

  /** Throws TaskLimitError when the caller (its limit key) may start no more container tasks (a check before the call runs; create() takes the slot). */
  async admitContainerTask(countedAs: string): Promise<void> {
    await this.options.slots?.check(countedAs);
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
      await this.options.queue.enqueue(record.id, record.run, record.createdAt + record.ttlMs, record.request.tool);
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
    const state = await this.store.state(id);
    return state?.status === 'working' && state.run === run;
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
   * Fails a queued run that no running container can take: no worker of any running version has
   * its tool, and none has claimed it for `waitedMs`. The error names the tool and says why.
   */
  async failUnserved(id: string, tool: string, waitedMs: number): Promise<void> {
    const minutes = Math.round(waitedMs / 60_000);
    const message =
      `no running container has the tool "${tool}": the run waited ${minutes >= 1 ? `${minutes} minutes` : `${waitedMs} ms`} and no container ` +
      "of a server version that declares it (runtime: 'container') was running to take it; deploy the containers with that version, then call again";
    const failed = await this.finish(id, ['working'], { status: 'failed', statusMessage: `No container runs ${tool}`, error: { code: -32603, message } });
    if (failed) this.options.log.error('task failed: no running container has its tool', { taskId: id, tool, waitedMs });
  }

  /**
   * Runs a claimed run's tool and records what came of it. `abandon` (a lost lease, a worker
   * stopping) aborts the run and records nothing: the run is someone else's to restart (its last
   * checkpoint is still written, fenced by the attempt, for that restart to resume from).
   */
  async execute(record: TaskRecord, abandon?: AbortSignal): Promise<void> {
    const { id } = record;
    const abort = new AbortController();
    const giveUp = () => abort.abort(abandon!.reason);
    if (abandon?.aborted) giveUp();
    else abandon?.addEventListener('abort', giveUp, { once: true });
    this.active.add(abort);
    const watch = this.options.relay.watch(cancelBox(id), () => abort.abort(new Error('the task was cancelled')));
    const writes = this.runWrites(record, abort.signal);
    const span = this.workerSpan(record);
    const limit = this.runLimit(record);
    const recording = () => !this.closed && !abandon?.aborted;
    const resumeFrom = record.checkpoint?.run === record.run ? record.checkpoint.value : undefined;
    try {
      // The tool runner's own timeout is a backstop behind the run limit, which fails the task in words of its own.
      const timeoutMs = limit && limit.ms + 1000;
      const execute = () =>
        this.options.execute({
          record,
          signal: abort.signal,
          report: writes.report,
          ...(timeoutMs && { timeoutMs }),
          resumeFrom,
          checkpoint: writes.checkpoint,
        });
      const running = span ? span.run(execute) : execute();
      const outcome = limit ? await within(running, limit, abort) : await running;
      span?.end(outcome.kind === 'error' ? 'tool error' : undefined);
      // A run given up keeps its checkpoint but not its waiting progress: the PROGRESS item belongs to the attempt now running it.
      await writes.flush(recording());
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
      // A run given up here still leaves its last checkpoint (fenced by the attempt); its progress
      // would only overwrite that of the attempt now running it.
      await writes.flush(recording());
      abandon?.removeEventListener('abort', giveUp);
      watch.stop();
      this.active.delete(abort);
    }
  }

  /**
   * How long a queued task's run may go: MCP_CONTAINER_TASK_TIMEOUT_SECONDS when set, and never
   * past its TTL less expiryMargin, so that its failure is recorded and read before the record
   * expires. Undefined for other tasks (the configured task timeout bounds them).
   */
  private runLimit(record: TaskRecord): { ms: number; message: string } | undefined {
    if (!record.queued) return undefined;
    const margin = expiryMargin(record.ttlMs);
    const beforeExpiry = record.createdAt + record.ttlMs - margin - Date.now();
    const configured = this.options.containerTimeoutMs || Number.POSITIVE_INFINITY;
    if (configured <= beforeExpiry)
      return { ms: configured, message: `the task's run did not finish within ${duration(configured)} (MCP_CONTAINER_TASK_TIMEOUT_SECONDS) and was stopped` };
    return {
      ms: Math.max(1, beforeExpiry),
      message:
        `the task's run was stopped ${duration(margin)} before the task expires (its TTL is ${duration(record.ttlMs)}), unfinished; ` +
        'give it a longer TTL (MCP_TASK_TTL_SECONDS, or the 2025 task.ttl up to MCP_TASK_MAX_TTL_SECONDS)',
    };
  }

  /**
   * A run's progress messages (to the task's small PROGRESS item) and checkpoints (one fenced
   * UpdateItem of the record), each written at most every reportEveryMs (write-behind.ts): the
   * last of each is written when the run ends or stops.
   * A checkpoint that finds the run no longer holds the task is refused, at once or at the next call.
   */
  private runWrites(record: TaskRecord, signal: AbortSignal) {
    const fence: RunFence = {
      id: record.id,
      run: record.run,
      expiresAtMs: record.createdAt + record.ttlMs,
      ...(record.claimedAttempt !== undefined && { attempt: record.claimedAttempt }),
    };
    const every = this.options.reportEveryMs ?? 1000;
    const progress = writeBehind((message: string) => this.store.reportProgress(fence, message), every);
    const checkpoints = writeBehind(async (value: unknown) => {
      if (!(await this.store.saveCheckpoint(fence, value))) throw new Error(NOT_HELD);
    }, every);
    return {
      report: (message: string) => void progress.offer(message).catch(() => {}),
      checkpoint: async (value: unknown) => {
        const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
        if (bytes > MAX_CHECKPOINT_BYTES)
          throw new Error(
            `a checkpoint holds at most ${MAX_CHECKPOINT_BYTES} bytes of JSON and this one is ${bytes}; store large state as an artifact and checkpoint its URI`,
          );
        signal.throwIfAborted();
        const refused = checkpoints.takeFailure();
        if (refused) throw refused;
        await checkpoints.offer(value);
      },
      flush: (progressToo = true) => Promise.all([progressToo ? progress.flush() : progress.drop(), checkpoints.flush()]),
    };
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
    if (finished?.queued && TERMINAL.includes(finished.status))
      await this.options.slots
        ?.release(finished.countedAs ?? finished.principalId, id)
        .catch((error: unknown) =>
          this.options.log.warn('task: its container task slot was not freed; it frees itself when the task expires', { taskId: id, error: String(error) }),
        );
    return finished;
  }

  /** One CloudWatch embedded-metric line per state change (counted per server, stage, state, and per tool), and a log line. */
  private metric(record: TaskRecord, state: TaskStatus) {
    if (this.options.metrics) taskStateMetric(this.options.server, this.options.stage, record.request.tool, state);
    this.options.log.info('task state', { taskId: record.id, tool: record.request.tool, state });
  }
}

/** The run's outcome, or the run limit's failure once it passes (the run's signal then aborts). */
function within(running: Promise<TaskOutcome>, limit: { ms: number; message: string }, abort: AbortController): Promise<TaskOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<TaskOutcome>((resolve) => {
    timer = setTimeout(() => {
      resolve({ kind: 'error', error: { code: -32603, message: limit.message } });
      abort.abort(new Error(limit.message));
    }, limit.ms);
  });
  return Promise.race([running, expired]).finally(() => clearTimeout(timer));
}
