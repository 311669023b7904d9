// The Hono app for one MCP server: `GET /health`, and the MCP endpoint serving both protocol eras.
// Web-standard only: adapters (Lambda, Node) hand it a Request and relay its Response.
// Composed from middleware, each one concern in its own module: security headers, the origin
// check (guard.ts), the access log, authentication (admission.ts); then one decision on what
// serves the request (classify.ts) and one error mapper (failure.ts).
import { Hono, type Context } from 'hono';
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { AuthConfig, KitConfig } from '../config.ts';
import type { AccessLog, KitLogger } from '../log.ts';
import type { ToolMetrics } from '../metrics.ts';
import { PRM_PATH, protectedResourceMetadata, type Authenticator } from '../auth/authenticate.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import type { TaskService } from '../tasks/service.ts';
import type { RequestScope } from '../request-scope.ts';
import type { SessionStore } from '../store/sessions.ts';
import type { KitFeatures } from '../features.ts';
import type { Relay } from '../relay/relay.ts';
import { CLIENT_CAPABILITIES_META, LOG_LEVEL_META, MODERN_REVISION } from '../protocol/wire.ts';
import { HttpProtocolError, INVALID_REQUEST, METHOD_NOT_FOUND, SERVER_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import { readJsonBody } from './body.ts';
import { checkEnvelope } from '../protocol/envelope.ts';
import type { LegacyRequest } from './legacy.ts';
import { createDirectLane, type Replay } from './direct-lane.ts';
import type { RateLimiter } from './rate-limit.ts';
import { capListenStream } from './listen-cap.ts';
import type { StreamSlots } from './stream-slots.ts';
import { streamIfSlow } from './slow-answer.ts';
import { refuseOversizedTask, refuseTaskless } from './task-request.ts';
import { createHealth, type Probe } from './health.ts';
import { accessLog, type AccessNote, type KitEnv } from './access-log.ts';
import { allowLists, allowOrigin, guard, preflight, verifyOrigin } from './guard.ts';
import { refuseOrigin } from './host-origin.ts';
import { securityHeaders } from './security-headers.ts';
import { errorMapper } from './failure.ts';
import { createAdmission } from './admission.ts';
import { classify, modernHeader, toolsCalled, type Message, type Route } from './classify.ts';
import { createStreamQuota } from './stream-quota.ts';
import { sdkLoader } from './sdk-loader.ts';

export { isLegacy } from './classify.ts';

export interface AppOptions {
  config: Pick<KitConfig, 'path' | 'stage' | 'maxBodyBytes' | 'allowedHosts' | 'allowedOrigins' | 'sseKeepAliveMs' | 'streamMaxSeconds' | 'getStreams' | 'caps'> & {
    auth: AuthConfig;
    /** @default [] (no origin header check) */
    originSecrets?: readonly string[];
  };
  authenticator: Authenticator;
  runtime: ToolRuntime;
  /** Absent when no tool may run as a task. */
  tasks?: TaskService;
  /** False serves every request through the SDK lane (tests compare the lanes). @default true */
  directLane?: boolean;
  sessions: SessionStore;
  bus: ServerEventBus;
  relay: Relay;
  log: KitLogger;
  accessLog: AccessLog;
  /** Per-tool metrics on `tools/call` access lines; absent when metrics are off. */
  toolMetrics?: ToolMetrics;
  /** Absent when rate limiting is off. */
  rateLimiter?: RateLimiter;
  /** Reported by `GET /health`. */
  features: KitFeatures;
  /** Dependency checks for `GET /health?ready`. */
  probes: Record<string, Probe>;
  /** The caps on open notification streams counted across instances (Redis); absent, streams are counted per instance only. */
  streamSlots?: StreamSlots;
  /**
   * Why notification streams are not served (on Lambda without Redis an open stream would hold an
   * environment and receive nothing): `subscriptions/listen` gets -32601 and GET 405 saying so.
   */
  streamsOff?: string;
}

/** Methods that run the server's own code and so may take long (slow-answer.ts keeps them alive). */
const LONG_RUNNING = new Set(['tools/call', 'resources/read', 'prompts/get', 'completion/complete']);
const acceptsSse = (request: Request) => (request.headers.get('accept') ?? '').includes('text/event-stream');

/** What the MCP endpoint knows of a request once its caller is named. */
type Scope = LegacyRequest['scope'];

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

export function createApp(options: AppOptions) {
  const { config, runtime, log, authenticator } = options;
  const { definition } = runtime;
  const toolScopes = new Map(definition.tools.filter((t) => t.scopes?.length).map((t) => [t.name, t.scopes!]));
  const taskOnly = new Set(definition.tools.filter((t) => t.task === 'required').map((t) => t.name));
  const taskTools = new Set(definition.tools.filter((t) => t.task).map((t) => t.name));
  const holdStream = createStreamQuota(config.caps.openStreams, options.streamSlots);
  const sdkLanes = sdkLoader({
    runtime,
    tasks: options.tasks,
    sessions: options.sessions,
    bus: options.bus,
    relay: options.relay,
    log,
    keepAliveMs: config.sseKeepAliveMs,
    maxBodyBytes: config.maxBodyBytes,
    streamMaxSeconds: config.streamMaxSeconds,
    getStreams: config.getStreams,
    holdStream,
  });
  const direct = options.directLane === false ? undefined : createDirectLane(runtime, config.sseKeepAliveMs);
  const { onError, lateError } = errorMapper(log);
  const admission = createAdmission(authenticator, log, options.rateLimiter);

  /** Scopes and rate limits for a POST body: a single message counted here, a batch message by message where it is served (legacy.ts). */
  async function admit(request: Request, base: Scope, note: AccessNote, single: Message | undefined, tools: string[]) {
    for (const tool of tools) {
      const scopes = toolScopes.get(tool);
      if (scopes) admission.requireScopes(request, base.requestId, base.principal, tool, scopes);
    }
    const { count } = admission;
    if (count && single) await count(request, base.requestId, base.principal, tools[0], single.id ?? null, note);
    return count && ((m: Message) => count(request, base.requestId, base.principal, m.method === 'tools/call' ? String(m.params?.name) : undefined, m.id ?? null));
  }

  async function servePost(request: Request, scope: Scope, note: AccessNote): Promise<Response> {
    const body = await readJsonBody(request, config.maxBodyBytes);
    const single = checkBody(request, body);
    const tools = toolsCalled(body);
    // Known before any refusal below, so a refused call is still counted against its tool.
    if (single) {
      note.method = single.method;
      note.tool = tools[0];
    }
    const limit = await admit(request, scope, note, single, tools);
    const route = await classify(request, body, sdkLanes, direct);
    const legacy = route.kind === 'legacy';
    if (single?.method === 'tools/call' && taskOnly.has(String(single.params?.name))) refuseTaskless(single, legacy);
    if (single?.method === 'tools/call' && taskTools.has(String(single.params?.name))) refuseOversizedTask(single, legacy);
    const keepAliveMs = single?.id !== undefined && LONG_RUNNING.has(single.method ?? '') && acceptsSse(request) ? config.sseKeepAliveMs : 0;
    const id = single?.id ?? null;
    if (legacy) {
      note.era = 'legacy';
      const { legacy: lane } = await sdkLanes();
      return streamIfSlow(lane.post({ request, body, scope, note, ...(limit && { limit }) }), keepAliveMs, id, lateError(scope.requestId));
    }
    note.era = 'modern';
    const answer = serveModern(request, modernScope(scope, body as Message), note, route);
    return route.kind === 'listen' ? answer : streamIfSlow(answer, keepAliveMs, id, lateError(scope.requestId));
  }

  /** A 2026-07-28 request: listen, the direct lane, or the SDK lane (with the outcome of the direct lane's run when it hands one over). */
  async function serveModern(request: Request, scope: RequestScope, note: AccessNote, route: Route): Promise<Response> {
    const message = scope.request as Message;
    note.method = message.method;
    if (message.method === 'tools/call') note.tool = String(message.params?.name);
    const authInfo = { token: '', clientId: scope.principal.id, scopes: scope.principal.scopes as string[], extra: { kit: scope } };
    const viaSdk = async (replay?: Replay) => {
      note.lane = 'sdk';
      const { modern } = await sdkLanes();
      return modern.fetch(request, { parsedBody: message, authInfo: replay ? { ...authInfo, extra: { kit: { ...scope, replay } } } : authInfo });
    };
    if (route.kind === 'listen') {
      // Answered at once, never retried into: the JSON-RPC way to say this server has no such method.
      if (options.streamsOff) throw new HttpProtocolError(200, METHOD_NOT_FOUND, `subscriptions/listen is not served here: ${options.streamsOff}`, undefined, message.id ?? null);
      const release = await holdStream(scope.principal.id);
      try {
        return capListenStream(await viaSdk(), config.streamMaxSeconds * 1000, message.id ?? null, release);
      } catch (err) {
        release();
        throw err;
      }
    }
    if (route.kind !== 'direct') return viaSdk();
    // 'direct' unless the lane hands the call over.
    note.lane = 'direct';
    return direct!.serve(request, message as Record<string, unknown>, route.tool, scope, viaSdk);
  }

  /** GET (a 2025-era session's notification stream), DELETE (its end), and 405 for other methods. */
  async function serveSession(request: Request, scope: Scope, note: AccessNote): Promise<Response> {
    const { method } = request;
    note.era = 'legacy';
    if (method !== 'GET' && method !== 'DELETE') {
      return jsonRpcErrorResponse(405, SERVER_ERROR, `Method Not Allowed: use POST (or GET/DELETE with a 2025-era session)`, null, { allow: 'GET, POST, DELETE' });
    }
    if (method === 'GET' && config.getStreams && options.streamsOff) {
      // As with MCP_GET_STREAMS=false: the transport spec allows 405, and clients carry on without the stream.
      return jsonRpcErrorResponse(405, SERVER_ERROR, `Method Not Allowed: this server opens no GET notification stream: ${options.streamsOff}; use POST`, null, { allow: 'POST, DELETE' });
    }
    // Opening a stream is a request like any other, so a caller over its limit cannot keep opening
    // them (each holds a Lambda environment). Ending a session is never refused.
    if (method === 'GET' && admission.count) await admission.count(request, scope.requestId, scope.principal, undefined, null, note);
    const { legacy } = await sdkLanes();
    const req = { request, body: undefined, scope, note };
    return method === 'GET' ? legacy.get(req) : legacy.delete(req);
  }

  function serveMcp(c: Context<KitEnv>): Promise<Response> {
    const note = c.get('note');
    const scope: Scope = { requestId: c.get('requestId'), principal: c.get('principal'), report: (outcome) => (note.outcome = outcome) };
    return c.req.method === 'POST' ? servePost(c.req.raw, scope, note) : serveSession(c.req.raw, scope, note);
  }

  const app = new Hono();
  app.use('*', securityHeaders);
  const originCheck = verifyOrigin(config.originSecrets ?? []);
  if (originCheck) app.use('*', originCheck);

  const health = createHealth({ server: definition, features: options.features, probes: options.probes, reports: definition.readiness, log });
  const detail = definition.readinessDetail;
  /** The detailed readiness sections, for a caller whose credentials carry the definition's admin scope. */
  async function detailFor(request: Request) {
    if (!detail || (!request.headers.has('authorization') && !request.headers.has('x-api-key'))) return undefined;
    // Bad credentials get the public answer: the route itself needs none.
    const principal = await authenticator.authenticate(request).catch(() => undefined);
    return principal?.scopes.includes(detail.scope) ? detail.reports : undefined;
  }
  app.get('/health', async (c) => health(c, c.req.query('ready') === undefined ? undefined : await detailFor(c.req.raw)));

  const { origins } = allowLists(config);
  if (origins) app.options('*', preflight(origins));
  if (config.auth.oauth) {
    // RFC 9728: at the root, and path-inserted for the MCP path.
    const metadata = (c: Context) => {
      const refused = origins && refuseOrigin(c.req.raw, origins);
      if (refused) return refused;
      const response = c.json(protectedResourceMetadata(authenticator, c.req.raw, config.auth, definition.name));
      return origins ? allowOrigin(c.req.raw, response) : response;
    };
    app.get(PRM_PATH, metadata);
    app.get(`${PRM_PATH}${config.path}`, metadata);
  }
  app.notFound((c) => jsonRpcErrorResponse(404, SERVER_ERROR, `Not Found: ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}; this server serves MCP at ${config.path} and its health at GET /health`));
  app.onError(onError);

  // The MCP endpoint, its request id, note and caller typed as context variables.
  const mcp = new Hono<KitEnv>();
  mcp.use('/', accessLog(options.accessLog, options.toolMetrics), guard(config), admission.authenticate);
  mcp.all('/', serveMcp);
  app.route(config.path, mcp);

  return { app, close: sdkLanes.close };
}
