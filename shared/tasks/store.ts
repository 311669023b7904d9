// Durable task records (`TASK#<id>` / `META`), bound to the principal (and 2025 session) that
// created them, with the request that started them, so any instance (the worker invocation
// among them) can run, answer and report them. A running run's progress message goes to a small
// item of its own beside the record (`TASK#<id>` / `PROGRESS`), so a progress write is billed one
// write unit, not the whole record's size; one Query reads both. Every status change is a conditional write: a
// task moves working → input_required → working → completed | failed | cancelled, and a terminal
// state never changes. Expired tasks read as absent. A per-caller index answers 2025 `tasks/list`.
import { nowSeconds, type Item, type Table } from '../store/table.ts';

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * The most of a request a task record keeps (its TaskRequest as JSON): a DynamoDB item holds
 * 400 KB, and every read of the task carries it. Larger calls are refused before they run.
 */
export const MAX_TASK_REQUEST_BYTES = 64 * 1024;

/** The most a run's checkpoint may hold (JSON): it shares the item with the request, and goes when the run ends. */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

/** The tools/call that started a task, replayed by the worker. */
export interface TaskRequest {
  tool: string;
  arguments: Record<string, unknown>;
  /** The caller's scopes when it created the task. */
  scopes: string[];
  /** MRTR answers and state of the round that created the task (and of later rounds, merged). */
  inputResponses?: Record<string, unknown>;
  requestState?: string;
  /** The client's declared capabilities, for the handler's context. */
  clientCapabilities?: Record<string, unknown>;
  /** The request's `_meta` a handler may read (progress token excluded: progress goes to the record). */
  meta?: Record<string, unknown>;
  /** The span that created the task (W3C traceparent): a worker's span is its child. */
  traceparent?: string;
}

export interface TaskRecord {
  id: string;
  principalId: string;
  /** Whom its container task slot is counted for, when not `principalId`: an anonymous caller's address (principal.ts). */
  countedAs?: string;
  sessionId?: string;
  /** Which wire form created it: results are reported by its rules (2025: isError means failed). */
  wire: '2026' | '2025';
  request: TaskRequest;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: number;
  lastUpdatedAt: number;
  ttlMs: number;
  pollIntervalMs: number;
  /** Runs on a container worker, taken from the queue under a lease (queue.ts), not dispatched. */
  queued?: boolean;
  /** Bumped each time the task goes (back) to work; a worker claims one run. */
  run: number;
  claimedRun?: number;
  /** The attempt at a queued run that holds it (queue.ts); a checkpoint from another is refused. */
  claimedAttempt?: number;
  /** What the run's handler last saved with `ctx.task.checkpoint()`, for a restarted attempt of that run. */
  checkpoint?: { run: number; value: unknown };
  /** Outstanding input requests while `input_required`, keys unique for the task's life. */
  inputRequests?: Record<string, unknown>;
  /** Answers received for the outstanding requests, not yet enough to resume. */
  pendingResponses?: Record<string, unknown>;
  /** The MRTR state the handler returned with its input requests. */
  requestState?: string;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  version: number;
}

const pk = (id: string) => `TASK#${id}`;
const SK = 'META';
const PROGRESS = 'PROGRESS';
const indexPk = (principalId: string, sessionId?: string) => `TASKS#${principalId}#${sessionId ?? '-'}`;
const TASK_ID = /^[A-Za-z0-9_-]{22,64}$/;

const json = (value: unknown): Item[string] => ({ S: JSON.stringify(value) });
const parse = <T>(item: Item[string] | undefined): T | undefined => (item?.S === undefined ? undefined : (JSON.parse(item.S) as T));

function toItem(t: TaskRecord): Item {
  return {
    pk: { S: pk(t.id) },
    sk: { S: SK },
    principalId: { S: t.principalId },
    ...(t.countedAs && { countedAs: { S: t.countedAs } }),
    ...(t.sessionId && { sessionId: { S: t.sessionId } }),
    wire: { S: t.wire },
    request: json(t.request),
    status: { S: t.status },
    ...(t.statusMessage !== undefined && { statusMessage: { S: t.statusMessage } }),
    createdAt: { N: String(t.createdAt) },
    lastUpdatedAt: { N: String(t.lastUpdatedAt) },
    ttlMs: { N: String(t.ttlMs) },
    pollIntervalMs: { N: String(t.pollIntervalMs) },
    run: { N: String(t.run) },
    ...(t.queued && { queued: { BOOL: true } }),
    version: { N: String(t.version) },
    expiresAt: { N: String(Math.ceil((t.createdAt + t.ttlMs) / 1000)) },
  };
}

function fromItem(item: Item): TaskRecord {
  const n = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]!.N));
  return {
    id: item.pk!.S!.slice(5),
    principalId: item.principalId!.S!,
    ...(item.countedAs?.S && { countedAs: item.countedAs.S }),
    ...(item.sessionId?.S && { sessionId: item.sessionId.S }),
    wire: item.wire!.S as TaskRecord['wire'],
    request: parse<TaskRequest>(item.request)!,
    status: item.status!.S as TaskStatus,
    ...(item.statusMessage?.S !== undefined && { statusMessage: item.statusMessage.S }),
    createdAt: n('createdAt')!,
    lastUpdatedAt: n('lastUpdatedAt')!,
    ttlMs: n('ttlMs')!,
    pollIntervalMs: n('pollIntervalMs')!,
    run: n('run')!,
    ...(item.queued?.BOOL && { queued: true }),
    ...(n('claimedRun') !== undefined && { claimedRun: n('claimedRun') }),
    ...(n('claimedAttempt') !== undefined && { claimedAttempt: n('claimedAttempt') }),
    ...(item.checkpoint && { checkpoint: parse(item.checkpoint) }),
    ...(item.inputRequests && { inputRequests: parse(item.inputRequests) }),
    ...(item.pendingResponses && { pendingResponses: parse(item.pendingResponses) }),
    ...(item.requestState?.S !== undefined && { requestState: item.requestState.S }),
    ...(item.result && { result: parse(item.result) }),
    ...(item.error && { error: parse(item.error) }),
    version: n('version')!,
  };
}

/**
 * The record with its run's latest progress message laid over it: only while it works on the run
 * (and attempt) that wrote it, so a message from a run that was restarted, moved on or ended shows
 * nowhere. The progress keeps the task fresh for the stale check, as a write to the record would.
 */
function withProgress(record: TaskRecord, progress: Item | undefined): TaskRecord {
  if (!progress?.statusMessage?.S || record.status !== 'working') return record;
  const attempt = progress.attempt?.N === undefined ? undefined : Number(progress.attempt.N);
  if (Number(progress.run?.N) !== record.run || attempt !== record.claimedAttempt) return record;
  return { ...record, statusMessage: progress.statusMessage.S, lastUpdatedAt: Math.max(record.lastUpdatedAt, Number(progress.at?.N ?? 0)) };
}

/** Which run (and attempt) writes, and when its task's items expire. */
export interface RunFence {
  id: string;
  run: number;
  attempt?: number;
  expiresAtMs: number;
}

/** 22 characters of base64url: 128 random bits, unguessable. */
export const newTaskId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');

export interface TaskStoreOptions {
  ttlMs: number;
  pollIntervalMs: number;
  /** Results larger than this (JSON bytes) are kept in S3 by the caller (see TaskRecord.result). */
  inlineResultBytes: number;
}

export class TaskStore {
  constructor(
    private readonly table: Table,
    readonly options: TaskStoreOptions,
  ) {}

  /** Writes a new task, working, run 1; the id must be new (a reused id fails the condition). */
  async create(
    init: Pick<TaskRecord, 'id' | 'principalId' | 'countedAs' | 'sessionId' | 'wire' | 'request' | 'queued'> & { ttlMs?: number },
  ): Promise<TaskRecord> {
    const now = Date.now();
    const record: TaskRecord = {
      ...init,
      status: 'working',
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: init.ttlMs ?? this.options.ttlMs,
      pollIntervalMs: this.options.pollIntervalMs,
      run: 1,
      version: 1,
    };
    if (!(await this.table.put(toItem(record), 'attribute_not_exists(pk)'))) throw new Error(`task id ${init.id} is already in use`);
    await this.table.put({
      pk: { S: indexPk(record.principalId, record.sessionId) },
      sk: { S: `${String(now).padStart(15, '0')}#${record.id}` },
      taskId: { S: record.id },
      expiresAt: { N: String(Math.ceil((now + record.ttlMs) / 1000)) },
    });
    return record;
  }

  /** The task, when it exists, has not expired, and belongs to this caller; else undefined. */
  async get(id: string, principalId: string, sessionId?: string): Promise<TaskRecord | undefined> {
    const record = await this.load(id);
    if (!record) return undefined;
    if (record.principalId !== principalId || (record.sessionId !== undefined && record.sessionId !== sessionId)) return undefined;
    return record;
  }

  /** The task for the worker, whoever owns it. */
  async load(id: string): Promise<TaskRecord | undefined> {
    if (!TASK_ID.test(id)) return undefined;
    const items = await this.table.query(pk(id));
    const meta = items.find((item) => item.sk?.S === SK);
    return (
      meta &&
      withProgress(
        fromItem(meta),
        items.find((item) => item.sk?.S === PROGRESS),
      )
    );
  }

  /** The caller's live tasks, newest first. */
  async list(principalId: string, sessionId?: string): Promise<TaskRecord[]> {
    const index = await this.table.query(indexPk(principalId, sessionId));
    const tasks = await Promise.all(index.reverse().map((i) => this.get(i.taskId!.S!, principalId, sessionId)));
    return tasks.filter((t): t is TaskRecord => t !== undefined);
  }

  /**
   * Applies `change` to the current record and writes it back, conditional on nothing having
   * changed in between (version) and on the status being one of `from`. Retried on a race;
   * resolves with the new record, or undefined when the status no longer allows the change.
   */
  async transition(id: string, from: readonly TaskStatus[], change: (t: TaskRecord) => Partial<TaskRecord> | undefined): Promise<TaskRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.load(id);
      if (!current || !from.includes(current.status)) return undefined;
      const patch = change(current);
      if (!patch) return current;
      const next: TaskRecord = { ...current, ...patch, lastUpdatedAt: Date.now(), version: current.version + 1 };
      const item = toItem(next);
      for (const [field, value] of [
        ['claimedRun', next.claimedRun === undefined ? undefined : { N: String(next.claimedRun) }],
        ['claimedAttempt', next.claimedAttempt === undefined ? undefined : { N: String(next.claimedAttempt) }],
        ['checkpoint', next.checkpoint && json(next.checkpoint)],
        ['inputRequests', next.inputRequests && json(next.inputRequests)],
        ['pendingResponses', next.pendingResponses && json(next.pendingResponses)],
        ['requestState', next.requestState === undefined ? undefined : { S: next.requestState }],
        ['result', next.result === undefined ? undefined : json(next.result)],
        ['error', next.error && json(next.error)],
      ] as const) {
        if (value) item[field] = value;
      }
      const written = await this.table.put(
        item,
        'version = :v AND #s = :s',
        { ':v': { N: String(current.version) }, ':s': { S: current.status } },
        { '#s': 'status' },
      );
      if (written) return next;
    }
    throw new Error(`task ${id} is changing too fast to update`);
  }

  /**
   * Saves a running run's checkpoint with one UpdateItem of that field (no read first), fenced like
   * a transition: only while the task is working on that run and, for a queued task, that attempt.
   * False when the run no longer holds the task. The version moves on, so a transition that read
   * the record before this write reads it again.
   */
  async saveCheckpoint(run: RunFence, value: unknown): Promise<boolean> {
    return this.table.update(
      pk(run.id),
      SK,
      'SET lastUpdatedAt = :now, checkpoint = :checkpoint ADD version :one',
      `#s = :working AND run = :run AND ${run.attempt === undefined ? 'attribute_not_exists(claimedAttempt)' : 'claimedAttempt = :attempt'}`,
      {
        ':now': { N: String(Date.now()) },
        ':one': { N: '1' },
        ':working': { S: 'working' },
        ':run': { N: String(run.run) },
        ...(run.attempt !== undefined && { ':attempt': { N: String(run.attempt) } }),
        ':checkpoint': json({ run: run.run, value }),
      },
      { '#s': 'status' },
    );
  }

  /** Writes a running run's progress message to the task's PROGRESS item (readers see it only while that run holds the task). */
  async reportProgress(run: RunFence, message: string): Promise<void> {
    await this.table.put({
      pk: { S: pk(run.id) },
      sk: { S: PROGRESS },
      statusMessage: { S: message },
      run: { N: String(run.run) },
      ...(run.attempt !== undefined && { attempt: { N: String(run.attempt) } }),
      at: { N: String(Date.now()) },
      expiresAt: { N: String(Math.ceil(run.expiresAtMs / 1000)) },
    });
  }

  /** The task's status and run alone (a worker's check that its run is still wanted). */
  async state(id: string): Promise<Pick<TaskRecord, 'status' | 'run'> | undefined> {
    const item = TASK_ID.test(id) ? await this.table.get(pk(id), SK, true, ['status', 'run']) : undefined;
    return item && { status: item.status!.S as TaskStatus, run: Number(item.run!.N) };
  }

  /** Item lifetime left, for records written by others (the index). */
  static expired(record: TaskRecord): boolean {
    return record.createdAt + record.ttlMs <= nowSeconds() * 1000;
  }
}
