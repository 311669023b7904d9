// One legacy (2025-era) HTTP exchange: a single-use SDK Transport that restores a stored session
// into a pooled server instance, delivers one client message and shapes the answer as JSON or,
// once the handler emits anything before its result, as an SSE stream. Server-to-client requests
// get instance-unique wire ids so a client's reply POST can be routed back to this exchange.
import type { JSONRPCMessage, JSONRPCRequest, MessageExtraInfo, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import type { SessionRecord } from '../store/sessions.ts';

type Id = string | number;
/** A JSON-RPC message as it arrives off the wire, before the SDK has typed it. */
export type WireMessage = { jsonrpc?: string; id?: Id | null; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };
type Message = WireMessage;

const REPLAY_PREFIX = '__kit_replay_';
const encoder = new TextEncoder();

let wireCounter = 0;
const instanceTag = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);

/** Exchanges in this process that wait for a client's reply to a server-to-client request. */
const awaitingReply = new Map<string, { exchange: LegacyExchange; originalId: Id }>();
/** Exchanges in this process that are running a client request, for `notifications/cancelled`. */
const running = new Map<string, LegacyExchange>();

const key = (sessionId: string, id: Id) => `${sessionId}\n${typeof id}:${id}`;

/** Delivers a client's JSON-RPC response to the exchange in this process that asked; false if none does. */
export function routeClientReply(sessionId: string, message: WireMessage): boolean {
  const k = key(sessionId, message.id!);
  const entry = awaitingReply.get(k);
  if (!entry) return false;
  awaitingReply.delete(k);
  entry.exchange.receive({ ...message, id: entry.originalId } as unknown as JSONRPCMessage);
  return true;
}

/** Delivers `notifications/cancelled` to the running exchange it names, when that runs here. */
export function routeCancellation(sessionId: string, message: WireMessage): void {
  const requestId = message.params?.requestId as Id | undefined;
  if (requestId === undefined) return;
  running.get(key(sessionId, requestId))?.receive(message as unknown as JSONRPCMessage);
}

export interface ExchangeOptions {
  sessionId?: string;
  /** Whether the client accepts `text/event-stream`; without it mid-call messages are dropped. */
  sse: boolean;
  keepAliveMs: number;
  extra: MessageExtraInfo;
}

export class LegacyExchange implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly sessionId?: string;

  private replies = new Map<Id | null, (message: Message) => void>();
  private requestId?: Id;
  private settle?: (response: Response) => void;
  private stream?: ReadableStreamDefaultController<Uint8Array>;
  private keepAlive?: ReturnType<typeof setInterval>;
  private closed = false;
  private ownWireIds: string[] = [];

  constructor(private readonly options: ExchangeOptions) {
    this.sessionId = options.sessionId;
  }

  async start() {}

  receive(message: JSONRPCMessage) {
    this.onmessage?.(message, this.options.extra);
  }

  /** Runs a message through the server and resolves with its answer, without touching HTTP. */
  private call(message: JSONRPCRequest): Promise<Message> {
    return new Promise((resolve) => {
      this.replies.set(message.id, resolve);
      this.receive(message);
    });
  }

  /** Replays `initialize` (and the stored log level) so the instance sees the session's client. */
  async restore(session: SessionRecord): Promise<void> {
    const init = await this.call({
      jsonrpc: '2.0',
      id: `${REPLAY_PREFIX}init`,
      method: 'initialize',
      params: { protocolVersion: session.protocolVersion, capabilities: session.clientCapabilities, clientInfo: session.clientInfo },
    });
    if (init.error) throw new Error(`session restore failed: ${JSON.stringify(init.error)}`);
    this.receive({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (session.logLevel) await this.call({ jsonrpc: '2.0', id: `${REPLAY_PREFIX}level`, method: 'logging/setLevel', params: { level: session.logLevel } });
  }

  /** Delivers a client request and resolves with its JSON answer, without shaping HTTP. */
  request(message: JSONRPCRequest): Promise<Message> {
    return this.call(message);
  }

  /** Delivers a client request and resolves with the HTTP response that carries its answer. */
  serve(message: JSONRPCRequest): Promise<Response> {
    this.requestId = message.id;
    const runKey = this.sessionId ? key(this.sessionId, message.id) : undefined;
    if (runKey) running.set(runKey, this);
    const signal = this.options.extra.request?.signal;
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    return new Promise<Response>((resolve) => {
      this.settle = (response) => {
        if (runKey) running.delete(runKey);
        resolve(response);
      };
      this.receive(message);
    });
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    const m = message as unknown as Message;
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
      const wireId = `${instanceTag}.${++wireCounter}`;
      awaitingReply.set(key(this.sessionId, wireId), { exchange: this, originalId: m.id });
      this.ownWireIds.push(wireId);
      out = { ...m, id: wireId };
    }
    this.write(out);
  }

  private openStream(): boolean {
    if (!this.options.sse || !this.settle) return false;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.stream = controller;
      },
      cancel: () => void this.close(),
    });
    if (this.options.keepAliveMs > 0) {
      this.keepAlive = setInterval(() => this.stream?.enqueue(encoder.encode(': keep-alive\n\n')), this.options.keepAliveMs);
    }
    this.settle(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } }));
    return true;
  }

  private write(message: Message) {
    this.stream?.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`));
  }

  private finish(message: Message) {
    if (this.stream) {
      this.write(message);
      this.stream.close();
      this.stream = undefined;
    } else {
      this.settle?.(new Response(JSON.stringify(message), { status: 200, headers: { 'content-type': 'application/json' } }));
    }
    queueMicrotask(() => void this.close());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    if (this.sessionId) for (const id of this.ownWireIds) awaitingReply.delete(key(this.sessionId, id));
    try {
      this.stream?.close();
    } catch {
      // already closed by the client
    }
    // A client that went away before the result gets nothing; the server still frees the instance.
    this.settle?.(new Response(null, { status: 499 }));
    this.onclose?.();
  }
}
