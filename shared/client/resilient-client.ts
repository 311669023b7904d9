// ResilientClient: one MCP server, called through the SDK's client with what a caller in
// production needs around it: both protocol eras (connection.ts), a time limit on every call,
// retries with backoff for what is safe to send again (retry.ts), a circuit breaker that fails
// fast while the server is down (breaker.ts), list results cached for their `ttlMs`, and typed
// errors that name the server (errors.ts). Usable on its own, e.g. from another Lambda; the
// gateway (shared/gateway/) holds one per upstream.
// It does not fulfil `input_required` answers: they come back to the caller as they are, to
// answer and retry with `inputResponses` and `requestState`. Breaker and caches live in this
// process; 2025-era sessions too, unless a session store (`sessions`) shares them between processes.
import {
  InMemoryResponseCacheStore,
  type CacheableRequestOptions,
  type CallToolResult,
  type ClientCapabilities,
  type CompleteResult,
  type ElicitRequestParams,
  type ElicitResult,
  type GetPromptResult,
  type Implementation,
  type InputRequiredResult,
  type ListPromptsResult,
  type ListResourceTemplatesResult,
  type ListResourcesResult,
  type ListToolsResult,
  type OAuthClientProvider,
  type Progress,
  type ReadResourceResult,
  type RequestOptions,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/client';
import type { PendingWork } from '../pending-work.ts';
import { declaresHeaderParams } from '../protocol/wire.ts';
import { CircuitBreaker, type BreakerOptions } from './breaker.ts';
import { connect, type Connection, type Protocol, type ResumableSession, type UpstreamNotification, type UpstreamSessionStore } from './connection.ts';
import {
  CircuitOpenError,
  SessionGoneError,
  UpstreamAnswerTooLargeError,
  UpstreamAuthError,
  UpstreamProtocolError,
  type UpstreamError,
  UpstreamRateLimitedError,
  classify,
} from './errors.ts';
import { upstreamFetch, withHeaders, type Fetch } from './http.ts';
import { ListCache } from './list-cache.ts';
import { DEFAULT_MAX_ANSWER_BYTES } from './answer-limit.ts';
import { RawCallRedirected, rawCallTool } from './raw-call.ts';
import { checkedTransport, fetchTransport, type CheckedTransport, type UpstreamTransport } from './transport.ts';
import { retryDelay, retryPolicy, sleep, type RetryOptions, type RetryPolicy } from './retry.ts';

/**
 * How the client proves who it is: a static API key, or an OAuth provider (the SDK runs its grant:
 * client credentials, a private-key JWT, or an authorization code). Discovery, registration,
 * scope selection and step-up, the token endpoint's authentication method and `iss` checks are
 * the SDK's.
 */
export type UpstreamAuth =
  | { apiKey: string /** `authorization` sends `Bearer <key>`; any other header the key as it is. @default 'authorization' */; header?: string }
  | {
      oauth: OAuthClientProvider;
      /**
       * Authorization-code grants: the query parameters of the callback that answered the
       * authorization request `oauth.redirectToAuthorization` was last given (code, state, iss).
       * The client redeems them and sends the refused request again. Without it, a grant that
       * needs the user fails the call with UpstreamAuthError.
       */
      authorizationResponse?: () => Promise<URLSearchParams>;
    };

export interface TimeoutOptions {
  /** Connecting: the discover probe or the initialize handshake. @default 5000 */
  connectMs?: number;
  /** Lists, reads, prompts, completions, ping. @default 10000 */
  requestMs?: number;
  /** `tools/call`; progress notifications restart it. @default 60000 */
  callMs?: number;
}

export interface ResilientClientOptions {
  /** Names the server in errors, logs and health. */
  name: string;
  url: string | URL;
  /** `auto` asks `server/discover` and falls back to a 2025 session. @default 'auto' */
  protocol?: Protocol;
  auth?: UpstreamAuth;
  /** Sent with every request (e.g. a kit upstream's origin header). @default {} */
  headers?: Readonly<Record<string, string>>;
  timeouts?: TimeoutOptions;
  retry?: RetryOptions;
  breaker?: BreakerOptions;
  /** How long the era and capabilities a connect learned are reused. @default 300000 */
  capabilityTtlMs?: number;
  /** TTL of list results that carry no `ttlMs` (2025-era servers send none); 0 never serves them from cache. @default 0 */
  listTtlMs?: number;
  /** 2025-era sessions kept open at once (one per partition); the least recently used is ended. @default 100 */
  maxSessions?: number;
  clientInfo?: Implementation;
  /** Capabilities declared to the server. @default {} */
  capabilities?: ClientCapabilities;
  /** List changes and resource updates the server sends on a channel this client has open. */
  onNotification?: (notification: UpstreamNotification) => void;
  /**
   * Answers the `elicitation/create` a 2025-era server sends during a call (declare
   * `capabilities.elicitation` with it; with `form.applyDefaults` the SDK fills what the answer
   * leaves out from the schema's defaults). 2026-07-28 servers ask through `input_required`
   * instead, which comes back to the caller. Without it the server's request is refused.
   */
  onElicitation?: (params: ElicitRequestParams) => Promise<ElicitResult>;
  /** For tests and custom agents. @default globalThis.fetch */
  fetch?: Fetch;
  /**
   * Headers that differ per partition, e.g. an identity per caller (the gateway's on-behalf-of
   * assertion), asked for on every request; not combined with `auth`. With it every partition gets a
   * connection and list cache of its own in both eras, since what the server answers may differ.
   * @default - the same headers for every partition
   */
  headersFor?: (partition: string) => Promise<Readonly<Record<string, string>>>;
  /**
   * Keeps each partition's 2025-era session where other processes find it (the gateway's: DynamoDB),
   * so a process resumes the session another one opened (one read when it first connects the
   * partition) instead of initializing its own, and session state upstream is the same whichever
   * process calls. Sessions kept there are not ended when a connection closes.
   * @default - sessions live in this process
   */
  sessions?: UpstreamSessionStore;
  /**
   * Told of what fails where no call waits for it: a kept session's touch in `sessions`, which a
   * call does not wait for (failing it only shortens how long the session is shared).
   * @default - nothing is told
   */
  onBackgroundError?: (what: string, error: unknown) => void;
  /**
   * Where work no call waits for is tracked (a kept session's touch): the kit's PendingWork, so the
   * Lambda adapter finishes it before the invocation ends instead of freezing it mid-flight.
   * @default - not tracked
   */
  pending?: Pick<PendingWork, 'track'>;
  /**
   * `tools/call` to a 2026-07-28 server reached without OAuth goes out as one plain POST, without
   * the SDK's client (raw-call.ts): same headers, envelope, answer and errors, less work per call.
   * Tools whose listed input schema puts arguments in headers (`x-mcp-header`) still go through the SDK.
   * @default true
   */
  rawCalls?: boolean;
  /**
   * What carries those raw calls over HTTP (transport.ts): on Node, node:http(s) with a keep-alive
   * agent costs less per call than `fetch` (shared/adapters/upstream-http.ts).
   * @default - `fetch` (the `fetch` option's)
   */
  transport?: UpstreamTransport;
  /**
   * The most of one answer read, in bytes: a JSON body, or one event of an SSE stream. Past it the
   * call fails with UpstreamAnswerTooLargeError and the request is aborted; the breaker is not told.
   * @default 8388608 (8 MiB, answer-limit.ts)
   */
  maxAnswerBytes?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Whose call this is, for 2025-era servers: each partition gets a session of its own, so session
   * state is never shared between partitions. 2026-07-28 servers are stateless and ignore it.
   * @default ''
   */
  partition?: string;
  /** Overrides the time limit of this call. */
  timeoutMs?: number;
  onprogress?: (progress: Progress) => void;
}

/** Parameters a retry of an `input_required` answer carries. */
export interface RoundParams {
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

/** Request `_meta` to send: keys given here win over the ones the SDK attaches (e.g. client capabilities). */
type WithMeta = RoundParams & { _meta?: Record<string, unknown> };

export type CallToolAnswer = CallToolResult | InputRequiredResult;

export interface UpstreamStatus {
  name: string;
  state: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  lastFailure?: string;
  /** Duration of the last call that got an answer. */
  latencyMs?: number;
  era?: 'modern' | 'legacy';
}

const LISTS_OF = {
  tools_list_changed: ['tools/list'],
  prompts_list_changed: ['prompts/list'],
  resources_list_changed: ['resources/list', 'resources/templates/list'],
} as const;

const DEFAULT_CLIENT_INFO: Implementation = { name: 'serverless-mcp-kit', version: '0.1.0' };

export class ResilientClient {
  readonly name: string;
  readonly url: URL;
  private readonly breaker: CircuitBreaker;
  private readonly retry: RetryPolicy;
  private readonly timeouts: Required<TimeoutOptions>;
  private readonly connections = new Map<string, Promise<Connection>>();
  private readonly cacheStore = new InMemoryResponseCacheStore();
  private readonly lists: ListCache;
  private readonly fetch: Fetch;
  private readonly send: CheckedTransport;
  /** The tools the server last listed: whether a call may be repeated, and which arguments go in headers. */
  private readonly listedTools = new Map<string, Tool>();
  /** Listed tools that take arguments in headers: called through the SDK's client, not the raw path. */
  private readonly headerTools = new Set<string>();
  private era: 'modern' | 'legacy' | undefined;
  /** Partitions whose kept session the server forgot: the next connect initializes one and records it in its place. */
  private readonly gone = new Map<string, string>();
  private latencyMs: number | undefined;

  constructor(private readonly options: ResilientClientOptions) {
    this.name = options.name;
    this.url = new URL(options.url);
    this.breaker = new CircuitBreaker(options.breaker);
    this.lists = new ListCache(options.listTtlMs ?? 0);
    this.retry = retryPolicy(options.retry);
    this.timeouts = { connectMs: 5_000, requestMs: 10_000, callMs: 60_000, ...options.timeouts };
    const auth = options.auth;
    const headers: Record<string, string> = { ...options.headers };
    if (auth && 'apiKey' in auth) {
      const header = (auth.header ?? 'authorization').toLowerCase();
      headers[header] = header === 'authorization' ? `Bearer ${auth.apiKey}` : auth.apiKey;
    }
    const maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    if (!(Number.isInteger(maxAnswerBytes) && maxAnswerBytes >= 1)) throw new RangeError(`maxAnswerBytes must be a whole number ≥ 1, got ${maxAnswerBytes}`);
    this.fetch = upstreamFetch(this.name, headers, options.fetch, maxAnswerBytes);
    this.send = checkedTransport(this.name, headers, options.transport ?? fetchTransport(options.fetch), maxAnswerBytes);
  }

  /** The server's capabilities (connecting first if this process has not yet). */
  async capabilities(options: CallOptions = {}): Promise<ServerCapabilities> {
    const open = this.connections.get(this.keyOf(options));
    if (open) return (await open).capabilities;
    return this.run('connect', options, true, (connection) => Promise.resolve(connection.capabilities));
  }

  async listTools(options: CallOptions = {}): Promise<ListToolsResult> {
    const result = await this.list('tools', 'tools/list', options, (c, o) => c.client.listTools(undefined, o), { tools: [] });
    for (const tool of result.tools) {
      this.listedTools.set(tool.name, tool);
      // Arguments sent as Mcp-Param-* headers (SEP-2243): the SDK's client builds those.
      if (declaresHeaderParams(tool.inputSchema)) this.headerTools.add(tool.name);
      else this.headerTools.delete(tool.name);
    }
    return result;
  }

  listPrompts(options: CallOptions = {}): Promise<ListPromptsResult> {
    return this.list('prompts', 'prompts/list', options, (c, o) => c.client.listPrompts(undefined, o), { prompts: [] });
  }

  listResources(options: CallOptions = {}): Promise<ListResourcesResult> {
    return this.list('resources', 'resources/list', options, (c, o) => c.client.listResources(undefined, o), { resources: [] });
  }

  listResourceTemplates(options: CallOptions = {}): Promise<ListResourceTemplatesResult> {
    return this.list('resources', 'resources/templates/list', options, (c, o) => c.client.listResourceTemplates(undefined, o), { resourceTemplates: [] });
  }

  /**
   * Calls a tool. Sent again after a failure only when the server never got it, or when its last
   * listing annotated it `readOnlyHint` or `idempotentHint`.
   */
  callTool(params: { name: string; arguments?: Record<string, unknown> } & WithMeta, options: CallOptions = {}): Promise<CallToolAnswer> {
    const listed = this.listedTools.get(params.name);
    // The SDK sends the arguments the listed input schema marks `x-mcp-header` as Mcp-Param-*
    // headers too (SEP-2243, 2026-07-28). The definition carries no output schema: results come
    // back as the server sent them, unvalidated, as every other answer does.
    const toolDefinition = { name: params.name, inputSchema: listed?.inputSchema ?? { type: 'object' as const } };
    const raw = this.options.rawCalls !== false && !this.headerTools.has(params.name);
    const viaSdk = (c: Connection, o: RequestOptions) =>
      c.client.callTool(stripUndefined(params) as { name: string }, { ...o, allowInputRequired: true, toolDefinition }) as Promise<CallToolAnswer>;
    return this.run('tools/call', options, listed !== undefined && isSafeToRepeat(listed), (c, o) =>
      raw && c.raw
        ? rawCallTool(c.raw, stripUndefined(params) as { name: string }, o).catch((err: unknown) => {
            // Not acted on: the SDK's client follows a redirect (within the origin) as it would have.
            if (err instanceof RawCallRedirected) return viaSdk(c, o);
            throw err;
          })
        : viaSdk(c, o),
    );
  }

  readResource(params: { uri: string } & WithMeta, options: CallOptions = {}): Promise<ReadResourceResult | InputRequiredResult> {
    return this.run('resources/read', options, true, (c, o) =>
      c.client.request({ method: 'resources/read', params: stripUndefined(params) }, { ...o, allowInputRequired: true }),
    );
  }

  getPrompt(
    params: { name: string; arguments?: Record<string, string> } & WithMeta,
    options: CallOptions = {},
  ): Promise<GetPromptResult | InputRequiredResult> {
    return this.run('prompts/get', options, true, (c, o) =>
      c.client.request({ method: 'prompts/get', params: stripUndefined(params) }, { ...o, allowInputRequired: true }),
    );
  }

  complete(params: Record<string, unknown>, options: CallOptions = {}): Promise<CompleteResult> {
    return this.run('completion/complete', options, true, (c, o) => c.client.request({ method: 'completion/complete', params }, o));
  }

  /** One round trip the server answers in either era (`server/discover`, or `ping` on a 2025 session): a health check. */
  probe(options: CallOptions = {}): Promise<unknown> {
    return this.run('probe', options, true, (c, o) => (c.era === 'modern' ? c.client.discover(o) : c.client.ping(o)));
  }

  status(): UpstreamStatus {
    return {
      name: this.name,
      ...this.breaker.snapshot(),
      ...(this.latencyMs !== undefined && { latencyMs: this.latencyMs }),
      ...(this.era && { era: this.era }),
    };
  }

  /** Ends every session (DELETE for 2025-era servers; not those kept in `sessions`) and drops the connections. */
  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      open.map((c) =>
        c.then(
          (connection) => connection.close(),
          () => {},
        ),
      ),
    );
  }

  /** A list verb: from the cache while fresh, skipped (empty) when the server does not offer the feature. */
  private list<T extends object>(
    feature: 'tools' | 'prompts' | 'resources',
    method: string,
    options: CallOptions,
    send: (c: Connection, o: CacheableRequestOptions) => Promise<T>,
    empty: T,
  ): Promise<T> {
    return this.run(
      method,
      options,
      true,
      async (c, o) => {
        if (!c.capabilities[feature]) return empty;
        // Always asked: the SDK keeps the fresh tools list for what it derives from it.
        const result = await send(c, { ...o, cacheMode: 'refresh' });
        this.lists.put(this.listKey(method, options), result as { ttlMs?: unknown });
        return result;
      },
      () => this.lists.get<T>(this.listKey(method, options)),
    );
  }

  /** One call: through the breaker, with a time limit, sent again while the retry policy allows. */
  private async run<T>(
    method: string,
    options: CallOptions,
    safe: boolean,
    send: (c: Connection, o: RequestOptions) => Promise<T>,
    cached?: () => T | undefined,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? (method === 'tools/call' ? this.timeouts.callMs : this.timeouts.requestMs);
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      // Even a cached answer is refused while the circuit is open: what it lists cannot be called.
      const refused = this.breaker.admit();
      if (refused) throw new CircuitOpenError(this.name, refused.retryAfterMs, refused.lastFailure);
      const hit = cached?.();
      if (hit !== undefined) {
        this.breaker.released();
        return hit;
      }
      const started = performance.now();
      let failure: UpstreamError;
      try {
        const result = await this.attempt(method, options, timeoutMs, send);
        this.breaker.succeeded();
        this.latencyMs = Math.round((performance.now() - started) * 10) / 10;
        return result;
      } catch (err) {
        if (options.signal?.aborted) {
          this.breaker.released();
          throw options.signal.reason;
        }
        failure = err as UpstreamError;
        this.judge(failure, started);
      }
      const delay = retryDelay(this.retry, attempt, failure, safe);
      if (delay === undefined) throw failure;
      await sleep(delay, options.signal);
    }
  }

  /** What a failed call tells the breaker: an answer means the server is up; a refusal says nothing. */
  private judge(failure: UpstreamError, started: number) {
    // Too large an answer says nothing of the server's health: a caller can bring it about (a huge `echo`).
    if (failure instanceof UpstreamAnswerTooLargeError) this.breaker.released();
    else if (failure instanceof UpstreamProtocolError) {
      this.breaker.succeeded();
      this.latencyMs = Math.round((performance.now() - started) * 10) / 10;
    } else if (failure instanceof UpstreamRateLimitedError || failure instanceof UpstreamAuthError || failure instanceof CircuitOpenError) {
      this.breaker.released();
    } else this.breaker.failed(failure.detail);
  }

  /** One attempt; a 2025-era session the server forgot is re-initialized and the request sent once more. */
  private async attempt<T>(method: string, options: CallOptions, timeoutMs: number, send: (c: Connection, o: RequestOptions) => Promise<T>): Promise<T> {
    const requestOptions: RequestOptions = {
      timeout: timeoutMs,
      resetTimeoutOnProgress: true,
      ...(options.signal && { signal: options.signal }),
      ...(options.onprogress && { onprogress: options.onprogress }),
    };
    for (let reconnected = false; ; reconnected = true) {
      let opened: { key: string; connection: Connection };
      try {
        opened = await this.connection(options);
      } catch (err) {
        throw classify(this.name, err, 'connect', this.timeouts.connectMs);
      }
      try {
        const result = await send(opened.connection, requestOptions);
        const session = opened.connection.session;
        if (session) this.touch(opened.key, session.id);
        return result;
      } catch (err) {
        const failure = classify(this.name, err, method, timeoutMs);
        if (!(failure instanceof SessionGoneError)) throw failure;
        // The server refused the request without acting on it: safe to send on a new session.
        if (opened.connection.session) this.gone.set(opened.key, opened.connection.session.id);
        this.drop(opened.key);
        if (reconnected) throw new UpstreamProtocolError(this.name, -32600, 'the server forgot a session it had just created');
      }
    }
  }

  /**
   * Slides a kept session's expiry (the store bounds how often it writes), without the call waiting
   * for it: failing only shortens how long the session is shared. Tracked in `pending`, so on
   * Lambda the invocation finishes it rather than freezing it in flight.
   */
  private touch(partition: string, sessionId: string) {
    const touched = this.options.sessions
      ?.touch(this.name, partition, sessionId)
      .catch((err: unknown) => this.options.onBackgroundError?.('session touch', err));
    if (touched) this.options.pending?.track(touched);
  }

  /** Which connection serves a call: its partition's, or one for all when the server is stateless and every partition looks the same to it. */
  private keyOf(options: CallOptions): string {
    return this.era === 'modern' && !this.options.headersFor ? '' : (options.partition ?? '');
  }

  /** Lists are kept per partition when partitions are told apart (headersFor). */
  private listKey(method: string, options: CallOptions): string {
    return this.options.headersFor ? `${method}\n${options.partition ?? ''}` : method;
  }

  /** The open connection for a partition (one for every partition when the server is stateless). */
  private async connection(options: CallOptions): Promise<{ key: string; connection: Connection }> {
    const key = this.keyOf(options);
    let pending = this.connections.get(key);
    if (pending) {
      // Most recently used last, for eviction.
      this.connections.delete(key);
      this.connections.set(key, pending);
    } else {
      pending = this.open(key);
      this.connections.set(key, pending);
      pending.catch(() => this.connections.get(key) === pending && this.connections.delete(key));
      this.evictSessions();
    }
    const connection = await pending;
    this.era = connection.era;
    // Calls that raced to connect before the era was known: a stateless server needs only one.
    if (connection.era === 'modern' && key !== '' && !this.options.headersFor && this.connections.get(key) === pending) {
      this.connections.delete(key);
      if (!this.connections.has('')) this.connections.set('', pending);
    }
    return { key, connection };
  }

  /**
   * A new connection: resuming the partition's kept session when there is one, else a new one,
   * recorded for other processes. A failing store costs only the sharing: the call goes on.
   */
  private async open(partition: string): Promise<Connection> {
    const store = this.options.sessions;
    if (!store || this.options.protocol === 'modern' || this.era === 'modern') return this.connectTo(partition);
    const gone = this.gone.get(partition);
    this.gone.delete(partition);
    const kept = gone === undefined ? await store.get(this.name, partition).catch(() => undefined) : undefined;
    if (kept) return this.connectTo(partition, kept);
    const fresh = await this.connectTo(partition);
    if (!fresh.session) return fresh;
    if (await store.put(this.name, partition, fresh.session, gone).catch(() => true)) return fresh;
    // Another process recorded one first: use it, so the partition has one session everywhere.
    const theirs = await store.get(this.name, partition, true).catch(() => undefined);
    if (!theirs) return fresh;
    await fresh.close();
    return this.connectTo(partition, theirs);
  }

  /** Connects. Not under any caller's signal: other calls may wait on it; its own time limit bounds it. */
  private connectTo(partition: string, resume?: ResumableSession): Promise<Connection> {
    const headersFor = this.options.headersFor;
    const fetch: Fetch = headersFor
      ? async (input, init = {}) => this.fetch(input, { ...init, headers: withHeaders(init.headers, await headersFor(partition)) })
      : this.fetch;
    const send: CheckedTransport = headersFor
      ? async (request) => this.send({ ...request, headers: withHeaders(request.headers, await headersFor(partition)) })
      : this.send;
    return connect({
      url: this.url,
      protocol: this.options.protocol ?? 'auto',
      fetch,
      send,
      ...(this.options.auth &&
        'oauth' in this.options.auth && { authProvider: this.options.auth.oauth, authorizationResponse: this.options.auth.authorizationResponse }),
      clientInfo: this.options.clientInfo ?? DEFAULT_CLIENT_INFO,
      capabilities: this.options.capabilities ?? {},
      cacheStore: this.cacheStore,
      connectTimeoutMs: this.timeouts.connectMs,
      capabilityTtlMs: this.options.capabilityTtlMs ?? 300_000,
      ...(resume && { resume }),
      shared: this.options.sessions !== undefined,
      ...(this.options.onElicitation && { onElicitation: this.options.onElicitation }),
      onNotification: (n) => {
        if (n.kind !== 'resource_updated') this.lists.evict(...LISTS_OF[n.kind]);
        this.options.onNotification?.(n);
      },
    });
  }

  private drop(key: string) {
    const pending = this.connections.get(key);
    this.connections.delete(key);
    pending?.then(
      (c) => c.close(),
      () => {},
    );
  }

  private evictSessions() {
    const max = this.options.maxSessions ?? 100;
    for (const key of this.connections.keys()) {
      if (this.connections.size <= max) break;
      this.drop(key);
    }
  }
}

/** Whether a tool may be called twice for one intent: its annotations say it changes nothing, or the same again. */
function isSafeToRepeat(tool: Tool): boolean {
  return tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true;
}

function stripUndefined<T extends object>(params: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}
