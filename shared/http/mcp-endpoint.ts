// The MCP endpoint behind its middleware (app.ts): a POST's body read and checked, admitted
// (scopes, rate limits), classified once (classify.ts) and served by the lane that takes it;
// GET and DELETE go to a 2025-era session. Errors are thrown to the one mapper (failure.ts).
import type { Context } from 'hono';
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { KitConfig } from '../config.ts';
import type { KitLogger } from '../log.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import { taskModeOf, taskRuntimeOf } from '../server/define.ts';
import type { TaskService } from '../tasks/service.ts';
import type { RequestScope } from '../request-scope.ts';
import { limitKeyOf } from '../principal.ts';
import type { SessionStore } from '../store/sessions.ts';
import type { Relay } from '../relay/relay.ts';
import { CLIENT_CAPABILITIES_META, LOG_LEVEL_META, MODERN_REVISION } from '../protocol/wire.ts';
import { HttpProtocolError, INVALID_REQUEST, METHOD_NOT_FOUND, SERVER_ERROR } from '../protocol/errors.ts';
import { checkEnvelope } from '../protocol/envelope.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import { readJsonBody } from './body.ts';
import type { LegacyOptions, LegacyRequest } from './legacy.ts';
import { createDirectLane, type Replay } from './direct-lane.ts';
import type { RateLimiter } from './rate-limit.ts';
import { capListenStream } from './listen-cap.ts';
import type { OpenStreams } from './open-streams.ts';
import type { StreamSlots } from './stream-slots.ts';
import { streamIfSlow, type LateError } from './slow-answer.ts';
import { refuseOversizedTask, refuseOverTaskLimit, refuseTaskless } from './task-request.ts';
import type { AccessNote, KitEnv } from './access-log.ts';
import { createAdmission } from './admission.ts';
import { classify, modernHeader, toolsCalled, type Message, type Route } from './classify.ts';
import { createStreamQuota } from './stream-quota.ts';
import { sdkLoader, type SdkLoader } from './sdk-loader.ts';
import { traceMessage } from './request-trace.ts';
import type { Tracer } from '../trace.ts';

export interface EndpointOptions {
  /** `originSecrets`: with any, every request came through CloudFront, which set its viewer's address. */
  config: Pick<KitConfig, 'maxBodyBytes' | 'sseKeepAliveMs' | 'streamMaxSeconds' | 'getStreams' | 'caps'> & { originSecrets?: readonly string[] };
  authenticator: Authenticator;
  runtime: ToolRuntime;
  /** Absent when no tool may run as a task. */
  tasks?: TaskService;
  /** False serves every request through the SDK lane, 2025-era ones too (tests compare the lanes). @default true */
  directLane?: boolean;
  sessions: SessionStore;
  bus: ServerEventBus;
  relay: Relay;
  log: KitLogger;
  /** Absent when rate limiting is off. */
  rateLimiter?: RateLimiter;
  /** The caps on open notification streams counted across instances (Redis); absent, streams are counted per instance only. */
  streamSlots?: StreamSlots;
  /** This instance's open streams: its own cap, and the drain that ends them at shutdown. @default no cap */
  openStreams?: OpenStreams;
  /**
   * Why notification streams are not served (on Lambda without Redis an open stream would hold an
   * environment and receive nothing): `subscriptions/listen` gets -32601 and GET 405 saying so.
   */
  streamsOff?: string;
  /** Records spans; absent when tracing is off (a request still runs in the trace it arrived in). */
  tracer?: Tracer;
}

/** Methods that run the server's own code and so may take long (slow-answer.ts keeps them alive). */
const LONG_RUNNING = new Set(['tools/call', 'resources/read', 'prompts/get', 'completion/complete']);
const acceptsSse = (request: Request) => (request.headers.get('accept') ?? '').includes('text/event-stream');

/** What the MCP endpoint knows of a request once its caller is named. */
type Scope = LegacyRequest['scope'];
type AnswerHeaders = KitEnv['Variables']['answerHeaders'];

/**
 * Each message's envelope, checked (the SDK would refuse a bad one, batch members too, without
 * saying what is wrong); a 2026-07-28 reply is refused, since that era has nothing to reply to.
 */
function checkBody(request: Request, body: unknown): Message | undefined {
  for (const message of Array.isArray(body) ? body : [body]) checkEnvelope(message);
  if (Array.isArray(body)) return undefined;
  const single = body as Message;
  if (single.method === undefined && modernHeader(request)) {
    // Left to the legacy leg it would be told to send initialize, which 2026-07-28 does not have.
    throw new HttpProtocolError(
      400,
      INVALID_REQUEST,
      'Invalid Request: protocol 2026-07-28 has no server-to-client requests to reply to; answer an input_required result by retrying the request with inputResponses',
      undefined,
      single.id ?? null,
    );
  }
  return single;
}

/** The scope a 2026-07-28 request is served under, from its `_meta`. */
function modernScope(base: Scope, message: Message): RequestScope {
  const meta = message.params?._meta;
  return {
    requestId: base.requestId,
    principal: base.principal,
    report: base.report,
    era: 'modern',
    revision: MODERN_REVISION,
    forwardLogs: meta?.[LOG_LEVEL_META] !== undefined,
    clientCapabilities: meta?.[CLIENT_CAPABILITIES_META] as RequestScope['clientCapabilities'],
    request: message as RequestScope['request'],
  };
}

export class McpEndpoint {
  private readonly toolScopes: Map<string, readonly string[]>;
  private readonly taskOnly: Set<string>;
  private readonly taskTools: Set<string>;
  private readonly containerTools: Set<string>;
  private readonly holdStream: LegacyOptions['holdStream'];
  private readonly direct: ReturnType<typeof createDirectLane> | undefined;
  readonly admission: ReturnType<typeof createAdmission>;
  /** The SDK lane, loaded on the first request the direct lane does not take. */
  readonly sdkLanes: SdkLoader;

  /** `lateError` words an error after a slow answer's stream opened (failure.ts). */
  constructor(
    private readonly options: EndpointOptions,
    private readonly lateError: LateError,
  ) {
    const { config, runtime } = options;
    const tools = runtime.definition.tools;
    this.toolScopes = new Map(tools.filter((t) => t.scopes?.length).map((t) => [t.name, t.scopes!]));
    this.taskOnly = new Set(tools.filter((t) => taskModeOf(t) === 'required').map((t) => t.name));
    this.taskTools = new Set(tools.filter((t) => t.task).map((t) => t.name));
    this.containerTools = new Set(tools.filter((t) => taskRuntimeOf(t) === 'container').map((t) => t.name));
    const quota = createStreamQuota(config.caps.openStreams, options.streamSlots, options.openStreams);
    // An anonymous caller's streams count by its address (admission.ts); a refusal is audited.
    this.holdStream = (request, scope) =>
      quota(limitKeyOf(scope.principal)).catch((err: unknown) => {
        this.admission.streamRefused(request, scope.requestId, scope.principal, err);
        throw err;
      });
    this.sdkLanes = sdkLoader({
      runtime,
      tasks: options.tasks,
      sessions: options.sessions,
      bus: options.bus,
      relay: options.relay,
      log: options.log,
      keepAliveMs: config.sseKeepAliveMs,
      maxBodyBytes: config.maxBodyBytes,
      streamMaxSeconds: config.streamMaxSeconds,
      getStreams: config.getStreams,
      holdStream: this.holdStream,
      streamsPerInstance: config.caps.instanceStreams,
      directLane: options.directLane !== false,
    });
    this.direct = options.directLane === false ? undefined : createDirectLane(runtime, config.sseKeepAliveMs);
    this.admission = createAdmission(options.authenticator, options.log, options.rateLimiter, (config.originSecrets?.length ?? 0) > 0);
  }

  /** The route handler, after the access log, guard and authentication middleware. */
  serve(c: Context<KitEnv>): Promise<Response> {
    const note = c.get('note');
    const scope: Scope = { requestId: c.get('requestId'), principal: c.get('principal'), report: (outcome) => (note.outcome = outcome) };
    return c.req.method === 'POST' ? this.post(c.req.raw, scope, note, c.get('answerHeaders')) : this.session(c.req.raw, scope, note);
  }

  /** Scopes and rate limits for a POST body: a single message counted here (a promise when it is), a batch message by message where it is served (batchLimit). */
  private admit(request: Request, scope: Scope, note: AccessNote, single: Message | undefined, tools: string[]): Promise<void> | undefined {
    for (const tool of tools) {
      const scopes = this.toolScopes.get(tool);
      if (scopes) this.admission.requireScopes(request, scope.requestId, scope.principal, tool, scopes);
    }
    const { count } = this.admission;
    return count && single ? count(request, scope.requestId, scope.principal, tools[0], single.id ?? null, note) : undefined;
  }

  /** Audits a request that named another principal's legacy session (legacy.ts answers it 404). */
  private foreignSession(request: Request, scope: Scope) {
    return (sessionId: string, owner: string) => this.admission.foreignSession(request, scope.requestId, scope.principal, sessionId, owner);
  }

  /** Counts one message of a batch (legacy-batch.ts); absent when rate limiting is off. */
  private batchLimit(request: Request, scope: Scope) {
    const { count } = this.admission;
    return (
      count && ((m: Message) => count(request, scope.requestId, scope.principal, m.method === 'tools/call' ? String(m.params?.name) : undefined, m.id ?? null))
    );
  }

  /** `headers`: the request's answer headers, for an answer the direct lane builds (security-headers.ts). */
  private async post(request: Request, scope: Scope, note: AccessNote, headers: AnswerHeaders): Promise<Response> {
    const body = await readJsonBody(request, this.options.config.maxBodyBytes);
    const single = checkBody(request, body);
    // A message's own span, when its `_meta.traceparent` names another parent (request-trace.ts);
    // with tracing off, only a `_meta.traceparent` has anything to do there.
    if (single?.method === undefined || (!this.options.tracer && single.params?._meta?.traceparent === undefined))
      return this.route(request, body, single, scope, note, headers);
    return traceMessage(this.options.tracer, single, () => this.route(request, body, single, scope, note, headers));
  }

  private async route(request: Request, body: unknown, single: Message | undefined, scope: Scope, note: AccessNote, headers: AnswerHeaders): Promise<Response> {
    const tools = toolsCalled(body);
    // Known before any refusal below, so a refused call is still counted against its tool.
    if (single) {
      note.method = single.method;
      note.tool = tools[0];
    }
    const counted = this.admit(request, scope, note, single, tools);
    if (counted) await counted;
    const route = await classify(request, body, this.sdkLanes, this.direct);
    const legacy = route.kind === 'legacy';
    if (single?.method === 'tools/call' && this.taskOnly.has(String(single.params?.name))) refuseTaskless(single, legacy);
    if (single?.method === 'tools/call' && this.taskTools.has(String(single.params?.name))) refuseOversizedTask(single, legacy);
    if (single?.method === 'tools/call' && this.options.tasks && this.containerTools.has(String(single.params?.name)))
      await refuseOverTaskLimit(single, legacy, this.options.tasks, limitKeyOf(scope.principal));
    const keepAliveMs = single?.id !== undefined && LONG_RUNNING.has(single.method ?? '') && acceptsSse(request) ? this.options.config.sseKeepAliveMs : 0;
    const id = single?.id ?? null;
    if (legacy) {
      note.era = 'legacy';
      const { legacy: lane } = await this.sdkLanes();
      const limit = Array.isArray(body) ? this.batchLimit(request, scope) : undefined;
      const onForeignSession = this.foreignSession(request, scope);
      const posted = lane.post({ request, body, scope, note, onForeignSession, headers, ...(limit && { limit }) });
      return streamIfSlow(posted, keepAliveMs, id, scope.requestId, this.lateError);
    }
    note.era = 'modern';
    const answer = this.modern(request, modernScope(scope, body as Message), note, route, headers);
    return route.kind === 'listen' ? answer : streamIfSlow(answer, keepAliveMs, id, scope.requestId, this.lateError);
  }

  /** A 2026-07-28 request: listen, the direct lane, or the SDK lane (with the outcome of the direct lane's run when it hands one over). */
  private modern(request: Request, scope: RequestScope, note: AccessNote, route: Route, headers: AnswerHeaders): Promise<Response> {
    const message = scope.request as Message;
    note.method = message.method;
    if (message.method === 'tools/call') note.tool = String(message.params?.name);
    // The SDK's `authInfo` is built only when the SDK lane serves the request.
    const viaSdk = async (replay?: Replay) => {
      note.lane = 'sdk';
      const { modern } = await this.sdkLanes();
      const kit = replay ? { ...scope, replay } : scope;
      return modern.fetch(request, {
        parsedBody: message,
        authInfo: { token: '', clientId: scope.principal.id, scopes: scope.principal.scopes as string[], extra: { kit } },
      });
    };
    if (route.kind === 'listen') return this.listen(request, scope, message, viaSdk);
    if (route.kind !== 'direct') return viaSdk();
    // 'direct' unless the lane hands the call over.
    note.lane = 'direct';
    return this.direct!.serve(request, message as Record<string, unknown>, route.tool, scope, viaSdk, headers);
  }

  /** `subscriptions/listen`: the SDK lane's stream, counted against the stream caps and ended at the stream cap (listen-cap.ts). */
  private async listen(request: Request, scope: RequestScope, message: Message, viaSdk: () => Promise<Response>): Promise<Response> {
    const { streamsOff, config } = this.options;
    // Answered at once, never retried into: the JSON-RPC way to say this server has no such method.
    if (streamsOff) throw new HttpProtocolError(200, METHOD_NOT_FOUND, `subscriptions/listen is not served here: ${streamsOff}`, undefined, message.id ?? null);
    const lease = await this.holdStream(request, scope);
    try {
      return capListenStream(await viaSdk(), config.streamMaxSeconds * 1000, message.id ?? null, lease);
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  /** GET (a 2025-era session's notification stream), DELETE (its end), and 405 for other methods. */
  private async session(request: Request, scope: Scope, note: AccessNote): Promise<Response> {
    const { method } = request;
    const { config, streamsOff } = this.options;
    note.era = 'legacy';
    if (method !== 'GET' && method !== 'DELETE') {
      return jsonRpcErrorResponse(405, SERVER_ERROR, `Method Not Allowed: use POST (or GET/DELETE with a 2025-era session)`, null, {
        allow: 'GET, POST, DELETE',
      });
    }
    if (method === 'GET' && config.getStreams && streamsOff) {
      // As with MCP_GET_STREAMS=false: the transport spec allows 405, and clients carry on without the stream.
      return jsonRpcErrorResponse(405, SERVER_ERROR, `Method Not Allowed: this server opens no GET notification stream: ${streamsOff}; use POST`, null, {
        allow: 'POST, DELETE',
      });
    }
    // Opening a stream is a request like any other, so a caller over its limit cannot keep opening
    // them (each holds a Lambda environment). Ending a session is never refused.
    const { count } = this.admission;
    if (method === 'GET' && count) await count(request, scope.requestId, scope.principal, undefined, null, note);
    const { legacy } = await this.sdkLanes();
    const req = { request, body: undefined, scope, note, onForeignSession: this.foreignSession(request, scope) };
    return method === 'GET' ? legacy.get(req) : legacy.delete(req);
  }
}
