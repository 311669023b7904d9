// Turns a ServerDefinition into SDK McpServer instances. Instances are pooled per era and reused
// once their exchange closes: registering tools and schemas is the costliest part of a request,
// and nothing request-specific lives on the instance (it travels in the request scope).
import {
  McpServer,
  ResourceTemplate,
  createRequestStateCodec,
  isInputRequiredResult,
  type RequestStateCodec,
  type ServerContext,
  type ServerEventBus,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
} from '@modelcontextprotocol/server';
import { ArtifactNotFoundError } from '../artifacts/errors.ts';
import type { ArtifactStore } from '../artifacts/store.ts';
import type { ToolCache } from '../cache/tool-cache.ts';
import type { ServerDefinition } from './define.ts';
import { createToolContext, requestScopeOf, type KitServices } from './context.ts';
import { requestBinding } from './confirm.ts';
import { explainParamErrors } from './param-errors.ts';
import { toolRunner } from './tool-runner.ts';
import { registerTaskMethods } from '../tasks/methods.ts';
import type { TaskOutcome, TaskRunContext, TaskService } from '../tasks/service.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { workerContext } from '../tasks/worker-context.ts';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import { StateHandleError, type StateStore } from '../store/state.ts';

export type Era = 'legacy' | 'modern';

export interface ServerFactoryOptions {
  state: StateStore;
  log: KitLogger;
  /** HMAC keys for MRTR requestState, newest first: the first signs, every one verifies. Every instance must share them. */
  requestStateKeys: readonly string[];
  requestStateTtlSeconds: number;
  /** Serves cacheable tools' repeated calls; tools without a cache policy never touch it. */
  cache: ToolCache;
  /** Where `ctx.notify` publishes change events. */
  bus: ServerEventBus;
  artifacts: ArtifactStore;
  /** Tool results larger than this are offloaded to an artifact. */
  offloadBytes: number;
  /** A tool call still running after this ends with an error result. */
  toolTimeoutMs: number;
  /** Where handlers and cache writes that outlive their response are tracked. */
  pending: PendingWork;
  /** Tasks: absent when no tool of the definition may run as one. */
  tasks?: TaskService;
  /** A task's run still going after this fails the task. */
  taskTimeoutMs: number;
}

export interface ServerFactory {
  /** A ready instance for one exchange; it returns itself to the pool when its transport closes. */
  acquire(era: Era): McpServer;
  /** Runs a task's tool for one run, in a worker (TaskService's `execute`). */
  executeTask(run: TaskRunContext): Promise<TaskOutcome>;
  readonly definition: ServerDefinition;
}

const MAX_IDLE_PER_ERA = 64;
const ARTIFACT_TEMPLATE = new ResourceTemplate('artifact://{+path}', { list: undefined });
const DEFAULT_LIST_HINT = { ttlMs: 60_000, cacheScope: 'private' } as const;

/**
 * An unknown, expired or foreign state handle from the caller is the caller's mistake: a resource
 * it names does not exist, and as a prompt argument it is an invalid param. Left alone, the SDK
 * would answer it as an internal error.
 */
async function handleMistakes<T>(run: () => T | Promise<T>, uri?: URL): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof StateHandleError)) throw err;
    throw uri ? new ResourceNotFoundError(uri.href) : new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
  }
}

/**
 * Signs with the newest key and accepts any configured one: state minted before a key rotation
 * still verifies until it expires. Only a MAC mismatch moves on to the next key; an expired or
 * foreign-bound state is refused as it is.
 */
function rotatingCodec(codecs: RequestStateCodec[]): RequestStateCodec {
  const [signing] = codecs;
  return {
    mint: (payload, ctx) => signing!.mint(payload, ctx),
    async verify(state, ctx) {
      let failure: unknown;
      for (const codec of codecs) {
        try {
          return await codec.verify(state, ctx);
        } catch (error) {
          failure = error;
          if ((error as Error).message !== 'mac') throw error;
        }
      }
      throw failure;
    },
  };
}

export function createServerFactory(definition: ServerDefinition, options: ServerFactoryOptions): ServerFactory {
  const codec = rotatingCodec(
    options.requestStateKeys.map((key) =>
      createRequestStateCodec({
        key,
        ttlSeconds: options.requestStateTtlSeconds,
        // Refused for any other caller, session, tool or arguments than it was minted for.
        bind: (ctx) => requestBinding(requestScopeOf(ctx)),
      }),
    ),
  );
  const { bus } = options;
  const notify = {
    toolsChanged: () => bus.publish({ kind: 'tools_list_changed' }),
    promptsChanged: () => bus.publish({ kind: 'prompts_list_changed' }),
    resourcesChanged: () => bus.publish({ kind: 'resources_list_changed' }),
    resourceUpdated: (uri: string) => bus.publish({ kind: 'resource_updated', uri }),
  };
  const services: KitServices = {
    state: options.state,
    log: options.log,
    requestState: { mint: codec.mint, verify: codec.verify, ttlSeconds: options.requestStateTtlSeconds },
    notify,
    artifacts: options.artifacts,
  };
  const listHint = definition.listCacheHint ?? DEFAULT_LIST_HINT;
  const hasTasks = options.tasks !== undefined && definition.tools.some((t) => t.task);
  const runners = new Map(definition.tools.map((t) => [t.name, toolRunner(t, services, { ...options, tasks: hasTasks ? options.tasks : undefined })]));
  const hasResources = (definition.resources?.length ?? 0) > 0;
  const hasPrompts = (definition.prompts?.length ?? 0) > 0;

  function build(): McpServer {
    const server = new McpServer(
      { name: definition.name, version: definition.version, ...(definition.title && { title: definition.title }) },
      {
        capabilities: {
          tools: { listChanged: true },
          logging: {},
          ...(hasResources && { resources: { listChanged: true } }),
          ...(hasPrompts && { prompts: { listChanged: true } }),
          // Both wire forms: the 2025-11-25 utility, and the 2026-07-28 extension (the SDK leaves
          // each out of the other era's answers).
          ...(hasTasks && { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } }, extensions: { [TASKS_EXTENSION]: {} } }),
        },
        ...(definition.instructions && { instructions: definition.instructions }),
        cacheHints: {
          'tools/list': listHint,
          'prompts/list': listHint,
          'resources/list': listHint,
          'resources/templates/list': listHint,
          'server/discover': listHint,
        },
        requestState: { verify: codec.verify },
      },
    );
    for (const t of definition.tools) {
      const config = {
        ...(t.title && { title: t.title }),
        description: t.description,
        ...(t.output && { outputSchema: t.output }),
        ...(t.annotations && { annotations: t.annotations }),
      };
      const run = runners.get(t.name)!;
      const registered = t.input
        ? server.registerTool(t.name, { ...config, inputSchema: t.input }, run as never)
        : server.registerTool(t.name, config, ((ctx: ServerContext) => run({}, ctx)) as never);
      // registerTool takes no `execution`; tools/list reads it off the registration (2025-11-25 only).
      if (hasTasks) (registered as { execution?: object }).execution = { taskSupport: t.task ?? 'forbidden' };
    }
    for (const r of definition.resources ?? []) {
      if (r.kind === 'resource') {
        server.registerResource(r.name, r.uri, { ...r.metadata, ...(r.cacheHint && { cacheHint: r.cacheHint }) }, (uri, ctx) =>
          handleMistakes(() => r.read(uri, createToolContext(services, ctx, r.name)), uri),
        );
      } else {
        const list = r.list;
        const template = new ResourceTemplate(r.uriTemplate, {
          list: list && (async (ctx) => ({ resources: await list(createToolContext(services, ctx, r.name)) })),
        });
        server.registerResource(r.name, template, { ...r.metadata }, (uri, variables, ctx) =>
          handleMistakes(() => r.read(uri, variables, createToolContext(services, ctx, r.name)), uri),
        );
      }
    }
    for (const p of definition.prompts ?? []) {
      const config = { ...(p.title && { title: p.title }), ...(p.description && { description: p.description }) };
      if (p.args) {
        server.registerPrompt(p.name, { ...config, argsSchema: p.args }, ((args: unknown, ctx: ServerContext) =>
          handleMistakes(() => p.handler(args as never, createToolContext(services, ctx, p.name)))) as never);
      } else {
        server.registerPrompt(p.name, config, ((ctx: ServerContext) => handleMistakes(() => p.handler({} as never, createToolContext(services, ctx, p.name)))) as never);
      }
    }
    server.registerResource(
      'artifact',
      ARTIFACT_TEMPLATE,
      { description: 'Files and large results tools produced; readable only by the caller that produced them' },
      async (uri, _variables, ctx) => {
        const { principal, sessionId } = requestScopeOf(ctx);
        try {
          return { contents: [await options.artifacts.read(uri.href, { principalId: principal.id, sessionId })] };
        } catch (err) {
          if (err instanceof ArtifactNotFoundError) throw new ResourceNotFoundError(uri.href);
          throw err;
        }
      },
    );
    if (hasTasks) registerTaskMethods(server, options.tasks!);
    definition.extend?.(server, (ctx, target) => createToolContext(services, ctx, target), notify);
    explainParamErrors(server);
    return server;
  }

  const idle: Record<Era, McpServer[]> = { legacy: [], modern: [] };
  return {
    definition,
    async executeTask({ record, signal, report }) {
      const run = runners.get(record.request.tool);
      if (!run) return { kind: 'error', error: { code: ProtocolErrorCode.InvalidParams, message: `the server no longer has the tool ${record.request.tool}` } };
      try {
        const ctx = await workerContext({ record, signal, report, verify: codec.verify });
        const answer = await run(record.request.arguments, ctx);
        if (isInputRequiredResult(answer)) return { kind: 'input', inputRequests: answer.inputRequests ?? {}, ...(answer.requestState !== undefined && { requestState: answer.requestState }) };
        return { kind: 'result', result: answer };
      } catch (err) {
        // A tool's own failure is its result (isError), as the SDK makes it for a direct call;
        // only a protocol error fails the task.
        if (err instanceof ProtocolError) return { kind: 'error', error: { code: err.code, message: err.message } };
        return { kind: 'result', result: { isError: true, content: [{ type: 'text', text: err instanceof Error ? err.message : String(err) }] } };
      }
    },
    acquire(era) {
      const server = idle[era].pop() ?? build();
      server.server.onclose = () => {
        if (idle[era].length < MAX_IDLE_PER_ERA) idle[era].push(server);
      };
      return server;
    },
  };
}
