// The task methods on a server instance, in both wire forms, answered from the same records:
// - 2026-07-28 (tasks extension): `tasks/get` (results inline), `tasks/update` (answers to a task
//   waiting for input), `tasks/cancel` (an empty ack, also for a finished task); -32021 for a
//   client that did not declare the extension, checked before anything else; `tasks/result` and
//   `tasks/list` do not exist there (-32601).
// - 2025-11-25 sessions (experimental tasks utility): `tasks/get`, `tasks/result` (blocks until the
//   task finishes), `tasks/list`, `tasks/cancel` (the cancelled task; -32602 naming its status for
//   a finished one, also one that finished while the cancel was on its way).
// Another caller's task answers exactly like an unknown one.
import { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';
import { requestScopeOf, type RequestScope } from '../request-scope.ts';
import { TaskRequestTooLargeError, type TaskCaller, type TaskService } from './service.ts';
import { TERMINAL, type TaskRecord } from './store.ts';
import { RELATED_TASK_META, TASKS_EXTENSION, detailedTask, task2025 } from './wire.ts';

const byId = z.object({ taskId: z.string() }).passthrough();
const listing = z.object({ cursor: z.string().optional() }).passthrough();
/** Revisions whose sessions get the 2025-11-25 methods. */
const TASK_SESSIONS = new Set(['2025-11-25']);

const callerOf = (scope: RequestScope): TaskCaller => ({
  principalId: scope.principal.id,
  ...(scope.sessionId && { sessionId: scope.sessionId }),
  requestId: scope.requestId,
});
const unknown = (id: string) =>
  new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown task "${id.slice(0, 100)}": it does not exist, expired, or is not yours`);

/** The era and caller of a task request, refusing a client or session that has no tasks. */
function gate(ctx: ServerContext, method: string): { modern: boolean; caller: TaskCaller } {
  const scope = requestScopeOf(ctx);
  if (scope.era === 'modern') {
    const declared = (scope.clientCapabilities?.extensions as Record<string, unknown> | undefined)?.[TASKS_EXTENSION];
    if (declared === undefined) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    if (method === 'tasks/result' || method === 'tasks/list')
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Method not found: ${method} is not part of the tasks extension; tasks/get returns the result`);
  } else if (!TASK_SESSIONS.has(scope.revision ?? '')) {
    throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Method not found: ${method} is part of protocol 2025-11-25, not of this session's`);
  }
  return { modern: scope.era === 'modern', caller: callerOf(scope) };
}

const alreadyFinished = (t: TaskRecord) =>
  new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${t.id} already finished (${t.status}); there is nothing to cancel`);

/** What 2025 `tasks/result` answers: the call's own result, tied to its task, or its error. */
function result2025(t: TaskRecord) {
  if (t.status === 'cancelled') throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Task ${t.id} was cancelled; it has no result`);
  if (!t.result) throw new ProtocolError(t.error?.code ?? ProtocolErrorCode.InternalError, t.error?.message ?? `Task ${t.id} failed`);
  const result = t.result as { _meta?: Record<string, unknown> };
  return { ...result, _meta: { ...result._meta, [RELATED_TASK_META]: { taskId: t.id } } };
}

export function registerTaskMethods(server: McpServer, tasks: TaskService): void {
  const handle = server.server.setRequestHandler.bind(server.server) as unknown as (
    method: string,
    schemas: { params: z.ZodType },
    handler: (params: Record<string, unknown>, ctx: ServerContext) => Promise<object>,
  ) => void;

  handle('tasks/get', { params: byId }, async ({ taskId }, ctx) => {
    const { modern, caller } = gate(ctx, 'tasks/get');
    const task = await tasks.get(String(taskId), caller);
    if (!task) throw unknown(String(taskId));
    return modern ? detailedTask(task) : task2025(task);
  });

  handle('tasks/update', { params: byId }, async ({ taskId }, ctx) => {
    const { caller } = gate(ctx, 'tasks/update');
    // Answers not outstanding are ignored, as the extension asks; the ack says nothing either way.
    const task = await tasks.update(String(taskId), caller, ctx.mcpReq.inputResponses ?? {}).catch((err: unknown) => {
      throw err instanceof TaskRequestTooLargeError ? new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params: ${err.message}`) : err;
    });
    if (!task) throw unknown(String(taskId));
    return {};
  });

  handle('tasks/cancel', { params: byId }, async ({ taskId }, ctx) => {
    const { modern, caller } = gate(ctx, 'tasks/cancel');
    const before = await tasks.get(String(taskId), caller);
    if (!before) throw unknown(String(taskId));
    if (!modern && TERMINAL.includes(before.status)) throw alreadyFinished(before);
    const task = (await tasks.cancel(before.id, caller)) ?? before;
    if (modern) return {};
    // Finished while the cancel was on its way: the same answer as for a task found finished.
    if (task.status !== 'cancelled') throw alreadyFinished(task);
    return task2025(task);
  });

  handle('tasks/result', { params: byId }, async ({ taskId }, ctx) => {
    const { caller } = gate(ctx, 'tasks/result');
    const task = await tasks.settled(String(taskId), caller, ctx.mcpReq.signal);
    if (!task) throw unknown(String(taskId));
    return result2025(task);
  });

  handle('tasks/list', { params: listing }, async (_params, ctx) => {
    const { caller } = gate(ctx, 'tasks/list');
    return { tasks: (await tasks.list(caller)).map(task2025) };
  });
}
