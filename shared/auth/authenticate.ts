// Who is calling: turns a request's credentials into a Principal, or refuses it with the answers
// MCP clients expect — 401 with `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728) so
// OAuth clients can discover the authorization server, 403 `insufficient_scope` for a tool that
// needs scopes the caller lacks. Accepts OAuth JWTs and/or API keys (`Bearer mcpk_…`, `x-api-key`),
// and the on-behalf-of assertions of trusted gateways (gateway-assertion.ts) whatever the mode.
import type { AuthConfig } from '../config.ts';
import { HttpProtocolError, SERVER_ERROR } from '../protocol/errors.ts';
import { ANONYMOUS, API_KEY_PREFIX, type Principal } from '../principal.ts';
import { isGatewayAssertion, type AssertionVerifier } from './gateway-assertion.ts';
import { InvalidTokenError, TokenVerificationUnavailableError, type JwtVerifier } from './jwt.ts';

export const PRM_PATH = '/.well-known/oauth-protected-resource';

export interface AuthenticatorOptions {
  auth: AuthConfig;
  /** The MCP path, for the path-inserted metadata URL (RFC 9728 §3.1). */
  path: string;
  /** Configured public URL of the endpoint; otherwise derived from the request. */
  publicUrl?: string;
  verifyJwt?: JwtVerifier;
  verifyApiKey?: (key: string) => Promise<Principal | undefined>;
  /** Present when the server trusts gateways (MCP_TRUSTED_GATEWAYS). */
  verifyAssertion?: AssertionVerifier;
}

export interface Authenticator {
  /** The caller, or throws HttpProtocolError (401/503). */
  authenticate(request: Request): Promise<Principal>;
  /** Throws 403 insufficient_scope when the principal lacks any of `scopes`. */
  requireScopes(request: Request, principal: Principal, scopes: readonly string[]): void;
  /** The RFC 9728 metadata URL for the endpoint the request reached. */
  metadataUrl(request: Request): string;
  /** This resource's canonical URL (the `resource` in metadata, the token audience). */
  resourceUrl(request: Request): string;
}

const escapeQuoted = (value: string) => value.replace(/["\\]/g, '\\$&');

/** What the credential checks below share: the options, what this server accepts, its metadata URL. */
interface Checks {
  options: AuthenticatorOptions;
  acceptsJwt: boolean;
  acceptsKeys: boolean;
  metadataUrl: (request: Request) => string;
  resourceUrl: (request: Request) => string;
}

/** Refuses the request with a Bearer challenge that points OAuth clients at the metadata. */
function challenge(checks: Checks, request: Request, status: 401 | 403, message: string, params: Record<string, string> = {}): never {
  const fields = checks.acceptsJwt ? { ...params, resource_metadata: checks.metadataUrl(request) } : params;
  const header = `Bearer ${Object.entries(fields)
    .map(([k, v]) => `${k}="${escapeQuoted(v)}"`)
    .join(', ')}`.trim();
  throw new HttpProtocolError(status, SERVER_ERROR, message, { 'www-authenticate': header });
}

async function fromApiKey(checks: Checks, request: Request, key: string): Promise<Principal> {
  let principal: Principal | undefined;
  try {
    principal = await checks.options.verifyApiKey!(key);
  } catch {
    throw new HttpProtocolError(503, SERVER_ERROR, 'Service Unavailable: API keys cannot be checked right now; retry shortly', { 'retry-after': '5' });
  }
  if (!principal)
    challenge(checks, request, 401, 'Unauthorized: the API key is unknown, revoked or expired', {
      error: 'invalid_token',
      error_description: 'unknown, revoked or expired API key',
    });
  return principal;
}

/** A trusted gateway's caller; the audience is this endpoint. */
async function fromAssertion(checks: Checks, request: Request, token: string): Promise<Principal> {
  try {
    return await checks.options.verifyAssertion!(token, [checks.resourceUrl(request)]);
  } catch (err) {
    if (err instanceof InvalidTokenError)
      challenge(checks, request, 401, `Unauthorized: ${err.message}`, { error: 'invalid_token', error_description: err.message });
    if (err instanceof TokenVerificationUnavailableError) {
      throw new HttpProtocolError(503, SERVER_ERROR, 'Service Unavailable: gateway assertions cannot be verified right now; retry shortly', {
        'retry-after': '5',
      });
    }
    throw err;
  }
}

async function fromJwt(checks: Checks, request: Request, token: string): Promise<Principal> {
  try {
    return await checks.options.verifyJwt!(token);
  } catch (err) {
    if (err instanceof InvalidTokenError)
      challenge(checks, request, 401, `Unauthorized: ${err.message}`, { error: 'invalid_token', error_description: err.message });
    if (err instanceof TokenVerificationUnavailableError) {
      throw new HttpProtocolError(503, SERVER_ERROR, 'Service Unavailable: tokens cannot be verified right now; retry shortly', { 'retry-after': '5' });
    }
    throw err;
  }
}

/** The Authorization header: an API key or a JWT as a Bearer token, or a challenge saying what to send. */
function fromAuthorization(checks: Checks, request: Request, authorization: string | null): Promise<Principal> {
  const { acceptsJwt, acceptsKeys } = checks;
  if (authorization === null) {
    challenge(
      checks,
      request,
      401,
      `Unauthorized: send ${acceptsJwt ? 'an OAuth access token' : 'an API key'} as "Authorization: Bearer <token>"${acceptsKeys ? ' (API keys also as "x-api-key")' : ''}`,
    );
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) {
    // Another scheme (Basic, …) is no credentials at all: no error code (RFC 6750 §3.1).
    const malformedBearer = /^Bearer(\s|$)/i.test(authorization);
    challenge(checks, request, 401, 'Unauthorized: the Authorization header must be "Bearer <token>"', malformedBearer ? { error: 'invalid_request' } : {});
  }
  const token = match[1]!;
  if (token.startsWith(API_KEY_PREFIX)) {
    if (!acceptsKeys) challenge(checks, request, 401, 'Unauthorized: API keys are not accepted here; use an OAuth access token', { error: 'invalid_token' });
    return fromApiKey(checks, request, token);
  }
  if (!acceptsJwt) challenge(checks, request, 401, 'Unauthorized: the token is not an API key of this server', { error: 'invalid_token' });
  return fromJwt(checks, request, token);
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { auth, path } = options;
  const origin = (request: Request) => (options.publicUrl ? new URL(options.publicUrl).origin : new URL(request.url).origin);
  const resourceUrl = (request: Request) => options.publicUrl ?? `${origin(request)}${path}`;
  const metadataUrl = (request: Request) => `${origin(request)}${PRM_PATH}${new URL(resourceUrl(request)).pathname.replace(/\/$/, '')}`;
  const checks: Checks = {
    options,
    acceptsJwt: auth.methods.includes('oauth') && options.verifyJwt !== undefined,
    acceptsKeys: auth.methods.includes('apikey') && options.verifyApiKey !== undefined,
    metadataUrl,
    resourceUrl,
  };

  return {
    metadataUrl,
    resourceUrl,
    async authenticate(request) {
      if (options.verifyAssertion) {
        const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (token && isGatewayAssertion(token)) return fromAssertion(checks, request, token);
      }
      if (auth.methods.length === 0) return ANONYMOUS;
      const apiKey = request.headers.get('x-api-key');
      if (apiKey !== null && checks.acceptsKeys) return fromApiKey(checks, request, apiKey);
      return fromAuthorization(checks, request, request.headers.get('authorization'));
    },
    requireScopes(request, principal, scopes) {
      const missing = scopes.filter((s) => !principal.scopes.includes(s));
      if (missing.length === 0) return;
      challenge(checks, request, 403, `Forbidden: this call needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`, {
        error: 'insufficient_scope',
        scope: [...new Set([...principal.scopes, ...scopes])].join(' '),
        error_description: `requires ${scopes.join(' ')}`,
      });
    },
  };
}

/** The protected resource metadata document (RFC 9728). */
export function protectedResourceMetadata(authenticator: Authenticator, request: Request, auth: AuthConfig, name: string) {
  return {
    resource: authenticator.resourceUrl(request),
    authorization_servers: auth.oauth ? [auth.oauth.issuer] : [],
    bearer_methods_supported: ['header'],
    ...(auth.oauth?.scopesSupported.length && { scopes_supported: [...auth.oauth.scopesSupported] }),
    resource_name: name,
  };
}
