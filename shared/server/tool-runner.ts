// Runs a tool's handler with the kit around it: its context, the cache for cacheable tools, a
// timeout, offload of results too large for a response. For tools that may run as tasks it also
// decides, per request, whether this call becomes a task: when the client takes tasks (the
// 2026-07-28 extension, or a 2025-11-25 task-augmented call) the handler runs until it calls
// `ctx.task.start()`; then the kit writes the task, hands it to a worker and answers with it.
// Before that point a handler may still answer directly (an MRTR question, say); the worker runs
// the handler again from the top, with the same arguments and answers, and `start()` returns there.
import type { CallToolResult, InputRequiredResult, ServerContext } from '@modelcontextprotocol/server';
import type { ToolCache } from '../cache/tool-cache.ts';
import { callerMessage, failureFields, isDependencyError } from '../dependency.ts';
import type { ToolOutcome } from '../metrics.ts';
import type { PendingWork } from '../pending-work.ts';
import { limitKeyOf } from '../principal.ts';
import { sdk } from '../sdk.ts';
import { newTaskId, type TaskRequest } from '../tasks/store.ts';
import type { TaskService } from '../tasks/service.ts';
import { TASKS_EXTENSION, carryTaskAnswer, createTaskResult, isTaskAnswer } from '../tasks/wire.ts';
import { createToolContext, type ExpiringToolContext, type KitServices } from './context.ts';
import { requestScopeOf, type RequestScope } from '../request-scope.ts';
import { taskModeOf, taskRuntimeOf, type ToolDefinition, type ToolReturn } from './define.ts';
import { withWireSchemas } from './input-required.ts';
import { offloadLargeResult } from './offload.ts';
import { traced } from '../trace.ts';

export interface ToolRunnerOptions {
  cache: ToolCache;
  pending: PendingWork;
  offloadBytes: number;
  /** A call still running after this ends with an error result. */
  toolTimeoutMs: number;
  /** A task's run still going after this ends as a failed task. */
  taskTimeoutMs: number;
  /** Absent when no tool of the server runs as a task. */
  tasks?: TaskService;
}

/** Thrown by `ctx.task.start()` in the request that creates a task: the rest runs in the worker. */
export class TaskStarted extends Error {
  override name = 'TaskStarted';
  constructor() {
    super('this call continues as a task; the worker runs it');
  }
}

const toCallToolResult = (value: ToolReturn) => (typeof value === 'string' ? { content: [{ type: 'text' as const, text: value }] } : value);

type Answer = CallToolResult | InputRequiredResult;

/** Runs one tool call with the kit around it (see toolRunner). */
export type ToolRun = (args: unknown, ctx: ServerContext) => Promise<Answer>;

/** An MRTR `inputRequired(...)` answer (the SDK's own test, without loading the SDK). */
export const isInputRequired = (value: unknown): value is InputRequiredResult =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { resultType?: unknown }).resultType === 'input_required';

/**
 * The handler under the kit's timeout. A hung handler must not hold the response open until
 * Lambda's own timeout kills it; a synchronous one cannot be interrupted, so it gets no timer.
 */
async function timed(t: ToolDefinition, args: unknown, kit: ExpiringToolContext, timeoutMs: number, pending: PendingWork): Promise<Answer> {
  const returned = t.handler(args as never, kit);
  if (!(returned instanceof Promise)) return toCallToolResult(returned);
  // A cancelled or timed-out handler may still be cleaning up when its response has ended.
  pending.track(returned);
  const message = `${t.name} did not finish within ${timeoutMs} ms and was stopped; try a smaller request`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<CallToolResult>((resolve) => {
    timer = setTimeout(() => {
      // Settle first: a handler that stops on the abort must not win the race with its late result.
      resolve({ isError: true, content: [{ type: 'text', text: message }] });
      kit.expire(new Error(message));
      kit.log.warn('tool timed out', { timeoutMs });
    }, timeoutMs);
  });
  try {
    return toCallToolResult(await Promise.race([returned, deadline]));
  } finally {
    clearTimeout(timer);
  }
}

/** Which task form this call takes, if any; throws when the tool needs a task the client cannot take. */
async function taskForm(t: ToolDefinition, scope: RequestScope): Promise<'2026' | '2025' | undefined> {
  const params = scope.request?.params;
  const form =
    scope.era === 'modern'
      ? (scope.clientCapabilities?.extensions as Record<string, unknown> | undefined)?.[TASKS_EXTENSION] !== undefined
        ? '2026'
        : undefined
      : params?.task !== undefined && typeof params.task === 'object'
        ? '2025'
        : undefined;
  if (form || taskModeOf(t) !== 'required') return form;
  const { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode } = await sdk();
  if (scope.era === 'modern') throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  throw new ProtocolError(
    ProtocolErrorCode.MethodNotFound,
    `${t.name} runs only as a task: call it with the "task" parameter (tasks/result then returns its result)`,
  );
}

/** What the worker needs to run the call again: arguments, this round's answers and state, the client. */
function snapshot(t: ToolDefinition, args: unknown, scope: RequestScope, ctx: ServerContext): TaskRequest {
  const params = scope.request?.params ?? {};
  const { progressToken: _token, ...meta } = (params._meta ?? {}) as Record<string, unknown>;
  return {
    tool: t.name,
    arguments: (args ?? {}) as Record<string, unknown>,
    scopes: [...scope.principal.scopes],
    ...(ctx.mcpReq.inputResponses && { inputResponses: ctx.mcpReq.inputResponses }),
    ...(typeof params.requestState === 'string' && { requestState: params.requestState }),
    ...(scope.clientCapabilities && { clientCapabilities: scope.clientCapabilities as Record<string, unknown> }),
    meta,
  };
}

/** The call in the request that may create a task: the handler's own answer, or the new task. */
async function beginTask(t: ToolDefinition, args: unknown, kit: ExpiringToolContext, ctx: ServerContext, form: '2026' | '2025', options: ToolRunnerOptions) {
  const scope = requestScopeOf(ctx);
  let start!: () => void;
  const started = new Promise<'started'>((resolve) => (start = () => resolve('started')));
  kit.beginTask(() => {
    start();
    kit.expire(new TaskStarted());
    return Promise.reject(new TaskStarted());
  });
  const answered = timed(t, args, kit, options.toolTimeoutMs, options.pending);
  const first = await Promise.race([answered, started]);
  if (first !== 'started') return first;
  answered.catch(() => {});
  const ttl = form === '2025' ? Number((scope.request?.params?.task as { ttl?: unknown } | undefined)?.ttl) : undefined;
  const record = await options.tasks!.create({
    id: newTaskId(),
    caller: { principalId: scope.principal.id, countedAs: limitKeyOf(scope.principal), ...(scope.sessionId && { sessionId: scope.sessionId }) },
    wire: form,
    request: snapshot(t, args, scope, ctx),
    container: taskRuntimeOf(t) === 'container',
    ...(ttl !== undefined && Number.isInteger(ttl) && ttl > 0 && { ttlMs: Math.min(ttl, options.tasks!.maxTtlMs) }),
  });
  return (form === '2026' ? createTaskResult(record) : carryTaskAnswer(record)) as unknown as CallToolResult;
}

export function toolRunner(t: ToolDefinition, services: KitServices, options: ToolRunnerOptions): ToolRun {
  const { cache, pending } = options;
  const policy = t.cache;
  return async (args, ctx) => {
    const kit = createToolContext(services, ctx, t.name);
    const scope = requestScopeOf(ctx);
    const hits = { cached: false };
    const answer = await traced(`tool ${t.name}`, 'internal', { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': t.name }, () =>
      run(args, ctx, kit, scope, hits),
    ).catch((err: unknown) => dependencyFailure(err, services, t.name, scope));
    scope.report?.(hits.cached ? 'cached' : outcomeOf(answer));
    return answer;
  };

  async function run(args: unknown, ctx: ServerContext, kit: ExpiringToolContext, scope: RequestScope, hits: { cached: boolean }): Promise<Answer> {
    // The request phase of a tool that may run as a task (the worker's scope carries its task).
    if (t.task && !scope.task && options.tasks) {
      const form = await taskForm(t, scope);
      if (form) {
        const answer = await beginTask(t, args, kit, ctx, form, options);
        if (isInputRequired(answer)) return withWireSchemas(answer);
        return isTaskAnswer(answer) ? answer : offloadLargeResult(answer, t.name, options.offloadBytes, kit, services.log);
      }
    }
    const key = policy && !scope.task && cache.key(t.name, args, policy, kit.principal.id);
    if (key) {
      const hit = await cache.get(key);
      if (hit) {
        hits.cached = true;
        return hit;
      }
    }
    const returned = await timed(t, args, kit, scope.task ? (scope.task.timeoutMs ?? options.taskTimeoutMs) : options.toolTimeoutMs, pending);
    if (isInputRequired(returned)) return withWireSchemas(returned);
    const result = await offloadLargeResult(returned, t.name, options.offloadBytes, kit, services.log);
    if (key && !result.isError) cache.setInBackground(key, result, policy.ttlSeconds, pending);
    return result;
  }
}

/** A store's failure in a tool is the tool's error result, without the store's words (dependency.ts). */
function dependencyFailure(err: unknown, services: KitServices, tool: string, scope: RequestScope): CallToolResult {
  if (!isDependencyError(err)) throw err;
  // The server's log, not the tool's: that one may be forwarded to the client.
  services.log.warn('tool failed: a dependency did not answer as it should', { ...failureFields(err, scope.requestId), tool });
  return { isError: true, content: [{ type: 'text', text: callerMessage(err, scope.requestId) }] };
}

/** How a call that ran ended, for its metrics. */
function outcomeOf(answer: Answer): ToolOutcome {
  if (isInputRequired(answer)) return 'input';
  if (isTaskAnswer(answer) || (answer as { resultType?: unknown }).resultType === 'task') return 'task';
  return answer.isError ? 'error' : 'result';
}
