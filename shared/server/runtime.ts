// What every lane shares for one server definition: the services a handler's context reaches
// (state, logs, signed MRTR state, notifications, artifacts), one runner per tool, and the run of
// a task's tool in its worker. Both the direct lane and the SDK lane (build.ts) call tools through
// these runners, so a call behaves the same whichever lane serves it. Loads no SDK code itself:
// the request-state codec and the SDK's error classes are loaded when first needed.
import type { RequestStateCodec, ServerContext, ServerEventBus } from '@modelcontextprotocol/server';
import type { ArtifactStore } from '../artifacts/store.ts';
import type { ToolCache } from '../cache/tool-cache.ts';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import { sdk } from '../sdk.ts';
import type { StateStore } from '../store/state.ts';
import type { TaskOutcome, TaskRunContext, TaskService } from '../tasks/service.ts';
import { workerContext } from '../tasks/worker-context.ts';
import { requestBinding } from './confirm.ts';
import type { KitServices } from './context.ts';
import { requestScopeOf } from '../request-scope.ts';
import type { ServerDefinition } from './define.ts';
import { isInputRequired, toolRunner, type ToolRun } from './tool-runner.ts';

export interface ToolRuntimeOptions {
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

export interface ToolRuntime {
  readonly definition: ServerDefinition;
  /** The server's identity, as every answer's `_meta` names it. */
  readonly serverInfo: { name: string; version: string; title?: string };
  readonly services: KitServices;
  /** One runner per tool, by name. */
  readonly runners: ReadonlyMap<string, ToolRun>;
  /** Whether any tool may run as a task (and tasks are configured). */
  readonly hasTasks: boolean;
  /** The request-state codec (signs and verifies MRTR state), built on first use. */
  codec(): Promise<RequestStateCodec>;
  /** Runs a task's tool for one run, in a worker (TaskService's `execute`). */
  executeTask(run: TaskRunContext): Promise<TaskOutcome>;
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

export function createToolRuntime(definition: ServerDefinition, options: ToolRuntimeOptions): ToolRuntime {
  let loading: Promise<RequestStateCodec> | undefined;
  const codec = () =>
    (loading ??= sdk().then(({ createRequestStateCodec }) =>
      rotatingCodec(
        options.requestStateKeys.map((key) =>
          createRequestStateCodec({
            key,
            ttlSeconds: options.requestStateTtlSeconds,
            // Refused for any other caller, session, tool or arguments than it was minted for.
            bind: (ctx) => requestBinding(requestScopeOf(ctx)),
          }),
        ),
      ),
    ));
  const { bus } = options;
  const services: KitServices = {
    state: options.state,
    log: options.log,
    requestState: {
      mint: async (payload: unknown, ctx: ServerContext) => (await codec()).mint(payload, ctx),
      verify: async (state: string, ctx: ServerContext) => (await codec()).verify(state, ctx),
      ttlSeconds: options.requestStateTtlSeconds,
    },
    notify: {
      toolsChanged: () => bus.publish({ kind: 'tools_list_changed' }),
      promptsChanged: () => bus.publish({ kind: 'prompts_list_changed' }),
      resourcesChanged: () => bus.publish({ kind: 'resources_list_changed' }),
      resourceUpdated: (uri: string) => bus.publish({ kind: 'resource_updated', uri }),
    },
    artifacts: options.artifacts,
  };
  const hasTasks = options.tasks !== undefined && definition.tools.some((t) => t.task);
  const runners = new Map(definition.tools.map((t) => [t.name, toolRunner(t, services, { ...options, tasks: hasTasks ? options.tasks : undefined })]));

  return {
    definition,
    serverInfo: { name: definition.name, version: definition.version, ...(definition.title && { title: definition.title }) },
    services,
    runners,
    hasTasks,
    codec,
    async executeTask({ record, signal, report, timeoutMs, resumeFrom, checkpoint }) {
      const run = runners.get(record.request.tool);
      if (!run) return { kind: 'error', error: { code: -32602, message: `the server no longer has the tool ${record.request.tool}` } };
      try {
        const ctx = await workerContext({ record, signal, report, timeoutMs, resumeFrom, checkpoint, verify: services.requestState.verify });
        const answer = await run(record.request.arguments, ctx);
        if (isInputRequired(answer))
          return { kind: 'input', inputRequests: answer.inputRequests ?? {}, ...(answer.requestState !== undefined && { requestState: answer.requestState }) };
        return { kind: 'result', result: answer };
      } catch (err) {
        // A tool's own failure is its result (isError), as the SDK makes it for a direct call;
        // only a protocol error fails the task.
        const { ProtocolError } = await sdk();
        if (err instanceof ProtocolError) return { kind: 'error', error: { code: err.code, message: err.message } };
        return { kind: 'result', result: { isError: true, content: [{ type: 'text', text: err instanceof Error ? err.message : String(err) }] } };
      }
    },
  };
}
