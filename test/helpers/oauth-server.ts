// A small OAuth 2.1 authorization server on loopback, for tests that drive the MCP authorization
// flow with real clients: RFC 8414 metadata (and OIDC discovery), dynamic client registration
// (RFC 7591), authorization code + PKCE S256 auto-approved for one test user, refresh tokens,
// client credentials, resource indicators (RFC 8707) as the token `aud`, a JWKS with key rotation,
// and `mint` for hand-made (often deliberately broken) tokens. No login, no consent, no storage.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface OAuthServerOptions {
  /** The user `/authorize` approves without asking, and the scopes it may be granted. @default { sub: 'alice', scopes: ['mcp:tools'] } */
  user?: { sub: string; scopes: readonly string[] };
  /** Algorithm of the signing keys. @default 'RS256' */
  alg?: 'RS256' | 'ES256';
  /** Access token lifetime. @default 3600 */
  accessTokenTtlSeconds?: number;
  /** `aud` of tokens requested without a `resource`, and the default `aud` of `mint`. @default none */
  audience?: string;
  /** Scopes advertised in the metadata. @default ['mcp:tools', 'admin'] */
  scopesSupported?: readonly string[];
}

export interface MintOptions {
  /** `none` leaves the token unsigned; `HS256` signs with `secret` (default: the public key as PEM). @default the signing key's */
  alg?: 'none' | 'HS256';
  secret?: Uint8Array;
  /** Header `kid`; `null` leaves it out. @default the current signing key's */
  kid?: string | null;
  /** Sign with a key the server never published, under the `kid` asked for. */
  forge?: boolean;
}

/** Claims for `mint`: merged over the defaults; a claim set to `undefined` is left out. */
export type MintClaims = { [claim: string]: unknown };

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

interface Client {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic' | 'client_secret_post';
  scope?: string;
  [field: string]: unknown;
}

interface Grant {
  clientId: string;
  sub: string;
  scope: string;
  resource: string | undefined;
}

interface PendingCode extends Grant {
  redirectUri: string;
  challenge: string;
  expiresAt: number;
}

/** An OAuth protocol error answered as JSON (RFC 6749 §5.2). */
class OAuthFailure extends Error {
  constructor(
    readonly error: string,
    description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const CODE_TTL_MS = 60_000;

export type OAuthServer = Awaited<ReturnType<typeof startOAuthServer>>;

export async function startOAuthServer(options: OAuthServerOptions = {}) {
  const user = options.user ?? { sub: 'alice', scopes: ['mcp:tools'] };
  const alg = options.alg ?? 'RS256';
  const ttl = options.accessTokenTtlSeconds ?? 3600;
  const scopesSupported = options.scopesSupported ?? ['mcp:tools', 'admin'];

  let keySeq = 0;
  async function newKey(): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const kid = `key-${++keySeq}-${randomBytes(4).toString('hex')}`;
    return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  }
  /** Published keys, the signing key first. */
  let keys: SigningKey[] = [await newKey()];

  const clients = new Map<string, Client>();
  const codes = new Map<string, PendingCode>();
  const refreshTokens = new Map<string, Grant>();
  const log: string[] = [];
  let jwksFetches = 0;
  let jwksAvailable = true;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof OAuthFailure) return json(res, err.status, { error: err.error, error_description: err.message });
      json(res, 500, { error: 'server_error', error_description: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const endpoints = {
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
  };

  function metadata() {
    return {
      issuer,
      ...endpoints,
      scopes_supported: [...scopesSupported],
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      authorization_response_iss_parameter_supported: true,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', issuer);
    const route = `${req.method} ${url.pathname}`;
    log.push(route);
    switch (route) {
      case 'GET /.well-known/oauth-authorization-server':
        return json(res, 200, metadata());
      case 'GET /.well-known/openid-configuration':
        return json(res, 200, { ...metadata(), subject_types_supported: ['public'], id_token_signing_alg_values_supported: [alg] });
      case 'GET /.well-known/jwks.json':
        jwksFetches++;
        if (!jwksAvailable) return json(res, 503, { error: 'temporarily_unavailable' });
        return json(res, 200, { keys: keys.map((k) => k.jwk) });
      case 'POST /register':
        return json(res, 201, register(parseObject(await readBody(req))));
      case 'GET /authorize':
        return authorize(url.searchParams, res);
      case 'POST /token': {
        const params = new URLSearchParams(await readBody(req));
        log.push(`grant ${params.get('grant_type')}`);
        return json(res, 200, await token(params, req.headers.authorization));
      }
      default:
        return json(res, 404, { error: 'not_found' });
    }
  }

  function register(body: Record<string, unknown>): Client {
    const redirectUris = body.redirect_uris ?? [];
    if (!Array.isArray(redirectUris) || redirectUris.some((u) => typeof u !== 'string' || !URL.canParse(u) || new URL(u).hash)) {
      throw new OAuthFailure('invalid_redirect_uri', 'redirect_uris must be absolute URLs without a fragment');
    }
    const grantTypes = (body.grant_types as string[] | undefined) ?? ['authorization_code'];
    if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
      throw new OAuthFailure('invalid_redirect_uri', 'the authorization_code grant needs at least one redirect URI');
    }
    const method = (body.token_endpoint_auth_method as Client['token_endpoint_auth_method'] | undefined) ?? 'client_secret_basic';
    if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method)) {
      throw new OAuthFailure('invalid_client_metadata', `token_endpoint_auth_method ${method} is not supported`);
    }
    if (method === 'none' && grantTypes.includes('client_credentials')) {
      throw new OAuthFailure('invalid_client_metadata', 'client_credentials needs a confidential client');
    }
    const client: Client = {
      ...body,
      client_id: randomUUID(),
      client_id_issued_at: nowSeconds(),
      redirect_uris: redirectUris as string[],
      grant_types: grantTypes,
      token_endpoint_auth_method: method,
      ...(method !== 'none' && { client_secret: b64url(randomBytes(24)), client_secret_expires_at: 0 }),
    };
    clients.set(client.client_id, client);
    return client;
  }

  function authorize(params: URLSearchParams, res: ServerResponse) {
    // Errors about the client or redirect URI are shown, never redirected (RFC 6749 §4.1.2.1).
    const client = clients.get(params.get('client_id') ?? '');
    if (!client) throw new OAuthFailure('invalid_request', 'unknown client_id');
    const redirectUri = params.get('redirect_uri') ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0]! : '');
    if (!client.redirect_uris.includes(redirectUri)) throw new OAuthFailure('invalid_request', 'redirect_uri is not registered for this client');

    const back = new URL(redirectUri);
    const state = params.get('state');
    const answer = (fields: Record<string, string>) => {
      for (const [k, v] of Object.entries(fields)) back.searchParams.set(k, v);
      if (state !== null) back.searchParams.set('state', state);
      back.searchParams.set('iss', issuer);
      res.writeHead(302, { location: back.href, 'cache-control': 'no-store' }).end();
    };
    if (params.get('response_type') !== 'code') return answer({ error: 'unsupported_response_type' });
    const challenge = params.get('code_challenge');
    if (!challenge || params.get('code_challenge_method') !== 'S256') {
      return answer({ error: 'invalid_request', error_description: 'PKCE with code_challenge_method=S256 is required' });
    }
    let resource: string | undefined;
    try {
      resource = singleResource(params);
    } catch (err) {
      return answer({ error: 'invalid_target', error_description: (err as Error).message });
    }
    const code = b64url(randomBytes(32));
    codes.set(code, {
      clientId: client.client_id,
      sub: user.sub,
      scope: grantable(params.get('scope'), user.scopes),
      resource,
      redirectUri,
      challenge,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    answer({ code });
  }

  /** The RFC 8707 `resource`: one absolute URI without a fragment, or none. */
  function singleResource(params: URLSearchParams): string | undefined {
    const all = params.getAll('resource');
    if (all.length === 0) return undefined;
    if (all.length > 1) throw new Error('one resource per request');
    const [resource] = all as [string];
    if (!URL.canParse(resource) || new URL(resource).hash) throw new Error('resource must be an absolute URI without a fragment');
    return resource;
  }

  /** Requested scopes this grant may carry; all allowed scopes when none were requested. */
  function grantable(requested: string | null, allowed: readonly string[]): string {
    const asked = (requested ?? '').split(' ').filter(Boolean);
    return (asked.length ? asked.filter((s) => allowed.includes(s)) : [...allowed]).join(' ');
  }

  function authenticateClient(params: URLSearchParams, authorization: string | undefined): Client {
    let id = params.get('client_id');
    let secret = params.get('client_secret');
    let method: Client['token_endpoint_auth_method'] = secret === null ? 'none' : 'client_secret_post';
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (basic) {
      const [user, pass] = Buffer.from(basic[1]!, 'base64').toString().split(':');
      [id, secret, method] = [decodeURIComponent(user ?? ''), decodeURIComponent(pass ?? ''), 'client_secret_basic'];
    }
    const client = clients.get(id ?? '');
    if (!client || client.token_endpoint_auth_method !== method || (method !== 'none' && client.client_secret !== secret)) {
      throw new OAuthFailure('invalid_client', 'client authentication failed', 401);
    }
    return client;
  }

  async function token(params: URLSearchParams, authorization: string | undefined) {
    const client = authenticateClient(params, authorization);
    const grantType = params.get('grant_type') ?? '';
    if (!client.grant_types.includes(grantType)) throw new OAuthFailure('unauthorized_client', `this client may not use ${grantType || 'an empty grant type'}`);
    let resource: string | undefined;
    try {
      resource = singleResource(params);
    } catch (err) {
      throw new OAuthFailure('invalid_target', (err as Error).message);
    }

    let grant: Grant;
    if (grantType === 'authorization_code') {
      const code = codes.get(params.get('code') ?? '');
      codes.delete(params.get('code') ?? '');
      if (!code || code.clientId !== client.client_id || code.expiresAt < Date.now()) throw new OAuthFailure('invalid_grant', 'unknown, used or expired code');
      if ((params.get('redirect_uri') ?? code.redirectUri) !== code.redirectUri)
        throw new OAuthFailure('invalid_grant', 'redirect_uri differs from the authorization request');
      const verifier = params.get('code_verifier') ?? '';
      if (b64url(createHash('sha256').update(verifier).digest()) !== code.challenge) throw new OAuthFailure('invalid_grant', 'PKCE verification failed');
      if (resource !== undefined && resource !== code.resource) throw new OAuthFailure('invalid_target', 'resource differs from the authorization request');
      grant = code;
    } else if (grantType === 'refresh_token') {
      const previous = refreshTokens.get(params.get('refresh_token') ?? '');
      // Rotated on every use (OAuth 2.1 §4.3.1).
      refreshTokens.delete(params.get('refresh_token') ?? '');
      if (!previous || previous.clientId !== client.client_id) throw new OAuthFailure('invalid_grant', 'unknown or used refresh token');
      if (resource !== undefined && resource !== previous.resource) throw new OAuthFailure('invalid_target', 'resource differs from the original grant');
      grant = previous;
    } else if (grantType === 'client_credentials') {
      const allowed = client.scope ? client.scope.split(' ') : scopesSupported;
      grant = { clientId: client.client_id, sub: client.client_id, scope: grantable(params.get('scope'), allowed), resource };
    } else {
      throw new OAuthFailure('unsupported_grant_type', `grant_type ${grantType} is not supported`);
    }

    const accessToken = await mint({ sub: grant.sub, client_id: grant.clientId, scope: grant.scope || undefined, aud: grant.resource ?? options.audience });
    let refreshToken: string | undefined;
    if (grantType !== 'client_credentials' && client.grant_types.includes('refresh_token')) {
      refreshToken = b64url(randomBytes(32));
      refreshTokens.set(refreshToken, { clientId: grant.clientId, sub: grant.sub, scope: grant.scope, resource: grant.resource });
    }
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ttl,
      ...(grant.scope && { scope: grant.scope }),
      ...(refreshToken && { refresh_token: refreshToken }),
    };
  }

  let foreign: Promise<SigningKey> | undefined;

  /**
   * A signed access token (RFC 9068 shape): `iss`, `sub` (the test user), `aud`, `client_id`,
   * `iat`, `exp`, `jti`, overridden by `claims`. With `options`, the broken kinds tests need.
   */
  async function mint(claims: MintClaims = {}, mintOptions: MintOptions = {}): Promise<string> {
    const iat = nowSeconds();
    const merged: MintClaims = {
      iss: issuer,
      sub: user.sub,
      aud: options.audience,
      client_id: 'test-client',
      iat,
      exp: iat + ttl,
      jti: randomUUID(),
      ...claims,
    };
    const payload = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as JWTPayload;
    const signer = mintOptions.forge ? await (foreign ??= newKey()) : keys[0]!;
    const kid = mintOptions.kid === undefined ? keys[0]!.kid : mintOptions.kid;
    const header = { typ: 'at+jwt', ...(kid !== null && { kid }) };
    if (mintOptions.alg === 'none') return `${b64url(JSON.stringify({ ...header, alg: 'none' }))}.${b64url(JSON.stringify(payload))}.`;
    if (mintOptions.alg === 'HS256') {
      const secret = mintOptions.secret ?? new TextEncoder().encode(await exportSPKI(keys[0]!.publicKey));
      return new SignJWT(payload).setProtectedHeader({ ...header, alg: 'HS256' }).sign(secret);
    }
    return new SignJWT(payload).setProtectedHeader({ ...header, alg }).sign(signer.privateKey);
  }

  return {
    issuer,
    jwksUrl: endpoints.jwks_uri,
    /** The test user `/authorize` approves. */
    user,
    mint,
    /** The current signing key's id. */
    get kid() {
      return keys[0]!.kid;
    },
    /**
     * Signs with a new key from now on and publishes it; the previous keys stay published unless
     * `keepOld` is false. Returns the new kid.
     */
    async rotate({ keepOld = true } = {}): Promise<string> {
      const next = await newKey();
      keys = [next, ...(keepOld ? keys : [])];
      return next.kid;
    },
    /** JWKS requests served so far (including refused ones). */
    get jwksFetches() {
      return jwksFetches;
    },
    /** While false, the JWKS endpoint answers 503 (an authorization server outage). */
    set jwksAvailable(value: boolean) {
      jwksAvailable = value;
    },
    /** `METHOD /path` of every request, plus `grant <type>` for each token request, in order. */
    log,
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Answered below, like any body that is not a JSON object.
  }
  throw new OAuthFailure('invalid_client_metadata', 'the registration request must be a JSON object');
}
