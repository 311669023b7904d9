// The direct lane: the common 2026-07-28 `tools/call`, answered by the kit without the SDK's
// per-request server and transport, so a cold start that serves only such calls never loads the
// SDK. It takes a request only when it can answer exactly as the SDK lane would (a well-formed
// call of a registered tool, no progress token, log level, MRTR answer or task, arguments that
// pass the tool's schema) and runs the tool through the same runner (runtime.ts). Anything else
// goes to the SDK lane: before the tool runs, or, when the outcome is one the lane does not
// serialize itself (an MRTR question, a non-text block, output to check, a URL elicitation), after
// it, with that outcome for the SDK lane to answer from instead of running the tool again.
// A definition's `directCall` (the gateway's routed calls) is served the same way, every outcome
// it does not serialize handed over. test/core/direct-lane.test.ts and
// test/gateway/fast-lane.test.ts hold both lanes to the same answers.
import type { AuthInfo, CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import type { RequestScope } from '../request-scope.ts';
import { createToolContext } from '../server/context.ts';
import type { ToolDefinition } from '../server/define.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import { ROUTED_CALL } from './classify.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { SseWriter, messageEvent } from './sse.ts';
import { jsonAnswer } from './security-headers.ts';
import {
  CLIENT_CAPABILITIES_META as CLIENT_CAPABILITIES,
  CLIENT_INFO_META as CLIENT_INFO,
  MODERN_REVISION as REVISION,
  PROTOCOL_VERSION_META as PROTOCOL_VERSION,
  SERVER_INFO_META as SERVER_INFO,
  declaresHeaderParams,
  isObject,
  isProgressToken,
} from '../protocol/wire.ts';

/** ProtocolErrorCode.UrlElicitationRequired: the one error the SDK lets out of a tool as a protocol error. */
const URL_ELICITATION_REQUIRED = -32042;
const BASE64_SENTINEL = '=?base64?';

type Json = Record<string, unknown>;
/** What the SDK lane answers from when the lane hands over after running the tool. */
export type Replay = { result: unknown } | { error: unknown };
/** Serves the request through the SDK lane, with the outcome of a run when there was one. */
export type HandOver = (replay?: Replay) => Promise<Response>;

const only = (value: Json, keys: readonly string[]) => Object.keys(value).every((k) => keys.includes(k));
const isString = (value: unknown) => typeof value === 'string';

/**
 * Client capabilities the SDK's envelope schema surely accepts: known members only, each of the
 * shape that schema gives it (objects of JSON values, `roots.listChanged` a boolean).
 */
function plainCapabilities(caps: unknown): boolean {
  if (!isObject(caps)) return false;
  for (const [key, value] of Object.entries(caps)) {
    if (!isObject(value)) return false;
    switch (key) {
      case 'elicitation':
      case 'sampling':
        if (!only(value, key === 'elicitation' ? ['form', 'url'] : ['context', 'tools']) || !Object.values(value).every(isObject)) return false;
        break;
      case 'roots':
        if (!only(value, ['listChanged']) || (value.listChanged !== undefined && typeof value.listChanged !== 'boolean')) return false;
        break;
      case 'extensions':
      case 'experimental':
        if (!Object.values(value).every(isObject)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * A `_meta` holding exactly the envelope, well-formed, and at most a progress token of the type
 * the SDK's schema takes: nothing the SDK would refuse or act on otherwise.
 */
function plainEnvelope(meta: unknown): meta is Json {
  if (!isObject(meta) || !only(meta, [PROTOCOL_VERSION, CLIENT_INFO, CLIENT_CAPABILITIES, 'progressToken'])) return false;
  if (meta.progressToken !== undefined && !isProgressToken(meta.progressToken)) return false;
  const info = meta[CLIENT_INFO];
  return (
    meta[PROTOCOL_VERSION] === REVISION &&
    isObject(info) &&
    only(info, ['name', 'version', 'title']) &&
    isString(info.name) &&
    isString(info.version) &&
    (info.title === undefined || isString(info.title)) &&
    plainCapabilities(meta[CLIENT_CAPABILITIES])
  );
}

/** Text blocks only, each exactly `{ type: 'text', text }`: what the SDK lane passes through unchanged. */
const plainContent = (content: unknown) =>
  Array.isArray(content) && content.every((c) => isObject(c) && c.type === 'text' && isString(c.text) && only(c, ['type', 'text']));

/**
 * A result the lane answers itself: text content, isError, structuredContent. With an output
 * schema the structured content must pass it (the SDK lane words a failure); an error result
 * needs none.
 */
async function plainResult(result: unknown, tool: ToolDefinition | undefined): Promise<boolean> {
  if (!isObject(result) || !only(result, ['content', 'isError', 'structuredContent'])) return false;
  if (result.content !== undefined && !plainContent(result.content)) return false;
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result.structuredContent !== undefined && !isObject(result.structuredContent)) return false;
  if (!tool?.output || result.isError === true) return true;
  return result.structuredContent !== undefined && !(await tool.output['~standard'].validate(result.structuredContent)).issues;
}

/** The headers the SDK lane's streams carry: the lane answers exactly as it would. */
const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' };

/** An exchange's response: JSON with the answer, or SSE from the first notification the tool sends. */
class Exchange {
  private stream?: SseWriter;
  private settled = false;
  private resolve!: (response: Response) => void;
  private reject!: (error: unknown) => void;
  readonly response = new Promise<Response>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });

  /** A client that goes away gets what the SDK lane gives it: 499 at once, the stream closed. */
  constructor(
    private readonly keepAliveMs: number,
    signal: AbortSignal,
    private readonly answerHeaders: Readonly<Record<string, string>>,
  ) {
    signal.addEventListener('abort', () => (this.settle(new Response(null, { status: 499 })), this.end()), { once: true });
  }

  notify(notification: Json) {
    if (!this.stream) this.upgrade();
    this.stream!.send({ jsonrpc: '2.0', ...notification });
  }

  answer(message: Json) {
    // A string body, not Response.json: on @hono/node-server (`npm start`) that is the response it
    // writes straight to the socket; Response.json's body is a stream it reads chunk by chunk.
    if (!this.stream) return this.settle(jsonAnswer(JSON.stringify(message), this.answerHeaders));
    this.stream.send(message);
    this.end();
  }

  /**
   * The SDK lane's answer: as it is, or, once this exchange streams, its message (or frames)
   * after the notifications already sent.
   */
  async forward(answer: Promise<Response>) {
    if (!this.stream) return this.settle(await answer);
    const response = await answer;
    const text = await response.text();
    this.stream.write(response.headers.get('content-type')?.startsWith('text/event-stream') ? text : messageEvent(text));
    this.end();
  }

  /** The SDK lane could not answer (it failed to load, a dependency is down): the app's error answer, or the stream's end. */
  fail(error: unknown) {
    if (this.settled) return this.end();
    this.settled = true;
    this.reject(error);
  }

  private settle(response: Response) {
    if (this.settled) return;
    this.settled = true;
    this.resolve(response);
  }

  private end() {
    this.stream?.close();
  }

  private upgrade() {
    this.stream = new SseWriter();
    this.stream.keepAlive(this.keepAliveMs, 'keepalive');
    this.settle(new Response(this.stream.body, { status: 200, headers: SSE_HEADERS }));
  }
}

const SERVER_TO_CLIENT = (method: string) =>
  `Server-to-client requests are not available on protocol revision ${REVISION}: '${method}' cannot be sent while serving a request on that revision. Return inputRequired({ ... }) from the handler instead — the client fulfils the embedded requests and retries the original request (multi round-trip requests).`;

/** The envelope the SDK gives a tool: `_meta` without the progress token (which it gives as `_meta`). */
const withoutToken = ({ progressToken: _, ...envelope }: Json) => envelope;

/** The SDK's context for a 2026-07-28 request with a plain envelope, as a tool on the SDK lane would see it. */
function context(request: Request, id: string | number, meta: Json, authInfo: AuthInfo, exchange: Exchange): ServerContext {
  const progressToken = meta.progressToken;
  const envelope = progressToken === undefined ? meta : withoutToken(meta);
  return {
    sessionId: undefined,
    mcpReq: {
      id,
      method: 'tools/call',
      // What the SDK lane gives a tool: the progress token, the only `_meta` beyond the envelope this lane takes.
      _meta: progressToken === undefined ? undefined : { progressToken },
      envelope,
      requestState: () => undefined,
      signal: request.signal,
      send: async (req: { method: string }) => {
        throw new Error(`Method '${req.method}' is not supported by the negotiated protocol version (wire era ${REVISION})`);
      },
      notify: async (notification: Json) => exchange.notify(notification),
      // Without a log level in the envelope the SDK lane sends no log notifications either.
      log: async () => {},
      elicitInput: async () => {
        throw new Error(SERVER_TO_CLIENT('elicitation/create'));
      },
      requestSampling: async () => {
        throw new Error(SERVER_TO_CLIENT('sampling/createMessage'));
      },
    },
    http: { authInfo, req: request, closeSSE: undefined, closeStandaloneSSE: undefined },
  } as unknown as ServerContext;
}

/** Whether a tool's input schema declares `x-mcp-header` parameters (the SDK lane checks those headers), worked out once a tool. */
function headerParamsCheck(): (t: ToolDefinition) => boolean {
  const known = new Map<string, boolean>();
  return (t) => {
    let declares = known.get(t.name);
    if (declares === undefined) {
      const json = t.input?.['~standard'].jsonSchema?.input({ target: 'draft-2020-12' });
      // A schema that cannot say goes to the SDK lane, which converts it its own way.
      declares = t.input !== undefined && (json === undefined || declaresHeaderParams(json));
      known.set(t.name, declares);
    }
    return declares;
  };
}

/** A plain 2026-07-28 `tools/call`'s params (envelope and routing headers as the revision sends them), else undefined. */
function plainCallParams(request: Request, body: Json): Json | undefined {
  if (body.method !== 'tools/call' || body.jsonrpc !== '2.0' || !only(body, ['jsonrpc', 'id', 'method', 'params'])) return;
  if (!isString(body.id) && !Number.isSafeInteger(body.id)) return;
  const params = body.params;
  if (!isObject(params) || !only(params, ['name', 'arguments', '_meta']) || !isString(params.name)) return;
  if (params.arguments !== undefined && !isObject(params.arguments)) return;
  const name = params.name as string;
  const headers = request.headers;
  if (
    headers.get('mcp-protocol-version') !== REVISION ||
    headers.get('mcp-method') !== 'tools/call' ||
    headers.get('mcp-name') !== name ||
    name.startsWith(BASE64_SENTINEL)
  )
    return;
  return plainEnvelope(params._meta) ? (params as Json) : undefined;
}

export function createDirectLane(runtime: ToolRuntime, keepAliveMs: number) {
  const { definition } = runtime;
  const tools = new Map(definition.tools.map((t) => [t.name, t]));
  const declaresHeaders = headerParamsCheck();
  // A definition that extends the SDK server may change how calls are served: its own tools have
  // no direct lane. Calls of other names go to its `directCall` when it has one.
  const enabled = definition.extend === undefined;
  const routed = definition.directCall;
  const toolContext = (ctx: ServerContext, target: string) => createToolContext(runtime.services, ctx, target);

  /** The tool a request calls, or ROUTED_CALL for the definition's `directCall`, when this lane may serve it. */
  function accepts(request: Request, body: Json): ToolDefinition | typeof ROUTED_CALL | undefined {
    if (!enabled && !routed) return;
    const params = plainCallParams(request, body);
    if (!params) return;
    const tool = tools.get(params.name as string);
    if (!tool && routed) return ROUTED_CALL;
    if (!enabled) return;
    const extensions = ((params._meta as Json)[CLIENT_CAPABILITIES] as { extensions?: Json }).extensions;
    // A task-capable tool called by a client that takes tasks becomes a task: the SDK lane's work.
    if (!tool || (tool.task && extensions?.[TASKS_EXTENSION] !== undefined)) return;
    return declaresHeaders(tool) ? undefined : tool;
  }

  /**
   * Serves an accepted call (no tool: the definition's `directCall`); `handOver` is the SDK lane,
   * for what this lane does not answer; a JSON answer is built with `answerHeaders` in it (security-headers.ts).
   */
  async function serve(
    request: Request,
    body: Json,
    tool: ToolDefinition | undefined,
    scope: RequestScope,
    handOver: HandOver,
    answerHeaders: Readonly<Record<string, string>>,
  ): Promise<Response> {
    const params = body.params as Json;
    const args = (params.arguments as Json | undefined) ?? {};
    let input: unknown = {};
    if (tool?.input) {
      const checked = await tool.input['~standard'].validate(args);
      // The SDK lane words the refusal.
      if (checked.issues) return handOver();
      input = checked.value;
    }
    // The principal's scopes are frozen: shared, not copied.
    const authInfo: AuthInfo = { token: '', clientId: scope.principal.id, scopes: scope.principal.scopes as string[], extra: { kit: scope } };
    const exchange = new Exchange(keepAliveMs, request.signal, answerHeaders);
    const id = body.id as string | number;
    const ctx = context(request, id, params._meta as Json, authInfo, exchange);
    const run = tool ? runtime.runners.get(tool.name)!(input, ctx) : callRouted(params, ctx);
    run
      .then(
        async (result) => ((await plainResult(result, tool)) ? answer(exchange, id, result as CallToolResult) : exchange.forward(handOver({ result }))),
        // A routed call's error is the SDK lane's to word (its handler throws it again).
        (error: unknown) =>
          !tool || (error as { code?: unknown } | undefined)?.code === URL_ELICITATION_REQUIRED
            ? exchange.forward(handOver({ error }))
            : answer(exchange, id, { content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true }),
      )
      .catch((error: unknown) => exchange.fail(error));
    return exchange.response;
  }

  /** The definition's `directCall`; one that throws before its promise is made rejects it all the same. */
  function callRouted(params: Json, ctx: ServerContext): Promise<unknown> {
    try {
      return routed!({ name: params.name as string, arguments: params.arguments as Json | undefined }, ctx, toolContext);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function answer(exchange: Exchange, id: string | number, result: CallToolResult) {
    exchange.answer({
      result: { ...result, content: result.content ?? [], resultType: 'complete', _meta: { [SERVER_INFO]: runtime.serverInfo } },
      jsonrpc: '2.0',
      id,
    });
  }

  return { accepts, serve };
}
