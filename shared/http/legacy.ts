// Serves 2025-era clients (2024-11-05 through 2025-11-25) with real sessions kept in DynamoDB:
// `initialize` mints and stores a session, every later request restores it on whatever instance
// receives it, DELETE ends it, GET streams list-changed notifications from the event bus.
// Replies to server-to-client requests and cancellations reach the exchange they belong to on any
// instance (legacy-exchange.ts, shared/relay).
import type { JSONRPCRequest, LoggingLevel, ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import type { ServerFactory } from '../server/build.ts';
import type { RequestScope } from '../request-scope.ts';
import type { SessionRecord, SessionStore } from '../store/sessions.ts';
import { HEADER_MISMATCH, HttpProtocolError, INVALID_REQUEST, SERVER_ERROR, SESSION_NOT_FOUND } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import type { Relay } from '../relay/relay.ts';
import { LEGACY_REVISIONS, isObject } from '../protocol/wire.ts';
import { LegacyExchange, replyBox, routeCancellation, routeClientReply, type WireMessage } from './legacy-exchange.ts';

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
  /** Counts an open stream against its caller's cap (throws when over it); returns its release. */
  holdStream(principalId: string): Promise<() => void>;
  /** Carries replies and cancellations to exchanges running on other instances. */
  relay: Relay;
}

export interface LegacyRequest {
  request: Request;
  /** The parsed POST body, every message's envelope already checked (app.ts). */
  body: unknown;
  scope: Omit<RequestScope, 'era' | 'sessionId' | 'forwardLogs'>;
  /** Filled in for the access log. */
  note: { sessionId?: string; method?: string; tool?: string };
  /**
   * Counts one message of a batch against the rate limits; throws HttpProtocolError when it is
   * over. Absent when rate limiting is off. (A single message is counted before it gets here.)
   */
  limit?: (message: WireMessage) => Promise<void>;
}

/** Most messages in one batch: each is served in turn, and without rate limiting nothing else bounds the work. */
export const MAX_BATCH_MESSAGES = 500;

const EVENT_METHOD: Record<Exclude<ServerEvent['kind'], 'resource_updated'>, string> = {
  tools_list_changed: 'notifications/tools/list_changed',
  prompts_list_changed: 'notifications/prompts/list_changed',
  resources_list_changed: 'notifications/resources/list_changed',
};

const isRequest = (m: Message): m is JSONRPCRequest & Message => typeof m.method === 'string' && m.id !== undefined && m.id !== null;
const isResponse = (m: Message) => m.method === undefined && m.id !== undefined && ('result' in m || 'error' in m);
const acceptsSse = (request: Request) => (request.headers.get('accept') ?? '').includes('text/event-stream');

function invalid(message: string, id: Message['id'] = null): never {
  throw new HttpProtocolError(400, INVALID_REQUEST, message, undefined, id ?? null);
}

/** The members each kind of message may have: the SDK refuses any other, so the kit names it first. */
const MEMBERS = {
  request: ['jsonrpc', 'id', 'method', 'params'],
  notification: ['jsonrpc', 'method', 'params'],
  response: ['jsonrpc', 'id', 'result'],
  'error response': ['jsonrpc', 'id', 'error'],
};

/**
 * Checks the JSON-RPC 2.0 envelope of one message as strictly as the SDK will, with an error that
 * names what is wrong (the SDK's own answer only says the body is not a valid message).
 */
export function checkEnvelope(m: unknown): Message {
  if (!isObject(m)) invalid('Invalid Request: each JSON-RPC message must be an object');
  const msg = m as Message;
  const validId = typeof msg.id === 'string' || Number.isSafeInteger(msg.id);
  const id = validId ? msg.id : null;
  if (msg.jsonrpc !== '2.0') invalid('Invalid Request: "jsonrpc" must be "2.0"', id);
  if (msg.id === null) invalid('Invalid Request: "id" must not be null: give a request a string or integer "id", and leave "id" out of a notification');
  if (msg.id !== undefined && !validId) invalid('Invalid Request: "id" must be a string or an integer (a safe one, at most 2^53 - 1 in magnitude)');
  if (msg.method !== undefined && typeof msg.method !== 'string') invalid('Invalid Request: "method" must be a string', id);
  let kind: keyof typeof MEMBERS;
  if (msg.method !== undefined) {
    kind = msg.id === undefined ? 'notification' : 'request';
    if ('params' in msg && !isObject(msg.params)) invalid('Invalid Request: "params" must be an object', id);
    if (msg.params && '_meta' in msg.params && !isObject(msg.params._meta)) invalid('Invalid Request: "params._meta" must be an object', id);
  } else if (msg.id !== undefined && ('result' in msg || 'error' in msg)) {
    kind = 'result' in msg ? 'response' : 'error response';
    if ('result' in msg && !isObject(msg.result)) invalid('Invalid Request: "result" must be an object', id);
    const error = msg.error as { code?: unknown; message?: unknown } | undefined;
    if ('error' in msg && !(isObject(error) && Number.isSafeInteger(error.code) && typeof error.message === 'string')) {
      invalid('Invalid Request: "error" must be an object with an integer "code" and a string "message"', id);
    }
  } else invalid('Invalid Request: a message needs a "method", or a "result" or "error" with an "id"', id);
  const extra = Object.keys(msg).find((k) => !MEMBERS[kind].includes(k));
  if (extra !== undefined) invalid(`Invalid Request: unexpected member ${JSON.stringify(extra)} in a JSON-RPC ${kind} (allowed: ${MEMBERS[kind].join(', ')})`, id);
  return msg;
}

/** What a request acts on, as `Mcp-Name` names it: the tool, the prompt, or the resource. */
function targetOf(m: Message): unknown {
  if (m.method === 'tools/call' || m.method === 'prompts/get') return m.params?.name;
  if (m.method === 'resources/read' || m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') return m.params?.uri;
  return undefined;
}

/**
 * 2025-era clients do not send `Mcp-Method` or `Mcp-Name`, but a gateway may route or authorize on
 * them: a header that disagrees with any message of the body must not steer it past such a rule.
 * Checked as the 2026-07-28 era checks them (-32020), every message of a batch included.
 */
function checkStandardHeaders(request: Request, messages: Message[]): void {
  const method = request.headers.get('mcp-method');
  const name = request.headers.get('mcp-name');
  if (method === null && name === null) return;
  for (const m of messages) {
    if (m.method === undefined) continue;
    if (method !== null && method !== m.method) {
      throw new HttpProtocolError(400, HEADER_MISMATCH, `Bad Request: the Mcp-Method header (${method.slice(0, 100)}) does not match the request's method (${m.method})`, undefined, m.id ?? null);
    }
    const target = targetOf(m);
    if (name !== null && target !== undefined && name !== target) {
      throw new HttpProtocolError(400, HEADER_MISMATCH, `Bad Request: the Mcp-Name header (${name.slice(0, 100)}) does not match what the request names (${String(target).slice(0, 100)})`, undefined, m.id ?? null);
    }
  }
}

export function createLegacyHandler(options: LegacyOptions) {
  const { factory, sessions, bus, relay } = options;

  async function loadSession(req: LegacyRequest): Promise<SessionRecord> {
    const id = req.request.headers.get('mcp-session-id');
    if (!id) invalid('Bad Request: Mcp-Session-Id header is required (send initialize first to start a session)');
    req.note.sessionId = id;
    const session = await sessions.get(id);
    // Another principal's session answers exactly like an unknown one.
    if (!session || session.principalId !== req.scope.principal.id) {
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

  function exchangeFor(req: LegacyRequest, session: SessionRecord | undefined, sse: boolean, message?: Message) {
    const scope: RequestScope = {
      ...req.scope,
      era: 'legacy',
      ...(session && { sessionId: session.id, clientCapabilities: session.clientCapabilities, revision: session.protocolVersion }),
      ...(message && { request: message }),
      forwardLogs: session?.logLevel !== undefined,
    };
    const authInfo = { token: '', clientId: scope.principal.id, scopes: [...scope.principal.scopes], extra: { kit: scope } };
    return new LegacyExchange({
      ...(session && { sessionId: session.id }),
      sse,
      keepAliveMs: options.keepAliveMs,
      extra: { request: req.request, authInfo },
      relay: options.relay,
    });
  }

  async function initialize(req: LegacyRequest, message: JSONRPCRequest & Message): Promise<Response> {
    if (req.request.headers.get('mcp-session-id')) {
      invalid('Bad Request: initialize must not carry an Mcp-Session-Id header; omit it to start a new session', message.id);
    }
    const server = factory.acquire('legacy');
    const exchange = exchangeFor(req, undefined, false);
    await server.connect(exchange);
    try {
      const answer = await exchange.request(message);
      if (answer.error) return Response.json(answer, { status: 200 });
      const params = message.params as { capabilities?: object; clientInfo?: SessionRecord['clientInfo'] };
      // Both are stored in the session item (400 KB at most in DynamoDB) and cached per instance.
      const stored = JSON.stringify(params.clientInfo ?? {}).length + JSON.stringify(params.capabilities ?? {}).length;
      if (stored > MAX_CLIENT_DESCRIPTION_CHARS) {
        invalid(`Invalid Request: initialize "clientInfo" and "capabilities" must not exceed ${MAX_CLIENT_DESCRIPTION_CHARS} characters of JSON together (got ${stored})`, message.id);
      }
      const session = await sessions.create({
        protocolVersion: (answer.result as { protocolVersion: string }).protocolVersion,
        clientInfo: params.clientInfo ?? { name: 'unknown', version: '0' },
        clientCapabilities: params.capabilities ?? {},
        principalId: req.scope.principal.id,
      });
      req.note.sessionId = session.id;
      return Response.json(answer, { headers: { 'mcp-session-id': session.id } });
    } finally {
      await exchange.close();
    }
  }

  async function serveRequest(req: LegacyRequest, session: SessionRecord, message: JSONRPCRequest & Message): Promise<Response> {
    const server = factory.acquire('legacy');
    const exchange = exchangeFor(req, session, acceptsSse(req.request), message);
    await server.connect(exchange);
    try {
      await exchange.restore(session, server.server);
    } catch (err) {
      await exchange.close();
      throw err;
    }
    const response = await exchange.serve(message);
    if (message.method === 'logging/setLevel' && response.status === 200) {
      const level = (message.params as { level?: LoggingLevel } | undefined)?.level;
      if (level) await sessions.setLogLevel(session, level);
    }
    return response;
  }

  /**
   * A client's reply to a server-to-client request: to the exchange here that asked, or through
   * the relay to the instance that did. False when the kit never sent a request with that id.
   */
  async function deliverReply(sessionId: string, message: Message): Promise<boolean> {
    if (routeClientReply(sessionId, message)) return true;
    const box = replyBox(sessionId, message.id);
    if (box === undefined) return false;
    await relay.send(box, message);
    return true;
  }

  async function deliverCancellation(sessionId: string, message: Message): Promise<void> {
    const box = routeCancellation(sessionId, message);
    if (box !== undefined) await relay.send(box, message);
  }

  /**
   * 2025-03-26 batches: answered in order as one JSON array (no streaming inside a batch). Every
   * message counts against the rate limits on its own; one over the limit is answered with its
   * own error in the array, and the messages before it are served.
   */
  async function serveBatch(req: LegacyRequest, session: SessionRecord, messages: Message[]): Promise<Response> {
    const answers: unknown[] = [];
    const verdicts = req.limit ? await Promise.all(messages.map((m) => req.limit!(m).then(() => undefined, (error: unknown) => error))) : [];
    for (const [i, m] of messages.entries()) {
      const refused = verdicts[i];
      if (refused !== undefined) {
        if (!(refused instanceof HttpProtocolError)) throw refused;
        if (isRequest(m)) answers.push({ jsonrpc: '2.0', id: m.id, error: { code: refused.code, message: refused.message } });
      } else if (isResponse(m)) await deliverReply(session.id, m);
      else if (!isRequest(m)) {
        if (m.method === 'notifications/cancelled') await deliverCancellation(session.id, m);
      } else answers.push(await serveInBatch(req, session, m));
    }
    return answers.length ? Response.json(answers) : new Response(null, { status: 202 });
  }

  async function serveInBatch(req: LegacyRequest, session: SessionRecord, m: JSONRPCRequest & Message): Promise<Message> {
    const server = factory.acquire('legacy');
    const exchange = exchangeFor(req, session, false, m);
    await server.connect(exchange);
    try {
      await exchange.restore(session, server.server);
      return await exchange.request(m);
    } finally {
      await exchange.close();
    }
  }

  async function post(req: LegacyRequest): Promise<Response> {
    const { body } = req;
    const messages = (Array.isArray(body) ? body : [body]) as Message[];
    checkStandardHeaders(req.request, messages);
    if (Array.isArray(body)) {
      if (body.length === 0) invalid('Invalid Request: empty batch');
      if (body.length > MAX_BATCH_MESSAGES) invalid(`Invalid Request: a batch holds at most ${MAX_BATCH_MESSAGES} messages (got ${body.length}); send the rest in another request`);
      const init = messages.find((m) => m.method === 'initialize');
      if (init) invalid('Invalid Request: initialize must not be part of a batch; send it alone to start a session', init.id);
      const session = await loadSession(req);
      if (session.protocolVersion !== '2025-03-26' && session.protocolVersion !== '2024-11-05') {
        invalid(`Invalid Request: JSON-RPC batches are not part of protocol ${session.protocolVersion}; send one message per POST`);
      }
      req.note.method = 'batch';
      await sessions.touch(session);
      return serveBatch(req, session, messages);
    }
    const message = body as Message;
    req.note.method = message.method ?? 'response';
    if (message.method === 'tools/call') req.note.tool = String((message.params as { name?: unknown } | undefined)?.name);
    if (message.method === 'initialize') {
      if (!isRequest(message)) invalid('Invalid Request: initialize is a request: give it an "id"');
      return initialize(req, message);
    }
    const session = await loadSession(req);
    await sessions.touch(session);
    if (isResponse(message)) {
      if (await deliverReply(session.id, message)) return new Response(null, { status: 202 });
      invalid(`Invalid Request: this session was sent no request with id ${JSON.stringify(message.id)}; a response answers a server-to-client request and carries its id`);
    }
    if (!isRequest(message)) {
      if (message.method === 'notifications/cancelled') await deliverCancellation(session.id, message);
      return new Response(null, { status: 202 });
    }
    return serveRequest(req, session, message);
  }

  /** A session's notification stream: list-changed events from the bus, with keep-alives. */
  async function get(req: LegacyRequest): Promise<Response> {
    if (!options.getStreams) {
      return jsonRpcErrorResponse(405, SERVER_ERROR, 'Method Not Allowed: this server opens no GET notification stream (MCP_GET_STREAMS=false); use POST', null, { allow: 'POST, DELETE' });
    }
    if (!acceptsSse(req.request)) {
      return jsonRpcErrorResponse(406, SERVER_ERROR, 'Not Acceptable: a GET stream needs Accept: text/event-stream');
    }
    await loadSession(req);
    req.note.method = 'GET stream';
    const release = await options.holdStream(req.scope.principal.id);
    const encoder = new TextEncoder();
    let unsubscribe = () => {};
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    let lifetime: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      release();
      unsubscribe();
      clearInterval(keepAlive);
      clearTimeout(lifetime);
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const write = (text: string) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            stop();
          }
        };
        unsubscribe = bus.subscribe((event) => {
          // resources/updated goes only to sessions that subscribed to the resource, and the kit
          // does not offer resources/subscribe to 2025-era clients: none are sent here.
          if (event.kind === 'resource_updated') return;
          write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: EVENT_METHOD[event.kind], ...(event.params && { params: event.params }) })}\n\n`);
        });
        if (options.keepAliveMs > 0) keepAlive = setInterval(() => write(': keep-alive\n\n'), options.keepAliveMs);
        // Flush headers at once so clients see the stream open.
        write(': stream open\n\n');
        const end = () => {
          stop();
          try {
            controller.close();
          } catch {
            // already closed
          }
        };
        req.request.signal?.addEventListener('abort', end);
        // A stream is billed for as long as it is open on Lambda; clients reopen a closed GET stream.
        if (options.streamMaxSeconds > 0) lifetime = setTimeout(end, options.streamMaxSeconds * 1000);
      },
      cancel: stop,
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }

  async function remove(req: LegacyRequest): Promise<Response> {
    const session = await loadSession(req);
    req.note.method = 'DELETE';
    await sessions.delete(session);
    return new Response(null, { status: 204 });
  }

  return { post, get, delete: remove };
}
