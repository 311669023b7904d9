// The server definition a user writes: name, version, tools, resources and prompts with zod
// schemas. Pure data plus handlers; `build.ts` turns it into SDK server instances.
import type { CacheHint, ResourceMetadata, ToolAnnotations } from '@modelcontextprotocol/server';
import type { McpServer, ServerContext, ServerNotifier } from '@modelcontextprotocol/server';
import type * as z from 'zod/v4';
import type { CachePolicy } from '../cache/tool-cache.ts';
import type { PendingWork } from '../pending-work.ts';
import type { ToolContext } from './context.ts';
import type { PromptReturn, ReadReturn, ToolReturn } from './returns.ts';

export type { PromptReturn, ReadReturn, ToolReturn };

export interface ToolDefinition<In extends z.ZodObject = z.ZodObject, Out extends z.ZodObject = z.ZodObject> {
  readonly kind: 'tool';
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  readonly input?: In;
  readonly output?: Out;
  readonly annotations?: ToolAnnotations;
  /**
   * Cache successful results (Redis, or in-process without it). Only for tools annotated
   * `readOnlyHint` and `idempotentHint`: a hit returns the stored result without running the tool.
   */
  readonly cache?: CachePolicy;
  /** OAuth scopes (or API key scopes) a caller needs to call this tool; others get 403 insufficient_scope. */
  readonly scopes?: readonly string[];
  /**
   * Whether a call may run as a task, outliving its request: `optional` runs as a task for clients
   * that take tasks and directly for others; `required` refuses clients that take none. The
   * handler marks where the task begins with `await ctx.task.start()` (see README "Tasks").
   * `{ mode, runtime: 'container' }`: the task's worker runs on a container (a long-lived
   * process running `startTaskWorkers`) when MCP_CONTAINER_TASKS is on, for as long as its TTL;
   * elsewhere it runs as any task does.
   * @default - never a task
   */
  readonly task?: TaskMode | { readonly mode: TaskMode; readonly runtime?: TaskRuntime };
  readonly handler: (args: z.output<In>, ctx: ToolContext) => ToolReturn | Promise<ToolReturn>;
}

export type TaskMode = 'optional' | 'required';
/** Where a task's worker runs: `function` (where the kit runs: an invocation of its own on Lambda), or `container`. */
export type TaskRuntime = 'function' | 'container';

/** The tool's task mode, whichever way it was declared; undefined: never a task. */
export const taskModeOf = (t: Pick<ToolDefinition, 'task'>): TaskMode | undefined => (typeof t.task === 'object' ? t.task.mode : t.task);
/** Where the tool's tasks run. */
export const taskRuntimeOf = (t: Pick<ToolDefinition, 'task'>): TaskRuntime => (typeof t.task === 'object' ? (t.task.runtime ?? 'function') : 'function');

export interface ResourceDefinition {
  readonly kind: 'resource';
  readonly name: string;
  readonly uri: string;
  readonly metadata?: ResourceMetadata;
  readonly cacheHint?: CacheHint;
  readonly read: (uri: URL, ctx: ToolContext) => ReadReturn | Promise<ReadReturn>;
}

export interface ResourceTemplateDefinition {
  readonly kind: 'resourceTemplate';
  readonly name: string;
  /** RFC 6570 URI template, e.g. `notes://note/{id}`. */
  readonly uriTemplate: string;
  readonly metadata?: ResourceMetadata;
  readonly list?: (ctx: ToolContext) => Promise<{ uri: string; name: string; mimeType?: string }[]>;
  readonly read: (uri: URL, variables: Record<string, string | string[]>, ctx: ToolContext) => ReadReturn | Promise<ReadReturn>;
}

export interface PromptDefinition<Args extends z.ZodObject = z.ZodObject> {
  readonly kind: 'prompt';
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly args?: Args;
  readonly handler: (args: z.output<Args>, ctx: ToolContext) => PromptReturn | Promise<PromptReturn>;
}

export interface ServerDefinition {
  readonly name: string;
  readonly version: string;
  readonly title?: string;
  readonly instructions?: string;
  /** Tools in the order `tools/list` returns them. */
  // biome-ignore lint/suspicious/noExplicitAny: one list holds tools of every input and output type
  readonly tools: readonly ToolDefinition<any, any>[];
  readonly resources?: readonly (ResourceDefinition | ResourceTemplateDefinition)[];
  // biome-ignore lint/suspicious/noExplicitAny: one list holds prompts of every argument type
  readonly prompts?: readonly PromptDefinition<any>[];
  /**
   * `ttlMs`/`cacheScope` advertised on list results and `server/discover` (2026-07-28).
   * @default { ttlMs: 60000, cacheScope: 'private' } for every list and discover
   */
  readonly listCacheHint?: CacheHint;
  /**
   * Escape hatch for SDK features the definition does not model (completions, subscriptions,
   * custom methods): called on every new SDK instance after the definition is registered.
   * `context` builds the kit context for a handler you register yourself; `notify` announces list
   * changes outside any request (what `ctx.notify` does inside one).
   */
  readonly extend?: (server: McpServer, context: (ctx: ServerContext, target: string) => ToolContext, notify: ServerNotifier) => void;
  /**
   * Answers a plain 2026-07-28 `tools/call` of a name `tools` does not have, without an SDK server
   * (the gateway's fast lane, shared/gateway/handlers.ts). Its outcome when the direct lane does not
   * serialize it (a thrown error, a result beyond text, structured content and isError) goes to the
   * SDK lane as the request scope's `replay`, so the `tools/call` handler `extend` installs must
   * answer a replay as its own outcome, without calling again.
   */
  readonly directCall?: (
    params: { name: string; arguments?: Record<string, unknown> },
    ctx: ServerContext,
    context: (ctx: ServerContext, target: string) => ToolContext,
  ) => Promise<unknown>;
  /**
   * Extra sections of `GET /health?ready`, each the value its function resolves to: reported,
   * never failing readiness (the gateway shows its upstreams here).
   */
  readonly readiness?: Readonly<Record<string, () => Promise<unknown>>>;
  /**
   * Sections of `GET /health?ready` shown instead of `readiness`'s of the same name to callers
   * whose credentials carry `scope` (the gateway: each upstream by name, to admins; counts to others).
   */
  readonly readinessDetail?: { readonly scope: string; readonly reports: Readonly<Record<string, () => Promise<unknown>>> };
  /**
   * Where the definition tracks work of its own that no response waits for (the gateway's upstream
   * session touches): the kit uses it as its pending work, which the Lambda adapter lets finish
   * before an invocation ends (kit.settle).
   * @default - the kit's own
   */
  readonly pending?: PendingWork;
}

export function tool<In extends z.ZodObject, Out extends z.ZodObject = z.ZodObject>(
  name: string,
  config: Omit<ToolDefinition<In, Out>, 'kind' | 'name' | 'handler'>,
  handler: ToolDefinition<In, Out>['handler'],
): ToolDefinition<In, Out> {
  return { kind: 'tool', name, ...config, handler };
}

export function resource(
  name: string,
  uri: string,
  config: Pick<ResourceDefinition, 'metadata' | 'cacheHint'>,
  read: ResourceDefinition['read'],
): ResourceDefinition {
  return { kind: 'resource', name, uri, ...config, read };
}

export function resourceTemplate(
  name: string,
  uriTemplate: string,
  config: Pick<ResourceTemplateDefinition, 'metadata' | 'list'>,
  read: ResourceTemplateDefinition['read'],
): ResourceTemplateDefinition {
  return { kind: 'resourceTemplate', name, uriTemplate, ...config, read };
}

export function prompt<Args extends z.ZodObject>(
  name: string,
  config: Omit<PromptDefinition<Args>, 'kind' | 'name' | 'handler'>,
  handler: PromptDefinition<Args>['handler'],
): PromptDefinition<Args> {
  return { kind: 'prompt', name, ...config, handler };
}

/**
 * What a server module exports: its definition, or a function that builds it from the environment
 * the adapter resolved (on Lambda, after the secret filled it in), for servers configured by it.
 */
export type ServerModule = ServerDefinition | ((env: Readonly<Record<string, string | undefined>>) => ServerDefinition | Promise<ServerDefinition>);

export async function resolveDefinition(module: ServerModule, env: Readonly<Record<string, string | undefined>>): Promise<ServerDefinition> {
  return typeof module === 'function' ? module(env) : module;
}

export function defineServer(definition: ServerDefinition): ServerDefinition {
  const seen = new Set<string>();
  for (const t of definition.tools) {
    if (seen.has(t.name)) throw new Error(`server "${definition.name}": tool "${t.name}" is defined twice`);
    seen.add(t.name);
    if (t.cache && !(t.annotations?.readOnlyHint && t.annotations.idempotentHint)) {
      throw new Error(`server "${definition.name}": tool "${t.name}" is cacheable, so annotate it readOnlyHint: true and idempotentHint: true`);
    }
    if (t.cache && !(Number.isInteger(t.cache.ttlSeconds) && t.cache.ttlSeconds > 0)) {
      throw new Error(`server "${definition.name}": tool "${t.name}" cache.ttlSeconds must be a positive whole number`);
    }
    checkTask(definition.name, t);
  }
  return definition;
}

const TASK_MODES: readonly unknown[] = ['optional', 'required'];
const TASK_RUNTIMES: readonly unknown[] = ['function', 'container'];

/** A tool's `task` option as written, refused with what to write instead. */
function checkTask(server: string, t: Pick<ToolDefinition, 'name' | 'task'>): void {
  if (t.task === undefined) return;
  const where = `server "${server}": tool "${t.name}"`;
  if (typeof t.task !== 'object' || t.task === null) {
    if (!TASK_MODES.includes(t.task)) throw new Error(`${where} task must be 'optional', 'required' or { mode, runtime }, not ${JSON.stringify(t.task)}`);
    return;
  }
  const extra = Object.keys(t.task).filter((key) => key !== 'mode' && key !== 'runtime');
  if (extra.length) throw new Error(`${where} task takes only mode and runtime, not ${extra.join(', ')}`);
  if (!TASK_MODES.includes(t.task.mode)) throw new Error(`${where} task.mode must be 'optional' or 'required', not ${JSON.stringify(t.task.mode)}`);
  if (t.task.runtime !== undefined && !TASK_RUNTIMES.includes(t.task.runtime)) {
    throw new Error(`${where} task.runtime must be 'function' or 'container', not ${JSON.stringify(t.task.runtime)}`);
  }
}
