// Serves 2025-era clients (2024-11-05 through 2025-11-25) with real sessions kept in DynamoDB:
// `initialize` mints and stores a session, every later request restores it on whatever instance
// receives it, DELETE ends it, GET streams list-changed notifications from the event bus.
// Replies to server-to-client requests and cancellations reach the exchange they belong to on any
// instance (legacy-exchange.ts, shared/relay); batches are served in legacy-batch.ts.
import type { JSONRPCRequest, LoggingLevel, ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import type { ServerFactory } from '../server/build.ts';
import { limitKeyOf } from '../principal.ts';
import type { RequestScope } from '../request-scope.ts';
import type { SessionRecord, SessionStore } from '../store/sessions.ts';
import { HttpProtocolError, SERVER_ERROR, SESSION_NOT_FOUND, invalidRequest as invalid } from '../protocol/errors.ts';
import { checkStandardHeaders, type WireMessage } from '../protocol/envelope.ts';
import { LEGACY_REVISIONS } from '../protocol/wire.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import type { Relay } from '../relay/relay.ts';
import { LegacyExchange, deliverCancellation, deliverReply } from './legacy-exchange.ts';
import { checkBatch, checkBatchRevision, isRequest, isResponse, serveBatch } from './legacy-batch.ts';
import { SseWriter, commentEvent } from './sse.ts';
import type { HeldStream } from './open-streams.ts';
import type { createLegacyLane } from './legacy-lane.ts';
import type { KitLogger } from '../log.ts';
import type { AnswerHeaders } from './security-headers.ts';

export { MAX_BATCH_MESSAGES } from './legacy-batch.ts';

/** A client describes itself in a few hundred bytes; this leaves room for large experimental capabilities. */
export const MAX_CLIENT_DESCRIPTION_CHARS = 16_384;

type Message = WireMessage;

export interface LegacyOptions {
  factory: ServerFactory;
  sessions: SessionStore;
  bus: ServerEventBus;
  keepAliveMs: number;
  /** GET streams are closed after this long; 0 keeps them open until the client leaves. */
  streamMaxSeconds: number;
  /** False answers GET with 405: the session has no notification stream (see KitConfig.getStreams). */
  getStreams: boolean;
  /** Counts an open stream against its caller's cap (throws when over it); returns its lease. */
  holdStream(request: Request, scope: LegacyRequest['scope']): Promise<HeldStream>;
  /** Carries replies and cancellations to exchanges running on other instances. */
  relay: Relay;
  /** Serves plain requests without an SDK instance (legacy-lane.ts); absent, the SDK serves every request. */
  lane?: ReturnType<typeof createLegacyLane>;
  /** Logs what no error answer can report (a failure after a response began streaming). */
  log?: Pick<KitLogger, 'error'>;
}

export interface LegacyRequest {
  request: Request;
  /** The parsed POST body, every message's envelope already checked (mcp-endpoint.ts). */
  body: unknown;
  scope: Omit<RequestScope, 'era' | 'sessionId' | 'forwardLogs'>;
  /** Filled in for the access log. */
  note: { sessionId?: string; method?: string; tool?: string; lane?: 'direct' | 'sdk' };
  /**
   * Counts one message of a batch against the rate limits; throws HttpProtocolError when it is
   * over. Absent when rate limiting is off. (A single message is counted before it gets here.)
   */
  limit?: (message: WireMessage) => Promise<void>;
  /** Audits a request that named another principal's session (it is answered as an unknown one). */
  onForeignSession?: (sessionId: string, owner: string) => void;
  /** The request's answer headers, for a JSON answer the legacy lane builds (security-headers.ts). */
  headers?: Readonly<AnswerHeaders>;
}

const EVENT_METHOD: Record<Exclude<ServerEvent['kind'], 'resource_updated'>, string> = {
  tools_list_changed: 'notifications/tools/list_changed',
  prompts_list_changed: 'notifications/prompts/list_changed',
  resources_list_changed: 'notifications/resources/list_changed',
};

const acceptsSse = (request: Request) => (request.headers.get('accept') ?? '').includes('text/event-stream');

/** A session's notification stream: list-changed events from the bus, with keep-alives, until the client leaves or the stream cap. */
function notificationStream(request: Request, bus: ServerEventBus, options: LegacyOptions, lease: HeldStream): Response {
  let unsubscribe = () => {};
  let lifetime: ReturnType<typeof setTimeout> | undefined;
  const stream = new SseWriter(() => {
    lease.release();
    unsubscribe();
    clearTimeout(lifetime);
  });
  unsubscribe = bus.subscribe((event) => {
    // resources/updated goes only to sessions that subscribed to the resource, and the kit
    // does not offer resources/subscribe to 2025-era clients: none are sent here.
    if (event.kind === 'resource_updated') return;
    stream.send({ jsonrpc: '2.0', method: EVENT_METHOD[event.kind], ...(event.params && { params: event.params }) });
  });
  stream.keepAlive(options.keepAliveMs, 'keep-alive');
  // Flush headers at once so clients see the stream open.
  stream.write(commentEvent('stream open'));
  const end = () => stream.close();
  request.signal?.addEventListener('abort', end);
  // A draining instance (a container shutting down) closes it; the client reopens it elsewhere.
  lease.onDrain(end);
  // A stream is billed for as long as it is open on Lambda; clients reopen a closed GET stream.
  if (options.streamMaxSeconds > 0) lifetime = setTimeout(end, options.streamMaxSeconds * 1000);
  return new Response(stream.body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
}

async function loadSession(sessions: SessionStore, req: LegacyRequest): Promise<SessionRecord> {
  const id = req.request.headers.get('mcp-session-id');
  if (!id) invalid('Bad Request: Mcp-Session-Id header is required (send initialize first to start a session)');
  req.note.sessionId = id;
  const session = await sessions.get(id);
  // Another principal's session answers exactly like an unknown one.
  if (!session || session.principalId !== req.scope.principal.id) {
    if (session) req.onForeignSession?.(id, session.principalId);
    throw new HttpProtocolError(404, SESSION_NOT_FOUND, 'Session not found: it expired or was terminated; send initialize to start a new one');
  }
  // The transport spec asks for 400 only on an unsupported version, and the SDK's own transport
  // accepts any supported one; deployed clients (the official conformance suite 0.1.16 among
  // them) send a supported version that differs from the negotiated one. The session's
  // negotiated version is what the request is served under.
  const version = req.request.headers.get('mcp-protocol-version');
  if (version !== null && !LEGACY_REVISIONS.includes(version)) {
    invalid(`Bad Request: unsupported MCP-Protocol-Version "${version}" (supported: ${LEGACY_REVISIONS.join(', ')})`);
  }
  return session;
}

/** A new exchange for a request of `session` (or for `initialize`), and the scope it carries to handlers. */
function exchangeFor(
  options: LegacyOptions,
  req: LegacyRequest,
  session: SessionRecord | undefined,
  sse: boolean,
  message?: Message,
  headers?: LegacyRequest['headers'],
) {
  const scope: RequestScope = {
    ...req.scope,
    era: 'legacy',
    ...(session && { sessionId: session.id, clientCapabilities: session.clientCapabilities, revision: session.protocolVersion }),
    ...(message && { request: message }),
    forwardLogs: session?.logLevel !== undefined,
  };
  const authInfo = { token: '', clientId: scope.principal.id, scopes: [...scope.principal.scopes], extra: { kit: scope } };
  const exchange = new LegacyExchange({
    ...(session && { sessionId: session.id, revision: session.protocolVersion }),
    sse,
    keepAliveMs: options.keepAliveMs,
    extra: { request: req.request, authInfo },
    relay: options.relay,
    requestId: scope.requestId,
    ...(options.log && { log: options.log }),
    ...(headers && { headers }),
  });
  return { exchange, scope, authInfo };
}

/** A pooled server instance connected to `exchange`, with the session restored into it; the exchange fails (and closes) when that fails. */
async function connectServer(options: LegacyOptions, exchange: LegacyExchange, session: SessionRecord | undefined) {
  const server = options.factory.acquire('legacy');
  await server.connect(exchange);
  if (!session) return server;
  try {
    await exchange.restore(session, server.server);
  } catch (err) {
    exchange.fail(err);
    throw err;
  }
  return server;
}

/** A pooled server instance connected to a new exchange, with the session restored into it when there is one. */
async function openExchange(
  options: LegacyOptions,
  req: LegacyRequest,
  session: SessionRecord | undefined,
  sse: boolean,
  message?: Message,
): Promise<LegacyExchange> {
  const { exchange } = exchangeFor(options, req, session, sse, message);
  await connectServer(options, exchange, session);
  return exchange;
}

/** acquire -> connect -> restore -> `use` -> close, for an answer that is whole when `use` returns. */
async function withExchange<T>(
  options: LegacyOptions,
  req: LegacyRequest,
  session: SessionRecord | undefined,
  message: Message | undefined,
  use: (exchange: LegacyExchange) => Promise<T>,
): Promise<T> {
  const exchange = await openExchange(options, req, session, false, message);
  try {
    return await use(exchange);
  } finally {
    await exchange.close();
  }
}

async function initialize(options: LegacyOptions, req: LegacyRequest, message: JSONRPCRequest & Message): Promise<Response> {
  if (req.request.headers.get('mcp-session-id')) {
    invalid('Bad Request: initialize must not carry an Mcp-Session-Id header; omit it to start a new session', message.id);
  }
  return withExchange(options, req, undefined, undefined, async (exchange) => {
    const answer = await exchange.request(message);
    if (answer.error) return Response.json(answer, { status: 200 });
    const params = message.params as { capabilities?: object; clientInfo?: SessionRecord['clientInfo'] };
    // Both are stored in the session item (400 KB at most in DynamoDB) and cached per instance.
    const stored = JSON.stringify(params.clientInfo ?? {}).length + JSON.stringify(params.capabilities ?? {}).length;
    if (stored > MAX_CLIENT_DESCRIPTION_CHARS) {
      invalid(
        `Invalid Request: initialize "clientInfo" and "capabilities" must not exceed ${MAX_CLIENT_DESCRIPTION_CHARS} characters of JSON together (got ${stored})`,
        message.id,
      );
    }
    const { principal } = req.scope;
    const session = await options.sessions.create({
      protocolVersion: (answer.result as { protocolVersion: string }).protocolVersion,
      clientInfo: params.clientInfo ?? { name: 'unknown', version: '0' },
      clientCapabilities: params.capabilities ?? {},
      principalId: principal.id,
      ...(limitKeyOf(principal) !== principal.id && { countedAs: limitKeyOf(principal) }),
    });
    req.note.sessionId = session.id;
    return Response.json(answer, { headers: { 'mcp-session-id': session.id } });
  });
}

/** One request, answered as JSON or a stream; the exchange closes itself when its answer ends. */
async function serveRequest(options: LegacyOptions, req: LegacyRequest, session: SessionRecord, message: JSONRPCRequest & Message): Promise<Response> {
  const exchange = await openExchange(options, req, session, acceptsSse(req.request), message);
  const response = await exchange.serve(message);
  if (message.method === 'logging/setLevel' && response.status === 200) {
    const level = (message.params as { level?: LoggingLevel } | undefined)?.level;
    if (level) await options.sessions.setLogLevel(session, level);
  }
  return response;
}

/**
 * A request the legacy lane takes, served on an exchange of its own; the lane connects an SDK
 * instance to it only for what it hands over.
 */
async function serveDirect(
  options: LegacyOptions,
  req: LegacyRequest,
  session: SessionRecord,
  message: JSONRPCRequest & Message,
  target: NonNullable<ReturnType<NonNullable<LegacyOptions['lane']>['accepts']>>,
): Promise<Response> {
  const { exchange, scope, authInfo } = exchangeFor(options, req, session, acceptsSse(req.request), message, req.headers);
  const response = exchange.open(message);
  req.note.lane = 'direct';
  const sdk = async () => {
    req.note.lane = 'sdk';
    return connectServer(options, exchange, session);
  };
  await options.lane!.serve({ exchange, message, session, scope, authInfo, request: req.request, sdk }, target);
  return response;
}

export function createLegacyHandler(options: LegacyOptions) {
  const { sessions, bus, relay } = options;

  async function postBatch(req: LegacyRequest, messages: Message[]): Promise<Response> {
    checkBatch(messages);
    const session = await loadSession(sessions, req);
    checkBatchRevision(session);
    req.note.method = 'batch';
    await sessions.touch(session);
    const serve = (m: JSONRPCRequest & Message) => withExchange(options, req, session, m, (exchange) => exchange.request(m));
    return serveBatch(session, messages, { relay, limit: req.limit, serve });
  }

  async function post(req: LegacyRequest): Promise<Response> {
    const { body } = req;
    const messages = (Array.isArray(body) ? body : [body]) as Message[];
    checkStandardHeaders(req.request, messages);
    if (Array.isArray(body)) return postBatch(req, messages);
    const message = body as Message;
    req.note.method = message.method ?? 'response';
    if (message.method === 'tools/call') req.note.tool = String((message.params as { name?: unknown } | undefined)?.name);
    if (message.method === 'initialize') {
      if (!isRequest(message)) invalid('Invalid Request: initialize is a request: give it an "id"');
      return initialize(options, req, message);
    }
    const session = await loadSession(sessions, req);
    await sessions.touch(session);
    if (isResponse(message)) {
      if (await deliverReply(relay, session.id, message)) return new Response(null, { status: 202 });
      invalid(
        `Invalid Request: this session was sent no request with id ${JSON.stringify(message.id)}; a response answers a server-to-client request and carries its id`,
      );
    }
    if (!isRequest(message)) {
      if (message.method === 'notifications/cancelled') await deliverCancellation(relay, session.id, message);
      return new Response(null, { status: 202 });
    }
    const target = options.lane?.accepts(message);
    return target ? serveDirect(options, req, session, message, target) : serveRequest(options, req, session, message);
  }

  /** A session's notification stream (notificationStream), counted against its caller's stream cap. */
  async function get(req: LegacyRequest): Promise<Response> {
    if (!options.getStreams) {
      return jsonRpcErrorResponse(
        405,
        SERVER_ERROR,
        'Method Not Allowed: this server opens no GET notification stream (MCP_GET_STREAMS=false); use POST',
        null,
        { allow: 'POST, DELETE' },
      );
    }
    if (!acceptsSse(req.request)) {
      return jsonRpcErrorResponse(406, SERVER_ERROR, 'Not Acceptable: a GET stream needs Accept: text/event-stream');
    }
    await loadSession(sessions, req);
    req.note.method = 'GET stream';
    const lease = await options.holdStream(req.request, req.scope);
    return notificationStream(req.request, bus, options, lease);
  }

  async function remove(req: LegacyRequest): Promise<Response> {
    const session = await loadSession(sessions, req);
    req.note.method = 'DELETE';
    await sessions.delete(session);
    return new Response(null, { status: 204 });
  }

  return { post, get, delete: remove };
}
