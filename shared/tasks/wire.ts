// How a task record reads on the wire, in each form: the 2026-07-28 tasks extension (SEP-2663,
// flat `CreateTaskResult`, `ttlMs`/`pollIntervalMs`, results inline in `tasks/get`) and the
// 2025-11-25 experimental tasks utility (`{ task }`, `ttl`/`pollInterval`, results through
// `tasks/result`). Pure functions of the record.
import type { TaskRecord } from './store.ts';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
export const RELATED_TASK_META = 'io.modelcontextprotocol/related-task';

const iso = (ms: number) => new Date(ms).toISOString();

/** The fields every task carries (2026 names). */
function base(t: TaskRecord) {
  return {
    taskId: t.id,
    status: t.status,
    ...(t.statusMessage !== undefined && { statusMessage: t.statusMessage }),
    createdAt: iso(t.createdAt),
    lastUpdatedAt: iso(t.lastUpdatedAt),
    ttlMs: t.ttlMs,
    pollIntervalMs: t.pollIntervalMs,
  };
}

/** The answer to the `tools/call` that created a task (2026: flat, `resultType: "task"`). */
export function createTaskResult(t: TaskRecord) {
  return { resultType: 'task' as const, ...base(t) };
}

/** Input requests still waiting for an answer (a partial `tasks/update` answers some). */
function outstanding(t: TaskRecord) {
  return Object.fromEntries(Object.entries(t.inputRequests ?? {}).filter(([key]) => !(key in (t.pendingResponses ?? {}))));
}

/** `tasks/get` (2026): the task with what its status carries: input requests, the result, or the error. */
export function detailedTask(t: TaskRecord) {
  return {
    ...base(t),
    ...(t.status === 'input_required' && t.inputRequests && { inputRequests: outstanding(t) }),
    ...(t.status === 'completed' && { result: t.result }),
    ...(t.status === 'failed' && { error: t.error ?? { code: -32603, message: t.statusMessage ?? 'the task failed' } }),
  };
}

/** A task in the 2025-11-25 form: `ttl` and `pollInterval`, status only. */
export function task2025(t: TaskRecord) {
  return {
    taskId: t.id,
    status: t.status,
    ...(t.statusMessage !== undefined && { statusMessage: t.statusMessage }),
    createdAt: iso(t.createdAt),
    lastUpdatedAt: iso(t.lastUpdatedAt),
    ttl: t.ttlMs,
    pollInterval: t.pollIntervalMs,
  };
}

/** The answer to a 2025-11-25 task-augmented `tools/call`. */
export function createTaskResult2025(t: TaskRecord) {
  return { task: task2025(t) };
}

/**
 * The SDK checks a 2025 `tools/call` result against CallToolResult, which a `{ task }` answer is
 * not; so the tool answers a CallToolResult carrying the task under this key, and the legacy
 * exchange puts the `{ task }` answer in its place on the way out (unwrapTaskAnswer).
 */
const CARRIED_TASK = 'io.modelcontextprotocol.kit/task';

export function carryTaskAnswer(t: TaskRecord) {
  return { content: [], _meta: { [CARRIED_TASK]: createTaskResult2025(t) } };
}

/** A JSON-RPC response whose result carries a 2025 task answer, with that answer as its result. */
export function unwrapTaskAnswer<M extends { result?: unknown }>(message: M): M {
  const carried = (message.result as { _meta?: Record<string, unknown> } | undefined)?._meta?.[CARRIED_TASK];
  return carried === undefined ? message : { ...message, result: carried };
}

/** Whether a tool's answer is a new task (either form). */
export function isTaskAnswer(answer: object): boolean {
  return (answer as { resultType?: string }).resultType === 'task' || (answer as { _meta?: Record<string, unknown> })._meta?.[CARRIED_TASK] !== undefined;
}
