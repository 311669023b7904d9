// OAuth 2.1 access tokens (JWT) checked as a resource server: signature against the issuer's JWKS
// (fetched, cached, refetched for an unknown key id, so key rotation needs no restart), issuer,
// audience equal to this resource (RFC 8707), expiry with a small clock skew, and an algorithm
// allow-list. The caller is the issuer's `sub`, a non-empty string short enough that the principal
// id it makes with the issuer fits MAX_PRINCIPAL_ID_BYTES. Tokens are only verified here, never
// forwarded anywhere.
import type { JWTPayload } from 'jose';
import type { AuthConfig } from '../config.ts';
import { PrincipalIdTooLongError, oauthPrincipal, type Principal } from '../principal.ts';

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** The issuer's keys could not be fetched: a server-side problem, not the caller's. */
export class TokenVerificationUnavailableError extends Error {
  override name = 'TokenVerificationUnavailableError';
}

/** Scopes from the `scope` claim (space-separated, RFC 9068) or `scp` (an array, or Entra's space-separated string). */
function scopesOf(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (typeof payload.scp === 'string') return payload.scp.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

export type Jose = typeof import('jose');
// Loaded with the first token: servers without OAuth, and cold starts, do not pay for it.
let jose: Promise<Jose> | undefined;
export const loadJose = () => (jose ??= import('jose'));

/** Why jose refused a token, in words a caller can act on. */
export function reason({ errors }: Jose, err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `the token has no "${err.claim}" claim`;
    if (err.claim === 'nbf') return 'the token is not valid yet';
    return `the token's "${err.claim}" claim is not accepted here`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this server does not accept';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token is signed with a key the issuer does not publish';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  return 'the token is malformed';
}

export type JwtVerifier = (token: string) => Promise<Principal>;

export function createJwtVerifier(oauth: NonNullable<AuthConfig['oauth']>): JwtVerifier {
  let jwks: ReturnType<Jose['createRemoteJWKSet']> | undefined;
  const options = {
    issuer: oauth.issuer,
    audience: [...oauth.audience],
    algorithms: [...oauth.algorithms],
    clockTolerance: oauth.clockSkewSeconds,
    requiredClaims: ['exp', 'sub'],
  };
  return async (token) => {
    const lib = await loadJose();
    const { errors } = lib;
    // Refetched at most every 30 s on an unknown kid (rotation), and every 10 min regardless.
    jwks ??= lib.createRemoteJWKSet(new URL(oauth.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 3_000 });
    let payload: JWTPayload;
    try {
      ({ payload } = await lib.jwtVerify(token, jwks, options));
    } catch (err) {
      const unavailable =
        err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC';
      if (unavailable) {
        throw new TokenVerificationUnavailableError(`the authorization server's keys could not be fetched: ${(err as Error).message}`);
      }
      throw new InvalidTokenError(reason(lib, err));
    }
    // An ID token is not an access token, even when its audience matches (Cognito's `token_use`).
    if (payload.token_use !== undefined && payload.token_use !== 'access') throw new InvalidTokenError('the token is not an access token');
    // jose only checks that `sub` is present: "" or 42 would name nobody, or someone by accident.
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('the token\'s "sub" claim must be a non-empty string');
    try {
      return oauthPrincipal(oauth.issuer, payload.sub, scopesOf(payload));
    } catch (err) {
      if (err instanceof PrincipalIdTooLongError) throw new InvalidTokenError(`the token's "sub" claim is too long: ${err.message}`);
      throw err;
    }
  };
}
