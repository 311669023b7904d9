// Turns a server's tool runtime (runtime.ts) into SDK McpServer instances, for the SDK lane: the
// legacy sessions, the modern methods other than the direct lane's tools/call, and anything that
// lane hands over. Instances are pooled per era and reused once their exchange closes:
// registering tools and schemas is the costliest part of a request, and nothing request-specific
// lives on the instance (it travels in the request scope). Loaded with the SDK, on first need.
import {
  McpServer,
  ResourceTemplate,
  type RequestStateCodec,
  type ServerContext,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
} from '@modelcontextprotocol/server';
import { ArtifactNotFoundError } from '../artifacts/errors.ts';
import type { TaskService } from '../tasks/service.ts';
import { createToolContext } from './context.ts';
import { requestScopeOf, type RequestScope } from '../request-scope.ts';
import { explainHandlerErrors } from './handler-errors.ts';
import { taskModeOf } from './define.ts';
import { withWireSchemas } from './input-required.ts';
import type { ToolRuntime } from './runtime.ts';
import type { ToolRun } from './tool-runner.ts';
import { registerTaskMethods } from '../tasks/methods.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { StateHandleError } from '../store/state.ts';

export type Era = 'legacy' | 'modern';

export interface ServerFactory {
  /** A ready instance for one exchange; it returns itself to the pool when its transport closes. */
  acquire(era: Era): McpServer;
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
    // An MRTR answer built with the kit's inputRequired may carry a zod schema to convert.
    return await withWireSchemas(await run());
  } catch (err) {
    if (!(err instanceof StateHandleError)) throw err;
    throw uri ? new ResourceNotFoundError(uri.href) : new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
  }
}

/**
 * The tool as the SDK calls it. A call the direct lane already ran and handed over (`replay` in
 * its scope) gives back that outcome instead of running the tool again.
 */
function replayable(run: ToolRun): ToolRun {
  return (args, ctx) => {
    const scope = requestScopeOf(ctx) as { replay?: RequestScope['replay'] };
    const replay = scope.replay;
    if (!replay) return run(args, ctx);
    // Once: a 2025-era MRTR answer is fulfilled by the SDK's shim, which calls the tool again with the client's answers.
    scope.replay = undefined;
    return 'error' in replay ? Promise.reject(replay.error) : Promise.resolve(replay.result as Awaited<ReturnType<ToolRun>>);
  };
}

/** An instance with the server's identity, capabilities and list hints, before anything is registered. */
function newServer(runtime: ToolRuntime, codec: RequestStateCodec): McpServer {
  const { definition } = runtime;
  const listHint = definition.listCacheHint ?? DEFAULT_LIST_HINT;
  return new McpServer(
    { ...runtime.serverInfo },
    {
      capabilities: {
        tools: { listChanged: true },
        logging: {},
        ...((definition.resources?.length ?? 0) > 0 && { resources: { listChanged: true } }),
        ...((definition.prompts?.length ?? 0) > 0 && { prompts: { listChanged: true } }),
        // Both wire forms: the 2025-11-25 utility, and the 2026-07-28 extension (the SDK leaves
        // each out of the other era's answers).
        ...(runtime.hasTasks && { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } }, extensions: { [TASKS_EXTENSION]: {} } }),
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
}

function registerTools(server: McpServer, runtime: ToolRuntime, runners: ReadonlyMap<string, ToolRun>): void {
  for (const t of runtime.definition.tools) {
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
    if (runtime.hasTasks) (registered as { execution?: object }).execution = { taskSupport: taskModeOf(t) ?? 'forbidden' };
  }
}

function registerResources(server: McpServer, { definition, services }: ToolRuntime): void {
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
}

function registerPrompts(server: McpServer, { definition, services }: ToolRuntime): void {
  for (const p of definition.prompts ?? []) {
    const config = { ...(p.title && { title: p.title }), ...(p.description && { description: p.description }) };
    if (p.args) {
      server.registerPrompt(p.name, { ...config, argsSchema: p.args }, ((args: unknown, ctx: ServerContext) =>
        handleMistakes(() => p.handler(args as never, createToolContext(services, ctx, p.name)))) as never);
    } else {
      server.registerPrompt(p.name, config, ((ctx: ServerContext) =>
        handleMistakes(() => p.handler({} as never, createToolContext(services, ctx, p.name)))) as never);
    }
  }
}

/** `artifact://` links: readable only by the principal (and session) that produced them. */
function registerArtifacts(server: McpServer, artifacts: ToolRuntime['services']['artifacts']): void {
  server.registerResource(
    'artifact',
    ARTIFACT_TEMPLATE,
    { description: 'Files and large results tools produced; readable only by the caller that produced them' },
    async (uri, _variables, ctx) => {
      const { principal, sessionId } = requestScopeOf(ctx);
      try {
        return { contents: [await artifacts.read(uri.href, { principalId: principal.id, sessionId })] };
      } catch (err) {
        if (err instanceof ArtifactNotFoundError) throw new ResourceNotFoundError(uri.href);
        throw err;
      }
    },
  );
}

/**
 * The SDK keeps each session's `logging/setLevel` in a map on the instance and never drops it; a
 * pooled instance would hold one entry per session it ever served. The level lives in the session
 * record and is set again on every exchange (LegacyExchange.restore), so the map is emptied when
 * the exchange closes and holds at most the one session an instance is serving.
 */
function forgetLogLevels(server: McpServer): void {
  const levels = (server.server as unknown as { _loggingLevels?: unknown })._loggingLevels;
  if (levels instanceof Map) levels.clear();
}

/** `codec`: the runtime's, already built (the SDK lane awaits it before creating the factory). */
export function createServerFactory(runtime: ToolRuntime, codec: RequestStateCodec, tasks: TaskService | undefined): ServerFactory {
  const { definition, services } = runtime;
  const runners = new Map([...runtime.runners].map(([name, run]) => [name, replayable(run)]));

  const toolNames = definition.tools.map((t) => t.name);

  function build(): McpServer {
    const server = newServer(runtime, codec);
    registerTools(server, runtime, runners);
    registerResources(server, runtime);
    registerPrompts(server, runtime);
    registerArtifacts(server, services.artifacts);
    if (runtime.hasTasks && tasks) registerTaskMethods(server, tasks);
    definition.extend?.(server, (ctx, target) => createToolContext(services, ctx, target), services.notify);
    explainHandlerErrors(server, services.log, toolNames);
    return server;
  }

  const idle: Record<Era, McpServer[]> = { legacy: [], modern: [] };
  return {
    acquire(era) {
      const server = idle[era].pop() ?? build();
      server.server.onclose = () => {
        forgetLogLevels(server);
        if (idle[era].length < MAX_IDLE_PER_ERA) idle[era].push(server);
      };
      return server;
    },
  };
}
