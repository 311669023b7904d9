// Refuses, before anything runs, a tools/call that would become a task whose record keeps more of
// the request than MAX_TASK_REQUEST_BYTES (arguments, _meta, MRTR answers and state: the worker
// replays them). Here rather than in the tool runner because the SDK turns any error a tool throws
// into an isError result, and this is the caller's mistake in the call itself: -32602.
import { MAX_TASK_REQUEST_BYTES } from '../tasks/store.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { CLIENT_CAPABILITIES_META } from '../protocol/wire.ts';
import { HttpProtocolError, INVALID_PARAMS } from '../protocol/errors.ts';

interface Call {
  id?: string | number | null;
  params?: Record<string, unknown>;
}

/** Whether the call asks to run as a task: the 2025-11-25 `task` param, or the 2026-07-28 extension declared. */
function becomesTask(params: Record<string, unknown>, legacy: boolean): boolean {
  if (legacy) return typeof params.task === 'object' && params.task !== null;
  const capabilities = (params._meta as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META] as { extensions?: Record<string, unknown> } | undefined;
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
