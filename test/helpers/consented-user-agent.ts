// The OAuth client of an authorization-code grant whose user has already consented, for tests and
// the conformance fixture: the authorization request goes to the authorization server, which
// answers with its redirect to the callback at once; the callback's parameters go to
// ResilientClient (`authorizationResponse`), which redeems them. Registration is dynamic, by
// metadata document URL, or given (pre-registration).
import {
  DpopSession,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type OAuthTokens,
} from '@modelcontextprotocol/client';
import type { UpstreamAuth } from '../../shared/client/resilient-client.ts';

export const REDIRECT_URL = 'http://localhost:3000/callback';

export class ConsentedUserAgent implements OAuthClientProvider {
  private client?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier?: string;
  private discovery?: OAuthDiscoveryState;
  private callback?: URLSearchParams;
  private readonly session?: Promise<DpopSession>;

  constructor(options: { registered?: OAuthClientInformationMixed; metadataUrl?: string; dpop?: boolean } = {}) {
    this.client = options.registered;
    if (options.metadataUrl) this.clientMetadataUrl = options.metadataUrl;
    if (options.dpop) this.session = DpopSession.create();
  }

  clientMetadataUrl?: string;
  readonly redirectUrl = REDIRECT_URL;
  readonly clientMetadata = {
    client_name: 'serverless-mcp-kit-test',
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // SEP-837: a command-line client is a native application.
    application_type: 'native',
  } as OAuthClientMetadata;

  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no PKCE code verifier: no authorization request was made');
    return this.verifier;
  }
  // Kept beside the verifier, so the callback is redeemed at the authorization server it came
  // from (SEP-2352); ResilientClient has it forgotten when a token is refused.
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
  dpop() {
    return this.session;
  }

  async redirectToAuthorization(authorizationUrl: URL) {
    const answer = await fetch(authorizationUrl, { redirect: 'manual' });
    await answer.body?.cancel();
    const location = answer.headers.get('location');
    if (!location) throw new Error(`the authorization server answered ${answer.status} without a redirect`);
    this.callback = new URL(location).searchParams;
  }

  /** The callback of the last authorization request, once. */
  readonly authorizationResponse = async () => {
    const callback = this.callback;
    this.callback = undefined;
    if (!callback) throw new Error('no authorization request is waiting for its callback');
    return callback;
  };

  auth(): UpstreamAuth {
    return { oauth: this, authorizationResponse: this.authorizationResponse };
  }
}
