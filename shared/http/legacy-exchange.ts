// One legacy (2025-era) HTTP exchange: a single-use SDK Transport that restores a stored session
// into a pooled server instance, delivers one client message and shapes the answer as JSON or,
// once the handler emits anything before its result, as an SSE stream. Server-to-client requests get wire ids that name the exchange's relay box,
// so a client's reply, or its `notifications/cancelled`, reaches the exchange from any instance:
// directly when it runs in this process, through the relay (shared/relay) otherwise.
import type { JSONRPCMessage, JSONRPCRequest, MessageExtraInfo, Server, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { INTERNAL_ERROR } from '../protocol/errors.ts';
import { shapeOutgoing } from '../protocol/shape.ts';
import { unwrapTaskAnswer } from '../tasks/wire.ts';
import type { Relay, RelayWatch } from '../relay/relay.ts';
import type { SessionRecord } from '../store/sessions.ts';
import type { WireMessage } from '../protocol/envelope.ts';
import { commentEvent, messageEventBytes } from './sse.ts';
import { jsonAnswer, type AnswerHeaders } from './security-headers.ts';
import type { KitLogger } from '../log.ts';

type Id = string | number;
type Message = WireMessage;

const REPLAY_PREFIX = '__kit_replay_';
/** Wire ids the kit gives server-to-client requests: `k1.<base64url of the request key>.<n>`. */
const WIRE_PREFIX = 'k1.';
/** A client request id longer than this is served, but cannot be reached through the relay. */
const MAX_RELAYED_KEY = 256;
const encoder = new TextEncoder();

/** Exchanges in this process that wait for a client's reply to a server-to-client request. */
const awaitingReply = new Map<string, { exchange: LegacyExchange; originalId: Id }>();
/** Exchanges in this process that are running a client request, for `notifications/cancelled`. */
const running = new Map<string, LegacyExchange>();

const requestKey = (id: Id) => `${typeof id === 'number' ? 'n' : 's'}:${id}`;
const key = (sessionId: string, id: Id) => `${sessionId}\n${typeof id}:${id}`;
/** The relay box of the exchange serving a session's request. */
const boxOf = (sessionId: string, reqKey: string) => `${sessionId}:${reqKey}`;

function toBase64Url(text: string): string {
  let binary = '';
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | undefined {
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

/**
 * Delivers a client's JSON-RPC response to the exchange in this process that asked; false when
 * none here did (the caller then relays it).
 */
export function routeClientReply(sessionId: string, message: WireMessage): boolean {
  const k = key(sessionId, message.id!);
  const entry = awaitingReply.get(k);
  if (!entry) return false;
  awaitingReply.delete(k);
  entry.exchange.replied({ ...message, id: entry.originalId } as unknown as JSONRPCMessage);
  return true;
}

/** The relay box a reply belongs to, read off the wire id the kit gave the request; undefined if it gave none. */
export function replyBox(sessionId: string, wireId: Id | null | undefined): string | undefined {
  if (typeof wireId !== 'string' || !wireId.startsWith(WIRE_PREFIX)) return undefined;
  const [encoded, n] = wireId.slice(WIRE_PREFIX.length).split('.');
  const reqKey = encoded && n && /^\d+$/.test(n) ? fromBase64Url(encoded) : undefined;
  return reqKey && /^[ns]:/.test(reqKey) ? boxOf(sessionId, reqKey) : undefined;
}

/**
 * Delivers `notifications/cancelled` to the running exchange it names when that runs here;
 * otherwise returns the box to relay it to (undefined when it names no request).
 */
export function routeCancellation(sessionId: string, message: WireMessage): string | undefined {
  const requestId = message.params?.requestId as Id | undefined;
  if (typeof requestId !== 'string' && typeof requestId !== 'number') return undefined;
  const local = running.get(key(sessionId, requestId));
  if (local) {
    local.cancel(message);
    return undefined;
  }
  const reqKey = requestKey(requestId);
  return reqKey.length <= MAX_RELAYED_KEY ? boxOf(sessionId, reqKey) : undefined;
}

/**
 * A client's reply to a server-to-client request: to the exchange here that asked, or through
 * the relay to the instance that did. False when the kit never sent a request with that id.
 */
export async function deliverReply(relay: Relay, sessionId: string, message: WireMessage): Promise<boolean> {
  if (routeClientReply(sessionId, message)) return true;
  const box = replyBox(sessionId, message.id);
  if (box === undefined) return false;
  await relay.send(box, message);
  return true;
}

/** A client's `notifications/cancelled`: to the exchange running the request, here or through the relay. */
export async function deliverCancellation(relay: Relay, sessionId: string, message: WireMessage): Promise<void> {
  const box = routeCancellation(sessionId, message);
  if (box !== undefined) await relay.send(box, message);
}

export interface ExchangeOptions {
  sessionId?: string;
  /** Whether the client accepts `text/event-stream`; without it mid-call messages are dropped. */
  sse: boolean;
  keepAliveMs: number;
  extra: MessageExtraInfo;
  /** Reaches this exchange from other instances; absent, only this process can. */
  relay?: Relay;
  /** The session's negotiated revision, for an exchange no session is restored into (legacy-lane.ts). */
  revision?: string;
  /** The HTTP request's id, named in the error that ends a stream the request failed on. */
  requestId?: string;
  /** Where a failure after the stream began is logged: the app's error answer, which logs the others, is no longer possible then. */
  log?: Pick<KitLogger, 'error'>;
  /**
   * The request's answer headers (security-headers.ts), for a JSON answer built with them in it;
   * absent, the steps set them afterwards. (An SSE answer gets them set: the access log rewraps it.)
   */
  headers?: Readonly<AnswerHeaders>;
}

export class LegacyExchange implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly sessionId?: string;

  private replies = new Map<Id | null, (message: Message) => void>();
  private requestId?: Id;
  private settle?: (response: Response) => void;
  private refuse?: (error: unknown) => void;
  private responded = false;
  private stream?: ReadableStreamDefaultController<Uint8Array>;
  private keepAlive?: ReturnType<typeof setInterval>;
  private closed = false;
  private ownWireIds: string[] = [];
  private wireCounter = 0;
  /** The request key that server-to-client wire ids name, when the relay can reach this exchange. */
  private relayedKey?: string;
  private encodedKey?: string;
  private watch?: RelayWatch;
  private awaiting = 0;
  /** The session's negotiated revision, once restored: everything sent is shaped for it (shared/protocol). */
  private revision?: string;

  constructor(private readonly options: ExchangeOptions) {
    this.sessionId = options.sessionId;
    this.revision = options.revision;
  }

  async start() {}

  receive(message: JSONRPCMessage) {
    this.onmessage?.(message, this.options.extra);
  }

  /** A reply to one of this exchange's server-to-client requests, with its original id restored. */
  replied(message: JSONRPCMessage) {
    this.awaiting = Math.max(0, this.awaiting - 1);
    this.watch?.hurry(this.awaiting > 0);
    this.receive(message);
  }

  /** Runs a message through the server and resolves with its answer, without touching HTTP. */
  private call(message: JSONRPCRequest): Promise<Message> {
    return new Promise((resolve) => {
      this.replies.set(message.id, resolve);
      this.receive(message);
    });
  }

  /**
   * Gives the pooled instance the session's client, as `initialize` did, then the stored log
   * level. The first time this instance restores a session record, `initialize` is replayed
   * through the SDK; what the SDK made of the client is kept with the record and seeded straight
   * in for the record's next requests (seedClient).
   */
  async restore(session: SessionRecord, server: Server): Promise<void> {
    this.revision = session.protocolVersion;
    const client = restoredClients.get(session);
    if (!client || !seedClient(server, session.protocolVersion, client)) {
      await this.replayInitialize(session);
      restoredClients.set(session, { capabilities: server.getClientCapabilities(), info: server.getClientVersion() });
    }
    if (session.logLevel) await this.call({ jsonrpc: '2.0', id: `${REPLAY_PREFIX}level`, method: 'logging/setLevel', params: { level: session.logLevel } });
  }

  private async replayInitialize(session: SessionRecord): Promise<void> {
    const init = await this.call({
      jsonrpc: '2.0',
      id: `${REPLAY_PREFIX}init`,
      method: 'initialize',
      params: { protocolVersion: session.protocolVersion, capabilities: session.clientCapabilities, clientInfo: session.clientInfo },
    });
    if (init.error) throw new Error(`session restore failed: ${JSON.stringify(init.error)}`);
    this.receive({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  /** Delivers a client request and resolves with its JSON answer, without shaping HTTP. */
  request(message: JSONRPCRequest): Promise<Message> {
    return this.call(message);
  }

  /** Delivers a client request and resolves with the HTTP response that carries its answer. */
  serve(message: JSONRPCRequest): Promise<Response> {
    const response = this.open(message);
    this.receive(message);
    return response;
  }

  /**
   * Makes this the exchange of a client request, reachable by its replies and cancellation, and
   * resolves with the HTTP response that carries its answer; whoever serves it (the SDK through
   * `serve`, or the legacy lane) sends the answer through `send`.
   */
  open(message: JSONRPCRequest): Promise<Response> {
    this.requestId = message.id;
    const runKey = this.sessionId ? key(this.sessionId, message.id) : undefined;
    if (runKey) running.set(runKey, this);
    const reqKey = requestKey(message.id);
    if (this.sessionId && this.options.relay && reqKey.length <= MAX_RELAYED_KEY) {
      this.relayedKey = reqKey;
      // Watched from the next tick, once this turn's promise jobs have run: a call answered within
      // them (most are, and the first poll is 400 ms away) sets and clears no poll timer.
      const box = boxOf(this.sessionId, reqKey);
      process.nextTick(() => this.watchRelay(box));
    }
    const signal = this.options.extra.request?.signal;
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    return new Promise<Response>((resolve, reject) => {
      this.settle = (response) => {
        if (this.responded) return;
        this.responded = true;
        if (runKey) running.delete(runKey);
        resolve(response);
      };
      this.refuse = (error) => {
        if (this.responded) return;
        this.responded = true;
        if (runKey) running.delete(runKey);
        reject(error);
      };
    });
  }

  /**
   * The request could not be served (the SDK instance failed to restore the session): the app's
   * error answer, or, once its SSE stream is open, a JSON-RPC error for it ending the stream.
   */
  fail(error: unknown) {
    this.refuse?.(error);
    if (this.stream && !this.closed && this.requestId !== undefined) {
      const request = this.options.requestId ? ` (request id ${this.options.requestId})` : '';
      const message = `Internal error${request}: the server failed after this response began streaming, so no result follows; retry the request`;
      this.options.log?.error('request failed after its response began streaming', {
        requestId: this.options.requestId,
        error: error instanceof Error ? error.message : String(error),
      });
      this.write({ jsonrpc: '2.0', id: this.requestId, error: { code: INTERNAL_ERROR, message } });
    }
    void this.close();
  }

  /** Polls the exchange's relay box while it still runs, quickly when a reply is already awaited. */
  private watchRelay(box: string) {
    if (this.closed) return;
    this.watch = this.options.relay!.watch(box, (m) => this.fromRelay(m as Message));
    if (this.awaiting > 0) this.watch.hurry(true);
  }

  /** A message another instance relayed here: a reply to this exchange, or a cancellation of it. */
  private fromRelay(message: Message) {
    if (this.closed || !this.sessionId) return;
    if (message.method === 'notifications/cancelled') this.cancel(message);
    else if (message.method === undefined && message.id !== undefined) routeClientReply(this.sessionId, message);
  }

  /**
   * The client cancelled this exchange's request: the handler's signal aborts, and since no answer
   * follows a cancelled request, the response ends here instead of holding the invocation open.
   */
  cancel(message: Message) {
    this.receive(message as unknown as JSONRPCMessage);
    queueMicrotask(() => void this.close());
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    // Every answer, notification and server-to-client request passes here, whatever a tool returned.
    const m = shapeOutgoing(unwrapTaskAnswer(message as unknown as Message), this.revision);
    const isResponse = m.method === undefined && m.id !== undefined;
    if (isResponse) {
      const reply = this.replies.get(m.id!);
      if (reply) {
        this.replies.delete(m.id!);
        reply(m);
        return;
      }
      if (m.id === this.requestId) return this.finish(m);
      return;
    }
    if (this.closed) return;
    // A notification, or a server-to-client request, before the result: stream it.
    if (!this.stream && !this.openStream()) return;
    let out = m;
    if (m.id !== undefined && m.id !== null && this.sessionId) {
      // Encoded when first needed: most calls send the client no request.
      if (this.relayedKey !== undefined) this.encodedKey ??= toBase64Url(this.relayedKey);
      const wireId = this.encodedKey ? `${WIRE_PREFIX}${this.encodedKey}.${++this.wireCounter}` : `l.${crypto.randomUUID()}`;
      awaitingReply.set(key(this.sessionId, wireId), { exchange: this, originalId: m.id });
      this.ownWireIds.push(wireId);
      this.awaiting++;
      this.watch?.hurry(true);
      out = { ...m, id: wireId };
    }
    this.write(out);
  }

  private openStream(): boolean {
    if (!this.options.sse || !this.settle || this.responded) return false;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.stream = controller;
      },
      cancel: () => void this.close(),
    });
    if (this.options.keepAliveMs > 0) {
      this.keepAlive = setInterval(() => this.stream?.enqueue(encoder.encode(commentEvent('keep-alive'))), this.options.keepAliveMs);
    }
    this.settle(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } }));
    return true;
  }

  private write(message: Message) {
    this.stream?.enqueue(messageEventBytes(JSON.stringify(message)));
  }

  private finish(message: Message) {
    if (this.stream) {
      this.write(message);
      this.stream.close();
      this.stream = undefined;
    } else {
      const text = JSON.stringify(message);
      const { headers } = this.options;
      this.settle?.(headers ? jsonAnswer(text, headers) : new Response(text, { status: 200, headers: { 'content-type': 'application/json' } }));
    }
    queueMicrotask(() => void this.close());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.watch?.stop();
    if (this.sessionId) for (const id of this.ownWireIds) awaitingReply.delete(key(this.sessionId, id));
    try {
      this.stream?.close();
    } catch {
      // already closed by the client
    }
    // Answered, with no request to the client outstanding: nothing of the handler is left to run.
    const finished = this.responded && this.awaiting === 0;
    // A client that went away before the result gets nothing; the server still frees the instance.
    this.settle?.(new Response(null, { status: 499 }));
    if (!finished) return this.onclose?.();
    // The SDK builds a ConnectionClosed error on every close, for whatever still waits; after a
    // finished call nothing does, and its stack trace would be built for no one. (Only then: a
    // handler's abort listeners run inside this call and keep their stack traces.)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      this.onclose?.();
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** The client as the SDK parsed it from a session's `initialize`: its schemas normalize (a 2025-06-18 `elicitation: {}` means form). */
interface RestoredClient {
  capabilities: ReturnType<Server['getClientCapabilities']>;
  info: ReturnType<Server['getClientVersion']>;
}

/** Per session record, while the session store keeps that record cached. */
const restoredClients = new WeakMap<SessionRecord, RestoredClient>();

/**
 * Puts a client the SDK already parsed back into an instance, as `initialize` would. Replaying
 * the handshake costs a third of a legacy call (schema checks, the result), so the values are
 * written where the SDK keeps them (fields its types mark private) and read back through its
 * public getters: false, and the caller replays, if a later SDK keeps them elsewhere.
 */
function seedClient(server: Server, revision: string, client: RestoredClient): boolean {
  const fields = server as unknown as Record<string, unknown>;
  if (!('_clientCapabilities' in fields && '_clientVersion' in fields && '_negotiatedProtocolVersion' in fields)) return false;
  fields._clientCapabilities = client.capabilities;
  fields._clientVersion = client.info;
  fields._negotiatedProtocolVersion = revision;
  return (
    server.getClientCapabilities() === client.capabilities && server.getClientVersion() === client.info && server.getNegotiatedProtocolVersion() === revision
  );
}
