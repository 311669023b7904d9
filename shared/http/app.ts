// The Hono app for one MCP server: `GET /health`, and the MCP endpoint serving both protocol eras.
// Web-standard only: adapters (Lambda, Node) hand it a Request and relay its Response.
import { Hono, type Context } from 'hono';
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { KitConfig } from '../config.ts';
import type { AccessLog, KitLogger } from '../log.ts';
import type { ToolMetrics, ToolOutcome } from '../metrics.ts';
import { ANONYMOUS, type Principal } from '../principal.ts';
import { PRM_PATH, protectedResourceMetadata, type Authenticator } from '../auth/authenticate.ts';
import type { AuthConfig } from '../config.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import type { TaskService } from '../tasks/service.ts';
import type { RequestScope } from '../request-scope.ts';
import type { SessionStore } from '../store/sessions.ts';
import { readJsonBody } from './body.ts';
import { DependencyUnavailableError, callerMessage, failureFields, isDependencyError } from '../dependency.ts';
import { QuotaExceededError } from '../store/quota.ts';
import { CLIENT_CLOSED_REQUEST, ClientGoneError, HttpProtocolError, INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, MISSING_CLIENT_CAPABILITY, SERVER_ERROR } from '../protocol/errors.ts';
import { errorResponse, jsonRpcErrorResponse } from './errors.ts';
import { TASKS_EXTENSION } from '../tasks/wire.ts';
import { checkEnvelope, type LegacyRequest } from './legacy.ts';
import { CLIENT_CAPABILITIES_META, LEGACY_REVISIONS, LOG_LEVEL_META, MODERN_REVISION } from '../protocol/wire.ts';
import { createDirectLane, type Replay } from './direct-lane.ts';
import { hostnames, refuseHost, refuseOrigin } from './host-origin.ts';
import type { SdkLanes } from './sdk-lanes.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { KitFeatures } from '../features.ts';
import type { Relay } from '../relay/relay.ts';
import { capListenStream } from './listen-cap.ts';
import type { StreamClaim, StreamSlots } from './stream-slots.ts';
import { streamIfSlow } from './slow-answer.ts';
import { refuseOversizedTask } from './task-request.ts';
import { createHealth, type Probe } from './health.ts';
import { originVerifier } from './origin-verify.ts';
import { presentedCredential, requestOrigin } from '../audit.ts';

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

/**
 * What the access line says about a request; `lane` for modern requests: which lane answered.
 * `outcome` is what the tool runner reported, `rateLimited` that a rate limit refused the request.
 */
type Note = LegacyRequest['note'] & { era?: string; lane?: 'direct' | 'sdk'; outcome?: ToolOutcome; rateLimited?: boolean };

/** On every response: nothing here is a page, may be framed, cached, sniffed or referred from. */
const SECURITY_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=63072000'],
  ['cache-control', 'no-store'],
];

function secure(response: Response): Response {
  for (const [name, value] of SECURITY_HEADERS) response.headers.set(name, value);
  return response;
}

/** The same response, calling `done` once its body has been read to the end or abandoned. */
function whenBodyEnds(response: Response, done: () => void): Response {
  const reader = response.body!.getReader();
  let called = false;
  const finish = () => {
    if (!called) (called = true), done();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          finish();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const CORS_ALLOW_HEADERS = 'authorization, content-type, accept, x-api-key, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id';
const CORS_EXPOSE_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after, x-request-id';

/**
 * CORS for browser-based clients, only for origins on MCP_ALLOWED_ORIGINS (already validated by
 * the time this runs). Without an allow-list no CORS headers are sent and browsers stay blocked.
 */
function allowOrigin(request: Request, response: Response): Response {
  const origin = request.headers.get('origin');
  if (origin) {
    response.headers.set('access-control-allow-origin', origin);
    response.headers.set('access-control-expose-headers', CORS_EXPOSE_HEADERS);
    response.headers.append('vary', 'Origin');
  }
  return response;
}

type Message = { id?: string | number | null; method?: string; params?: { name?: unknown } };

/** Names of the tools a POST body calls, for scope checks and rate limits. */
function toolsCalled(body: unknown): string[] {
  const messages = (Array.isArray(body) ? body : [body]) as Message[];
  const tools: string[] = [];
  for (const m of messages) if (m?.method === 'tools/call') tools.push(String(m.params?.name));
  return tools;
}

const MODERN_VERSIONS = new Set([MODERN_REVISION]);
/** Methods that run the server's own code and so may take long (slow-answer.ts keeps them alive). */
const LONG_RUNNING = new Set(['tools/call', 'resources/read', 'prompts/get', 'completion/complete']);
const acceptsSse = (request: Request) => (request.headers.get('accept') ?? '').includes('text/event-stream');

const LEGACY_VERSIONS = new Set(LEGACY_REVISIONS);

/**
 * A `_meta` a 2025-era client sends on a request or notification: none, or only a progress token
 * of the type the SDK's schema takes. It carries no 2026-07-28 envelope claim.
 */
function plainLegacyMeta(params: unknown): boolean {
  const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  if (meta === undefined) return true;
  const token = meta.progressToken;
  return Object.keys(meta).every((k) => k === 'progressToken') && (typeof token === 'string' || Number.isSafeInteger(token));
}

/**
 * The SDK's era classification, with shortcuts for the common requests (both need neither the
 * SDK nor its schema checks; test/core/routing.test.ts holds them to the SDK's verdicts):
 * - a single message with a method under a 2026-07-28 `MCP-Protocol-Version` header is never
 *   legacy (the SDK sends even envelope-less ones to its modern path to be refused there);
 * - a single request or notification (its envelope already checked, checkEnvelope) under no
 *   version header or a 2025-era one, whose `_meta` is at most a progress token, is legacy.
 */
export function isLegacy(request: Request, body: unknown, lanes: () => Promise<SdkLanes>): Promise<boolean> | boolean {
  const version = request.headers.get('mcp-protocol-version');
  if (!Array.isArray(body) && typeof (body as Message).method === 'string') {
    if (version !== null && MODERN_VERSIONS.has(version)) return false;
    if ((version === null || LEGACY_VERSIONS.has(version)) && plainLegacyMeta((body as Message).params)) return true;
  }
  return lanes().then((l) => l.isLegacyRequest(request, body));
}

/** 403 for a browser origin on a stage that lists none: says which setting lets it in. */
function originNotListed(request: Request): Response {
  return jsonRpcErrorResponse(
    403,
    SERVER_ERROR,
    `Forbidden: Origin ${JSON.stringify(request.headers.get('origin')!.slice(0, 200))} is not allowed; list the origins browsers may call from in MCP_ALLOWED_ORIGINS (the construct's allowedOrigins prop)`,
  );
}

/**
 * A stream a cap counted in Redis refused: 429 for the caller's own cap, 503 for the server's, and
 * when a slot frees at the latest (the oldest stream that cap counts reaches the stream cap).
 */
function streamRefusal({ refused, retryAfterSeconds: wait }: Extract<StreamClaim, { refused: unknown }>, perPrincipal: number, max: number): HttpProtocolError {
  if (refused === 'principal') {
    const retry = wait === undefined ? 'then retry' : `or retry after ${wait} s, when your oldest reaches the stream cap`;
    return new HttpProtocolError(429, SERVER_ERROR, `Too many open notification streams: at most ${perPrincipal} per caller at once across this server (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, ${retry}`, { 'retry-after': String(wait ?? 5) });
  }
  const retry = wait === undefined ? 'retry later' : `retry after ${wait} s, when the oldest reaches the stream cap`;
  return new HttpProtocolError(503, SERVER_ERROR, `Too many notification streams open on this server: at most ${max} at once (MCP_MAX_OPEN_STREAMS), so calls keep the capacity they need; ${retry}`, { 'retry-after': String(wait ?? 30) });
}

export function createApp(options: AppOptions) {
  const { config, runtime, log, authenticator } = options;
  const { definition } = runtime;
  const toolScopes = new Map(definition.tools.filter((t) => t.scopes?.length).map((t) => [t.name, t.scopes!]));
  const allowedHosts = config.allowedHosts.length ? hostnames(config.allowedHosts) : undefined;
  const allowedOrigins = config.allowedOrigins.length ? hostnames(config.allowedOrigins) : undefined;
  // The spec says servers MUST validate Origin. Locally `npm start` lists loopback; a deployed
  // stage without a list refuses any Origin rather than accept every one.
  const refuseEveryOrigin = !allowedOrigins && config.stage !== 'local';

  const taskOnly = new Set(definition.tools.filter((t) => t.task === 'required').map((t) => t.name));
  const taskTools = new Set(definition.tools.filter((t) => t.task).map((t) => t.name));
  /**
   * A call of a tool that runs only as a task, from a client that takes no tasks, is refused as a
   * protocol error (the SDK would turn an error in the tool into an isError result): -32021 with
   * the capability to declare (2026-07-28), -32601 for a 2025-11-25 call without `task`.
   */
  function refuseTaskless(message: Message, legacyRequest: boolean) {
    const params = (message.params ?? {}) as Record<string, unknown>;
    if (legacyRequest) {
      if (params.task !== undefined) return;
      throw new HttpProtocolError(200, METHOD_NOT_FOUND, `${String(params.name)} runs only as a task: call it with the "task" parameter (tasks/result then returns its result)`, undefined, message.id ?? null);
    }
    const capabilities = (params._meta as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META] as { extensions?: Record<string, unknown> } | undefined;
    if (capabilities?.extensions?.[TASKS_EXTENSION] !== undefined) return;
    throw new HttpProtocolError(
      400,
      MISSING_CLIENT_CAPABILITY,
      `Missing required client capability: ${String(params.name)} runs only as a task; declare the ${TASKS_EXTENSION} extension in the request's client capabilities`,
      undefined,
      message.id ?? null,
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    );
  }

  const streams = new Map<string, number>();
  /**
   * Counts an open notification stream against its caller's cap and the server-wide cap, in Redis
   * when the server has it (stream-slots.ts: the only count that binds on Lambda), and against the
   * caller's cap on this instance either way (the bound while Redis is absent or unreachable);
   * returns its release.
   */
  async function holdStream(principalId: string): Promise<() => void> {
    const perPrincipal = config.caps.openStreams;
    const open = streams.get(principalId) ?? 0;
    if (open >= perPrincipal) {
      throw new HttpProtocolError(429, SERVER_ERROR, `Too many open notification streams: at most ${perPrincipal} per caller on one server instance (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, then retry`, { 'retry-after': '5' });
    }
    streams.set(principalId, open + 1);
    let released = false;
    const releaseHere = () => {
      if (released) return;
      released = true;
      const left = (streams.get(principalId) ?? 1) - 1;
      if (left > 0) streams.set(principalId, left);
      else streams.delete(principalId);
    };
    // claim() never throws: an unreachable Redis leaves the stream counted on this instance only.
    const slot = options.streamSlots ? await options.streamSlots.claim(principalId) : { release: () => {} };
    if ('refused' in slot) {
      releaseHere();
      throw streamRefusal(slot, perPrincipal, options.streamSlots!.max);
    }
    return () => {
      releaseHere();
      slot.release();
    };
  }

  // The SDK lane, loaded with the SDK on the first request the direct lane does not take.
  let loading: Promise<SdkLanes> | undefined;
  const lanes = () =>
    (loading ??= import('./sdk-lanes.ts').then(({ createSdkLanes }) =>
      createSdkLanes({
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
      }),
    ));
  // A failed load is retried by the next request rather than remembered.
  const sdkLanes = () => lanes().catch((error: unknown) => ((loading = undefined), Promise.reject(error)));
  const direct = options.directLane === false ? undefined : createDirectLane(runtime, config.sseKeepAliveMs);

  /**
   * What the client is told when a request fails outside the protocol: a typed refusal as it is,
   * a dependency that is down as 503 naming it, anything else as a logged internal error.
   */
  function failure(err: unknown, requestId: string): HttpProtocolError {
    if (err instanceof HttpProtocolError) return err;
    if (err instanceof QuotaExceededError) return new HttpProtocolError(429, SERVER_ERROR, err.message, { 'retry-after': String(err.retryAfterSeconds) });
    if (err instanceof DependencyUnavailableError) {
      log.warn('dependency unavailable', failureFields(err, requestId));
      return new HttpProtocolError(503, SERVER_ERROR, `Service Unavailable: ${callerMessage(err, requestId)}`, { 'retry-after': '5' });
    }
    log.error('request failed', { requestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err), ...(isDependencyError(err) && failureFields(err, requestId)) });
    return new HttpProtocolError(500, INTERNAL_ERROR, `Internal error (request id ${requestId})`);
  }

  /** An error after a slow answer's stream opened: the same words the JSON answer would have had. */
  const lateError = (requestId: string) => (err: unknown) => {
    const { code, message } = failure(err, requestId);
    return { code, message };
  };

  // Audit lines (shared/audit.ts), written where a refusal is caught: a call that passes pays nothing.
  /** The authenticator's refusal of a request's credentials, as it was; 503s (cannot check now) are no event. */
  function authFailed(err: unknown, request: Request, requestId: string): unknown {
    if (err instanceof HttpProtocolError && err.status === 401) {
      log.audit('auth.failed', { requestId, ...requestOrigin(request), ...presentedCredential(request), status: err.status, reason: err.message });
    }
    return err;
  }

  /** Throws 403 insufficient_scope, audited, when the caller lacks a scope the tool needs. */
  function requireScopes(request: Request, requestId: string, principal: Principal, tool: string, scopes: readonly string[]): void {
    try {
      authenticator.requireScopes(request, principal, scopes);
    } catch (err) {
      log.audit('scope.refused', { requestId, principal: principal.id, ...requestOrigin(request), tool, required: scopes, missing: scopes.filter((s) => !principal.scopes.includes(s)) });
      throw err;
    }
  }

  /** Counts a request against the caller's rate limits (and the tool's); throws 429 over them, audited. */
  async function countRequest(limiter: RateLimiter, request: Request, requestId: string, principal: Principal, tool: string | undefined, id: string | number | null, note?: Note): Promise<void> {
    await limiter.check(principal.id, tool, id).catch((err: unknown) => {
      const refused = err instanceof HttpProtocolError && err.status === 429;
      if (note) note.rateLimited = refused;
      if (refused) log.audit('rate_limit.refused', { requestId, principal: principal.id, ...requestOrigin(request), ...(tool !== undefined && { tool }), reason: err.message, retryAfter: Number(err.headers?.['retry-after']) });
      throw err;
    });
  }

  async function serveMcp(c: Context, scopeBase: { requestId: string; principal: Principal; report(outcome: ToolOutcome): void }, note: Note): Promise<Response> {
    const request = c.req.raw;
    const method = request.method;
    if (method === 'POST') {
      const body = await readJsonBody(request, config.maxBodyBytes);
      // Each message of a batch too: the SDK would refuse a bad one without saying what is wrong.
      for (const message of Array.isArray(body) ? body : [body]) checkEnvelope(message);
      if (!Array.isArray(body) && (body as Message).method === undefined && MODERN_VERSIONS.has(request.headers.get('mcp-protocol-version') ?? '')) {
        // Left to the legacy leg it would be told to send initialize, which 2026-07-28 does not have.
        throw new HttpProtocolError(
          400,
          INVALID_REQUEST,
          'Invalid Request: protocol 2026-07-28 has no server-to-client requests to reply to; answer an input_required result by retrying the request with inputResponses',
          undefined,
          (body as Message).id ?? null,
        );
      }
      const tools = toolsCalled(body);
      // Known before any refusal below, so a refused call is still counted against its tool.
      if (!Array.isArray(body)) {
        note.method = (body as Message).method;
        note.tool = tools[0];
      }
      const { requestId, principal: caller } = scopeBase;
      for (const tool of tools) {
        const scopes = toolScopes.get(tool);
        if (scopes) requireScopes(request, requestId, caller, tool, scopes);
      }
      const { rateLimiter } = options;
      // A batch is counted message by message where it is served (legacy.ts).
      if (rateLimiter && !Array.isArray(body)) await countRequest(rateLimiter, request, requestId, caller, tools[0], (body as Message).id ?? null, note);
      const limit = rateLimiter && ((m: Message) => countRequest(rateLimiter, request, requestId, caller, m.method === 'tools/call' ? String(m.params?.name) : undefined, m.id ?? null));
      const single = Array.isArray(body) ? undefined : (body as Message);
      const legacyRequest = await isLegacy(request, body, sdkLanes);
      if (single?.method === 'tools/call' && taskOnly.has(String(single.params?.name))) refuseTaskless(single, legacyRequest);
      if (single?.method === 'tools/call' && taskTools.has(String(single.params?.name))) refuseOversizedTask(single, legacyRequest);
      const keepAliveMs = single?.id !== undefined && LONG_RUNNING.has(single.method ?? '') && acceptsSse(request) ? config.sseKeepAliveMs : 0;
      if (legacyRequest) {
        note.era = 'legacy';
        const { legacy } = await sdkLanes();
        return streamIfSlow(legacy.post({ request, body, scope: scopeBase, note, ...(limit && { limit }) }), keepAliveMs, single?.id ?? null, lateError(scopeBase.requestId));
      }
      note.era = 'modern';
      const message = body as { method?: string; params?: { name?: unknown; _meta?: Record<string, unknown> } };
      note.method = message.method;
      if (message.method === 'tools/call') note.tool = String(message.params?.name);
      const { principal } = scopeBase;
      const meta = message.params?._meta;
      const scope: RequestScope = {
        requestId: scopeBase.requestId,
        principal,
        report: scopeBase.report,
        era: 'modern',
        revision: MODERN_REVISION,
        forwardLogs: meta?.[LOG_LEVEL_META] !== undefined,
        clientCapabilities: meta?.[CLIENT_CAPABILITIES_META] as RequestScope['clientCapabilities'],
        request: message as RequestScope['request'],
      };
      const authInfo = { token: '', clientId: principal.id, scopes: principal.scopes as string[], extra: { kit: scope } };
      // The SDK lane serves it, with the outcome of the direct lane's run when it hands one over.
      const viaSdk = async (replay?: Replay) => {
        note.lane = 'sdk';
        const { modern } = await sdkLanes();
        return modern.fetch(request, { parsedBody: body, authInfo: replay ? { ...authInfo, extra: { kit: { ...scope, replay } } } : authInfo });
      };
      if (message.method === 'subscriptions/listen') {
        // Answered at once, never retried into: the JSON-RPC way to say this server has no such method.
        if (options.streamsOff) throw new HttpProtocolError(200, METHOD_NOT_FOUND, `subscriptions/listen is not served here: ${options.streamsOff}`, undefined, single?.id ?? null);
        const release = await holdStream(principal.id);
        try {
          return capListenStream(await viaSdk(), config.streamMaxSeconds * 1000, single?.id ?? null, release);
        } catch (err) {
          release();
          throw err;
        }
      }
      const tool = direct?.accepts(request, message as Record<string, unknown>);
      // 'direct' unless the lane hands the call over.
      if (tool) note.lane = 'direct';
      const answer = tool ? direct!.serve(request, message as Record<string, unknown>, tool, scope, viaSdk) : viaSdk();
      return streamIfSlow(answer, keepAliveMs, single?.id ?? null, lateError(scopeBase.requestId));
    }
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
    if (method === 'GET' && options.rateLimiter) await countRequest(options.rateLimiter, request, scopeBase.requestId, scopeBase.principal, undefined, null, note);
    const { legacy } = await sdkLanes();
    return method === 'GET' ? legacy.get({ request, body: undefined, scope: scopeBase, note }) : legacy.delete({ request, body: undefined, scope: scopeBase, note });
  }

  const app = new Hono();

  // Before every route: on a deployed stage nothing answers a request that went around CloudFront.
  const verifyOrigin = originVerifier(config.originSecrets ?? []);
  if (verifyOrigin) app.use('*', async (c, next) => {
    const refused = verifyOrigin(c.req.raw);
    if (refused) return secure(refused);
    await next();
  });

  const health = createHealth({ server: definition, features: options.features, probes: options.probes, reports: definition.readiness, log });
  const detail = definition.readinessDetail;
  /** The detailed readiness sections, for a caller whose credentials carry the definition's admin scope. */
  async function detailFor(request: Request) {
    if (!detail || (!request.headers.has('authorization') && !request.headers.has('x-api-key'))) return undefined;
    // Bad credentials get the public answer: the route itself needs none.
    const principal = await authenticator.authenticate(request).catch(() => undefined);
    return principal?.scopes.includes(detail.scope) ? detail.reports : undefined;
  }
  app.get('/health', async (c) => secure(await health(c, c.req.query('ready') === undefined ? undefined : await detailFor(c.req.raw))));

  if (allowedOrigins) {
    // Preflight for browser clients on an allowed origin; others get the Origin refusal.
    app.options('*', (c) => {
      const refused = refuseOrigin(c.req.raw, allowedOrigins);
      if (refused || !c.req.header('origin')) return secure(refused ?? new Response(null, { status: 204 }));
      const response = new Response(null, { status: 204 });
      response.headers.set('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS');
      response.headers.set('access-control-allow-headers', CORS_ALLOW_HEADERS);
      response.headers.set('access-control-max-age', '600');
      return secure(allowOrigin(c.req.raw, response));
    });
  }

  if (config.auth.oauth) {
    // RFC 9728: at the root, and path-inserted for the MCP path.
    const metadata = (c: Context) => {
      const refused = allowedOrigins && refuseOrigin(c.req.raw, allowedOrigins);
      if (refused) return secure(refused);
      const response = c.json(protectedResourceMetadata(authenticator, c.req.raw, config.auth, definition.name));
      return secure(allowedOrigins ? allowOrigin(c.req.raw, response) : response);
    };
    app.get(PRM_PATH, metadata);
    app.get(`${PRM_PATH}${config.path}`, metadata);
  }

  app.notFound((c) =>
    secure(jsonRpcErrorResponse(404, SERVER_ERROR, `Not Found: ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}; this server serves MCP at ${config.path} and its health at GET /health`)),
  );

  app.all(config.path, async (c) => {
    const started = performance.now();
    const request = c.req.raw;
    const requestId = request.headers.get('x-request-id')?.slice(0, 128) || crypto.randomUUID();
    const note: Note = {};
    let principal = ANONYMOUS;
    let response: Response;
    let refused: Response | undefined;
    try {
      refused =
        (allowedHosts && refuseHost(request, allowedHosts)) ||
        (allowedOrigins && refuseOrigin(request, allowedOrigins)) ||
        (refuseEveryOrigin && request.headers.has('origin') ? originNotListed(request) : undefined);
      if (refused) response = refused;
      else {
        try {
          principal = await authenticator.authenticate(request);
        } catch (err) {
          throw authFailed(err, request, requestId);
        }
        response = await serveMcp(c, { requestId, principal, report: (outcome) => (note.outcome = outcome) }, note);
      }
    } catch (err) {
      if (err instanceof ClientGoneError) {
        log.info('client went away', { requestId, detail: err.message });
        response = new Response(null, { status: CLIENT_CLOSED_REQUEST });
      } else response = errorResponse(failure(err, requestId));
    }
    const status = response.status;
    const logLine = () => {
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const fields = { requestId, era: note.era, lane: note.lane, sessionId: note.sessionId, principal: principal.id, method: note.method, tool: note.tool, status, durationMs };
      const metrics = note.tool && options.toolMetrics?.(note.tool, note.era ?? 'legacy', Date.now(), durationMs, note.outcome, status, note.rateLimited === true);
      options.accessLog(fields, metrics || undefined);
    };
    // A streamed answer is logged when it ends, with how the tool ended and how long it all took
    // (unless no line would be written at all).
    const logged = !options.accessLog.quiet || options.toolMetrics !== undefined;
    if (logged && note.tool && response.body && response.headers.get('content-type')?.startsWith('text/event-stream')) response = whenBodyEnds(response, logLine);
    else if (logged) logLine();
    response.headers.set('x-request-id', requestId);
    return secure(allowedOrigins && !refused ? allowOrigin(request, response) : response);
  });

  return {
    app,
    /** Closes the SDK lane's open exchanges and listen streams, if it was ever loaded. */
    close: async () => {
      if (loading) await (await loading.catch(() => undefined))?.modern.close();
    },
  };
}
