// The legacy direct lane: a 2025-era session's `tools/call` of a kit tool, `ping` and `tools/list`
// (the SDK's list, kept per revision), answered by the kit without restoring the session into an
// SDK server instance. The session is loaded, checked and touched as for any request (legacy.ts);
// the call runs through the same runner on the same exchange (legacy-exchange.ts), so the answer is
// shaped for the session's revision, JSON or SSE, cancellable and relayed exactly as on the SDK
// path. It takes a call only when it is plain (a well-formed request of a registered, task-free
// tool, at most a progress token in `_meta`, the tool's input schema passed); what it does not
// answer itself goes to an SDK instance connected to the same exchange, on demand: a
// server-to-client request or an unusual notification mid-call, and an outcome it does not
// serialize (the run's outcome replayed, build.ts). test/core/legacy-lane.test.ts holds both paths
// to the same answers.
import type { AuthInfo, CallToolResult, JSONRPCRequest, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { WireMessage } from '../protocol/envelope.ts';
import { isObject } from '../protocol/wire.ts';
import type { RequestScope } from '../request-scope.ts';
import type { ToolDefinition } from '../server/define.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import type { SessionRecord } from '../store/sessions.ts';
import type { LegacyExchange } from './legacy-exchange.ts';

type Json = Record<string, unknown>;
type Id = string | number;
/** ProtocolErrorCode.UrlElicitationRequired: a 2025-era tool's protocol error, answered by the SDK. */
const URL_ELICITATION_REQUIRED = -32042;
/** The SDK's logging levels by severity (LoggingLevelSchema's order); an unknown level is never held back, as there. */
const SEVERITY = new Map(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'].map((level, i) => [level, i]));
/** Notifications the lane sends itself: the server declares logging; progress needs no capability. */
const OWN_NOTIFICATIONS = new Set(['notifications/progress', 'notifications/message']);

const only = (value: Json, keys: readonly string[]) => Object.keys(value).every((k) => keys.includes(k));
const isId = (id: unknown): id is Id => typeof id === 'string' || Number.isSafeInteger(id);

/** A request's `_meta` the SDK takes as it is: none, or only a progress token of the type its schema takes. */
const plainMeta = (meta: unknown) => meta === undefined || (isObject(meta) && only(meta, ['progressToken']) && isId(meta.progressToken));

/** Text blocks, each exactly `{ type: 'text', text }`: what every 2025-era result schema passes through unchanged. */
const plainContent = (content: unknown) =>
  Array.isArray(content) && content.every((c) => isObject(c) && c.type === 'text' && typeof c.text === 'string' && only(c, ['type', 'text']));

/**
 * A result the lane answers itself: text content, isError, and structured content beside text
 * that passes the tool's output schema (an error result needs none). Anything else the SDK checks
 * and words its own way.
 */
async function plainResult(result: unknown, tool: ToolDefinition): Promise<boolean> {
  if (!isObject(result) || !only(result, ['content', 'isError', 'structuredContent'])) return false;
  if (result.content !== undefined && !plainContent(result.content)) return false;
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result.structuredContent === undefined) return !tool.output || result.isError === true;
  if (!isObject(result.structuredContent) || (result.content as unknown[] | undefined)?.length === 0 || result.content === undefined) return false;
  return !tool.output || result.isError === true || !(await tool.output['~standard'].validate(result.structuredContent)).issues;
}

/** What the lane serves: a kit tool's `tools/call`, `ping`, or `tools/list`. */
type Target = ToolDefinition | 'ping' | 'tools/list';

/** What a call served by the lane needs from the legacy handler. */
export interface LaneCall {
  exchange: LegacyExchange;
  message: JSONRPCRequest & WireMessage;
  session: SessionRecord;
  /** The request's scope, as the SDK path's would be; `replay` is set on it when the lane hands a run over. */
  scope: RequestScope & { replay?: RequestScope['replay'] };
  authInfo: AuthInfo;
  request: Request;
  /** An SDK instance connected to the exchange with the session restored; the same one on every call. */
  sdk(): Promise<McpServer>;
}

/** The lane's work on one exchange: an abort for the tool's signal, and whether the SDK was brought in. */
class Run {
  readonly abort = new AbortController();
  private server?: Promise<McpServer>;
  /** Answered or handed over: the lane's part is over. */
  private done = false;

  constructor(readonly call: LaneCall) {
    // As the SDK does for the requests it serves: a cancellation, or the exchange's end, aborts the run.
    call.exchange.onmessage = (m) => {
      const n = m as WireMessage;
      if (n.method === 'notifications/cancelled' && n.params?.requestId === call.message.id) this.abort.abort(n.params?.reason);
    };
    call.exchange.onclose = () => {
      if (!this.done) this.abort.abort(new Error('Connection closed'));
    };
  }

  sdk(): Promise<McpServer> {
    return (this.server ??= this.call.sdk());
  }

  /** The answer, sent through the exchange (shaped for the revision); none once cancelled, as on the SDK path. */
  answer(result: unknown) {
    if (this.abort.signal.aborted) return;
    this.done = true;
    void this.call.exchange.send({ result, jsonrpc: '2.0', id: this.call.message.id } as never);
  }

  /** The SDK serves the request, from the run's outcome when there was one. */
  async handOver(replay?: { result: unknown } | { error: unknown }) {
    this.done = true;
    await this.sdk();
    if (replay) this.call.scope.replay = replay;
    this.call.exchange.receive(this.call.message as never);
  }
}

/** The context the SDK gives a 2025-era tool call, with server-to-client requests and other notifications sent by the SDK instance. */
function context(run: Run, session: SessionRecord): ServerContext {
  const { message, exchange, authInfo } = run.call;
  const meta = (message.params as Json | undefined)?._meta as Json | undefined;
  const notify = async (n: { method: string; params?: unknown }) => {
    if (OWN_NOTIFICATIONS.has(n.method)) return exchange.send({ jsonrpc: '2.0', ...n } as never);
    return (await run.sdk()).server.notification(n as never, { relatedRequestId: message.id });
  };
  const threshold = session.logLevel;
  return {
    sessionId: session.id,
    mcpReq: {
      id: message.id,
      method: message.method,
      _meta: meta,
      requestState: () => undefined,
      signal: run.abort.signal,
      // As the SDK's own `send`: a result schema, or options, second; the request related to this call.
      send: async (r: never, schemaOrOptions?: object, options?: object) => {
        const server = (await run.sdk()).server;
        return isObject(schemaOrOptions) && '~standard' in schemaOrOptions
          ? server.request(r, schemaOrOptions as never, { ...options, relatedRequestId: message.id })
          : server.request(r, { ...schemaOrOptions, relatedRequestId: message.id });
      },
      notify,
      log: (level: string, data: unknown, logger?: string) =>
        threshold !== undefined && (SEVERITY.get(level) as number) < (SEVERITY.get(threshold) as number)
          ? Promise.resolve()
          : notify({ method: 'notifications/message', params: { level, data, logger } }),
      elicitInput: async (params: never, options?: never) => (await run.sdk()).server.elicitInput(params, options),
      requestSampling: async (params: never, options?: never) => (await run.sdk()).server.createMessage(params, options),
    },
    http: { authInfo, req: run.call.request, closeSSE: undefined, closeStandaloneSSE: undefined },
  } as unknown as ServerContext;
}

export function createLegacyLane(runtime: ToolRuntime) {
  const { definition } = runtime;
  const tools = new Map(definition.tools.map((t) => [t.name, t]));
  // A definition that extends the SDK server may change how calls are served: it has no lane.
  const enabled = definition.extend === undefined;

  /**
   * The SDK's `tools/list` result, per revision, before shaping: the same for every caller and
   * session of a definition the SDK does not extend, so the first one an instance serves is kept.
   */
  const lists = new Map<string, unknown>();

  /** The tool a session's request calls, or the method, when the lane may serve it. */
  function accepts(message: WireMessage): Target | undefined {
    if (!enabled || (message as Json).jsonrpc !== '2.0' || !only(message as Json, ['jsonrpc', 'id', 'method', 'params']) || !isId(message.id)) return;
    const params = message.params as unknown;
    if (message.method === 'ping' || message.method === 'tools/list') return params === undefined ? message.method : undefined;
    if (message.method !== 'tools/call' || !isObject(params) || !only(params, ['name', 'arguments', '_meta']) || typeof params.name !== 'string') return;
    if ((params.arguments !== undefined && !isObject(params.arguments)) || !plainMeta(params._meta)) return;
    const tool = tools.get(params.name);
    // A task-capable tool's call may become a task: the SDK path's work.
    return tool && !tool.task ? tool : undefined;
  }

  /** Serves an accepted request on its exchange (opened for it, legacy.ts); resolves when the answer (or hand-over) is under way. */
  async function serve(call: LaneCall, target: Target): Promise<void> {
    const run = new Run(call);
    if (target === 'ping') return run.answer({});
    if (target === 'tools/list') return list(run, call);
    const args = ((call.message.params as Json).arguments as Json | undefined) ?? {};
    let input: unknown = {};
    if (target.input) {
      const checked = await target.input['~standard'].validate(args);
      // The SDK words the refusal.
      if (checked.issues) return void run.handOver().catch((error: unknown) => call.exchange.fail(error));
      input = checked.value;
    }
    runtime.runners.get(target.name)!(input, context(run, call.session))
      .then(
        async (result) =>
          (await plainResult(result, target)) ? run.answer({ ...(result as CallToolResult), content: result.content ?? [] }) : run.handOver({ result }),
        (error: unknown) =>
          (error as { code?: unknown } | undefined)?.code === URL_ELICITATION_REQUIRED
            ? run.handOver({ error })
            : run.answer({ content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true }),
      )
      .catch((error: unknown) => call.exchange.fail(error));
  }

  /** `tools/list`: the kept result, or the SDK's answer, kept as it passes the exchange (which shapes it either way). */
  function list(run: Run, { exchange, message, session }: LaneCall): void {
    const known = lists.get(session.protocolVersion);
    if (known !== undefined) {
      run.answer(known);
      return;
    }
    const send = exchange.send.bind(exchange);
    exchange.send = (m, options) => {
      const answer = m as WireMessage & { result?: unknown };
      if (answer.method === undefined && answer.id === message.id && isObject(answer.result)) lists.set(session.protocolVersion, answer.result);
      return send(m, options);
    };
    run.handOver().catch((error: unknown) => exchange.fail(error));
  }

  return { accepts, serve };
}
