// Refuses, before anything runs, a tools/call of a task tool the call cannot become: one that runs
// only as a task from a client that takes no tasks, one whose task record would keep more of
// the request than MAX_TASK_REQUEST_BYTES (arguments, _meta, MRTR answers and state: the worker
// replays them), and a container task past its caller's MCP_CONTAINER_TASKS_PER_PRINCIPAL. Here rather than in the tool runner because the SDK turns any error a tool throws
// into an isError result, and this is the caller's mistake in the call itself.
import { MAX_TASK_REQUEST_BYTES } from '../tasks/store.ts';
import type { TaskService } from '../tasks/service.ts';
import { TaskLimitError } from '../tasks/slots.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { CLIENT_CAPABILITIES_META } from '../protocol/wire.ts';
import { HttpProtocolError, INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_CLIENT_CAPABILITY, SERVER_ERROR } from '../protocol/errors.ts';

interface Call {
  id?: string | number | null;
  params?: Record<string, unknown>;
}

/** Whether the call asks to run as a task: the 2025-11-25 `task` param, or the 2026-07-28 extension declared. */
function becomesTask(params: Record<string, unknown>, legacy: boolean): boolean {
  if (legacy) return typeof params.task === 'object' && params.task !== null;
  const capabilities = (params._meta as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META] as
    | { extensions?: Record<string, unknown> }
    | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** Throws -32602 naming the limit when a task-capable tool's call would store too much. */
export function refuseOversizedTask(call: Call, legacy: boolean): void {
  const params = call.params ?? {};
  if (!becomesTask(params, legacy)) return;
  const { arguments: args, _meta, inputResponses, requestState } = params;
  const bytes = Buffer.byteLength(JSON.stringify({ args, _meta, inputResponses, requestState }));
  if (bytes <= MAX_TASK_REQUEST_BYTES) return;
  throw new HttpProtocolError(
    200,
    INVALID_PARAMS,
    `Invalid params: ${String(params.name).slice(0, 100)} runs as a task, which keeps its arguments and _meta (with any inputResponses and requestState): ` +
      `${bytes} bytes here, at most ${MAX_TASK_REQUEST_BYTES} (64 KB) accepted; send large inputs as a resource or artifact and pass its URI`,
    undefined,
    call.id ?? null,
  );
}

/**
 * A call of a tool that runs only as a task, from a client that takes no tasks, is refused as a
 * protocol error (the SDK would turn an error in the tool into an isError result): -32021 with
 * the capability to declare (2026-07-28), -32601 for a 2025-11-25 call without `task`.
 */
export function refuseTaskless(call: Call, legacy: boolean): void {
  const params = call.params ?? {};
  if (legacy) {
    if (params.task !== undefined) return;
    throw new HttpProtocolError(
      200,
      METHOD_NOT_FOUND,
      `${String(params.name)} runs only as a task: call it with the "task" parameter (tasks/result then returns its result)`,
      undefined,
      call.id ?? null,
    );
  }
  if (becomesTask(params, false)) return;
  throw new HttpProtocolError(
    400,
    MISSING_CLIENT_CAPABILITY,
    `Missing required client capability: ${String(params.name)} runs only as a task; declare the ${TASKS_EXTENSION} extension in the request's client capabilities`,
    undefined,
    call.id ?? null,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

/** The Retry-After of the 429 below: container tasks run for minutes, so sooner is rarely worth a call. */
const TASK_LIMIT_RETRY_SECONDS = 30;

/**
 * A call that would queue one more container task than its caller may have unfinished is refused
 * with 429 (Retry-After: 30) and -32000 naming the limit, as the kit's other quotas are, before the tool runs or
 * anything is written. (Calls racing past this check meet the same limit where the task takes its
 * slot, answered as the tool's error.)
 */
export async function refuseOverTaskLimit(call: Call, legacy: boolean, tasks: TaskService, principalId: string): Promise<void> {
  if (!becomesTask(call.params ?? {}, legacy)) return;
  try {
    await tasks.admitContainerTask(principalId);
  } catch (error) {
    if (!(error instanceof TaskLimitError)) throw error;
    throw new HttpProtocolError(429, SERVER_ERROR, error.message, { 'retry-after': String(TASK_LIMIT_RETRY_SECONDS) }, call.id ?? null);
  }
}
