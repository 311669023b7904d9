// One SDK client connected to one server, in whichever era the server speaks: 2026-07-28 through
// `server/discover` when it answers, else a 2025 `initialize` session. What a connect learned (the
// era, the discover result, hence the server's capabilities) is kept per server URL for
// `capabilityTtlMs`, so a later connect in this process skips the probe. The SDK's own list cache
// (`ttlMs`/`cacheScope`) lives in a store shared by every connection to the server, so it
// survives a reconnect (the resilient client serves lists from its own cache; the SDK's keeps
// what it derives from the tools list). An authorization-code grant is completed here when the
// caller can hand over the authorization callback (`authorizationResponse`): the SDK discovers,
// registers, redirects and redeems; this module only passes the callback on and sends the refused
// request once more. This module does not retry otherwise and does not decide what failed.
import {
  Client,
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

export type Protocol = 'auto' | 'modern' | 'legacy';

/** The notifications a server may send that a caller of the client cares about. */
export type UpstreamNotification =
  | { kind: 'tools_list_changed' | 'prompts_list_changed' | 'resources_list_changed' }
  | { kind: 'resource_updated'; uri: string };

export interface ConnectionSettings {
  url: URL;
  protocol: Protocol;
  fetch: Fetch;
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
}

export interface Connection {
  readonly client: Client;
  readonly era: 'modern' | 'legacy';
  readonly capabilities: ServerCapabilities;
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

export async function connect(settings: ConnectionSettings): Promise<Connection> {
  const prior = knownVerdict(settings);
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
  });
  try {
    await client.connect(transport, { timeout: settings.connectTimeoutMs, ...(prior && { prior }) });
  } catch (err) {
    // Whatever was learned may be why it failed (a server that changed era): probe afresh next time.
    verdicts.delete(settings.url.href);
    await client.close().catch(() => {});
    throw err;
  }
  const era = client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
  const discover = client.getDiscoverResult();
  // A forced 2025 session proves nothing about what else the server speaks.
  if (!prior && settings.protocol !== 'legacy') verdicts.set(settings.url.href, { prior: era === 'modern' && discover ? { kind: 'modern', discover } : { kind: 'legacy' }, at: Date.now() });
  return {
    client,
    era,
    capabilities: client.getServerCapabilities() ?? {},
    async close() {
      // A 2025-era session is ended on the server too, as the transport spec asks.
      if (era === 'legacy') await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}
