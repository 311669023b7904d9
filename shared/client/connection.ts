// One SDK client connected to one server, in whichever era the server speaks: 2026-07-28 through
// `server/discover` when it answers, else a 2025 `initialize` session. What a connect learned (the
// era, the discover result, hence the server's capabilities) is kept per server URL for
// `capabilityTtlMs`, so a later connect in this process skips the probe. The SDK's own list cache
// (`ttlMs`/`cacheScope`) lives in a store shared by every connection to the server, so it
// survives a reconnect (the resilient client serves lists from its own cache; the SDK's keeps
// what it derives from the tools list). An authorization-code grant is completed here when the
// caller can hand over the authorization callback (`authorizationResponse`): the SDK discovers,
// registers, redirects and redeems; this module only passes the callback on and sends the refused
// request once more. A 2025-era session another process opened (kept in an UpstreamSessionStore)
// is resumed by its id, without a handshake. This module does not retry otherwise and does not
// decide what failed.
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type ClientCapabilities,
  type ElicitRequestParams,
  type ElicitResult,
  type Implementation,
  type OAuthClientProvider,
  type PriorDiscovery,
  type ResponseCacheStore,
  type ServerCapabilities,
} from '@modelcontextprotocol/client';
import type { Fetch } from './http.ts';
import type { CheckedTransport } from './transport.ts';

export type Protocol = 'auto' | 'modern' | 'legacy';

/** The notifications a server may send that a caller of the client cares about. */
export type UpstreamNotification =
  | { kind: 'tools_list_changed' | 'prompts_list_changed' | 'resources_list_changed' }
  | { kind: 'resource_updated'; uri: string };

/** A 2025-era session as another process can resume it: its id and what its handshake negotiated. */
export interface ResumableSession {
  id: string;
  protocolVersion: string;
  capabilities: ServerCapabilities;
}

/** Where 2025-era upstream sessions are kept across processes, per (upstream, partition). */
export interface UpstreamSessionStore {
  /** `consistent`: read what was just written (after a lost race to record one). */
  get(upstream: string, partition: string, consistent?: boolean): Promise<ResumableSession | undefined>;
  /** Records a session when none is, or the one recorded is `replacing`; false when another was recorded first. */
  put(upstream: string, partition: string, session: ResumableSession, replacing?: string): Promise<boolean>;
  /** Called after each call a kept session served: slides its expiry (the store decides how often it writes). */
  touch(upstream: string, partition: string, sessionId: string): Promise<void>;
}

export interface ConnectionSettings {
  url: URL;
  protocol: Protocol;
  fetch: Fetch;
  /** What carries raw calls (the same credentials and identity as `fetch`). */
  send: CheckedTransport;
  authProvider?: OAuthClientProvider;
  /** The callback parameters of the authorization `authProvider` last redirected to (see UpstreamAuth). */
  authorizationResponse?: () => Promise<URLSearchParams>;
  clientInfo: Implementation;
  capabilities: ClientCapabilities;
  cacheStore: ResponseCacheStore;
  connectTimeoutMs: number;
  /** How long what a connect learned about the server is reused. */
  capabilityTtlMs: number;
  onNotification?: (notification: UpstreamNotification) => void;
  /** Answers a 2025-era server's `elicitation/create` (see ResilientClientOptions). */
  onElicitation?: (params: ElicitRequestParams) => Promise<ElicitResult>;
  /** A 2025-era session to resume instead of initializing one. */
  resume?: ResumableSession;
  /** The session is kept for other processes too: closing leaves it open on the server. */
  shared?: boolean;
}

/** What a modern connection lends the raw path (raw-call.ts): where, how (its transport carries the credentials), and the SDK's request envelope. */
export interface RawTarget {
  url: URL;
  send: CheckedTransport;
  /** The `_meta` the SDK puts on every request of this connection (version, client info, capabilities). */
  meta: Record<string, unknown>;
  nextId(): number;
  onNotification?: (notification: UpstreamNotification) => void;
}

export interface Connection {
  readonly client: Client;
  readonly era: 'modern' | 'legacy';
  readonly capabilities: ServerCapabilities;
  /** The 2025-era session, when the server gave one. */
  readonly session?: ResumableSession;
  /** Whether the session was resumed rather than initialized here. */
  readonly resumed: boolean;
  /** A 2026-07-28 server reached without OAuth: what a call without the SDK's client needs (raw-call.ts). */
  readonly raw?: RawTarget;
  close(): Promise<void>;
}

const verdicts = new Map<string, { prior: PriorDiscovery; at: number }>();

/** What an earlier connect in this process learned about the server at `url`, while still fresh. */
function knownVerdict(settings: ConnectionSettings): PriorDiscovery | undefined {
  const key = settings.url.href;
  const known = verdicts.get(key);
  if (!known || Date.now() - known.at > settings.capabilityTtlMs) {
    verdicts.delete(key);
    return undefined;
  }
  if (settings.protocol !== 'auto' && known.prior.kind !== settings.protocol) return undefined;
  return known.prior;
}

/**
 * A transport that finishes an authorization-code grant itself: a request refused because the grant
 * needed a redirect (the SDK's UnauthorizedError, on a first 401 or a 403 `insufficient_scope`
 * step-up) is sent again once the callback is redeemed. The server acted on none of it.
 */
class AuthorizingTransport extends StreamableHTTPClientTransport {
  constructor(
    url: URL,
    private readonly authorizationResponse: (() => Promise<URLSearchParams>) | undefined,
    options: ConstructorParameters<typeof StreamableHTTPClientTransport>[1],
  ) {
    super(url, options);
  }

  override async send(...args: Parameters<StreamableHTTPClientTransport['send']>): Promise<void> {
    try {
      return await super.send(...args);
    } catch (err) {
      if (!this.authorizationResponse || !(err instanceof UnauthorizedError)) throw err;
      const callback = await this.authorizationResponse().catch((cause: unknown) => {
        throw new UnauthorizedError(`the authorization callback did not come: ${cause instanceof Error ? cause.message : String(cause)}`);
      });
      // Redeems the code after checking the callback's `iss` against the issuer it was sent to (RFC 9207).
      await this.finishAuth(callback);
      return super.send(...args);
    }
  }
}

/**
 * A 401 to a request that carried a token: what discovery found may be stale (the server may have
 * moved to another authorization server, SEP-2352), so the provider forgets it before the SDK
 * authorizes again, as the SDK asks of its host. A 403 step-up stays with the same server.
 */
function forgettingDiscovery(fetch: Fetch, provider: OAuthClientProvider): Fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 401 && new Headers(init?.headers).has('authorization')) await provider.invalidateCredentials?.('discovery');
    return response;
  };
}

const NEGOTIATION = { auto: 'auto', modern: { pin: '2026-07-28' }, legacy: 'legacy' } as const;

/**
 * What a resumed session's handshake told the process that made it. The SDK connects a transport
 * that carries a session id without a handshake but has no way to be told its outcome, which its
 * list verbs and codec read: the two fields its own handshake sets are set here, once.
 */
function adoptHandshake(client: Client, session: ResumableSession) {
  Object.assign(client as unknown as Record<string, unknown>, {
    _serverCapabilities: session.capabilities,
    _negotiatedProtocolVersion: session.protocolVersion,
  });
}

/** The raw path's view of a modern connection: the same URL, credentials, identity and request envelope as the SDK's. */
function rawTarget(settings: ConnectionSettings): RawTarget {
  let id = 0;
  const meta = {
    [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
    [CLIENT_INFO_META_KEY]: settings.clientInfo,
    [CLIENT_CAPABILITIES_META_KEY]: settings.capabilities,
  };
  return { url: settings.url, send: settings.send, meta, nextId: () => id++, ...(settings.onNotification && { onNotification: settings.onNotification }) };
}

export async function connect(settings: ConnectionSettings): Promise<Connection> {
  const resume = settings.resume;
  const prior = resume ? undefined : knownVerdict(settings);
  const client = new Client(settings.clientInfo, {
    capabilities: settings.capabilities,
    versionNegotiation: { mode: NEGOTIATION[settings.protocol] },
    // An input_required answer goes back to whoever called, as it is.
    inputRequired: { autoFulfill: false },
    responseCacheStore: settings.cacheStore,
  });
  // Transport failures also reject the request they belong to, which is where they are handled.
  client.onerror = () => {};
  const forward = settings.onNotification;
  if (forward) {
    client.setNotificationHandler('notifications/tools/list_changed', () => forward({ kind: 'tools_list_changed' }));
    client.setNotificationHandler('notifications/prompts/list_changed', () => forward({ kind: 'prompts_list_changed' }));
    client.setNotificationHandler('notifications/resources/list_changed', () => forward({ kind: 'resources_list_changed' }));
    client.setNotificationHandler('notifications/resources/updated', (n) => forward({ kind: 'resource_updated', uri: n.params.uri }));
  }
  const elicit = settings.onElicitation;
  if (elicit) client.setRequestHandler('elicitation/create', (request) => elicit(request.params));
  const provider = settings.authProvider;
  const transport = new AuthorizingTransport(settings.url, settings.authorizationResponse, {
    fetch: provider ? forgettingDiscovery(settings.fetch, provider) : settings.fetch,
    ...(provider && { authProvider: provider }),
    ...(resume && { sessionId: resume.id, protocolVersion: resume.protocolVersion }),
  });
  try {
    await client.connect(transport, { timeout: settings.connectTimeoutMs, ...(prior && { prior }) });
  } catch (err) {
    // Whatever was learned may be why it failed (a server that changed era): probe afresh next time.
    verdicts.delete(settings.url.href);
    await client.close().catch(() => {});
    throw err;
  }
  if (resume) adoptHandshake(client, resume);
  const era = client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
  const discover = client.getDiscoverResult();
  const capabilities = client.getServerCapabilities() ?? {};
  const version = client.getNegotiatedProtocolVersion();
  const session = era === 'legacy' && transport.sessionId && version ? { id: transport.sessionId, protocolVersion: version, capabilities } : undefined;
  // A forced 2025 session proves nothing about what else the server speaks.
  if (!prior && !resume && settings.protocol !== 'legacy')
    verdicts.set(settings.url.href, { prior: era === 'modern' && discover ? { kind: 'modern', discover } : { kind: 'legacy' }, at: Date.now() });
  return {
    client,
    era,
    capabilities,
    ...(session && { session }),
    ...(era === 'modern' && !provider && { raw: rawTarget(settings) }),
    resumed: resume !== undefined,
    async close() {
      // A 2025-era session is ended on the server too, as the transport spec asks, unless other processes use it.
      if (era === 'legacy' && !settings.shared) await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}
