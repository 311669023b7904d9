// On-behalf-of assertions: the short-lived JWT a gateway sends in place of its caller's token
// (shared/gateway/assertions.ts signs it), checked here for a server that lists the gateway in
// MCP_TRUSTED_GATEWAYS. Accepted: typed `gateway-assertion+jwt`, issued by a trusted gateway and
// signed with one of its keys, audience this endpoint, `act.sub` the gateway (RFC 8693), at most
// 60 s long and not expired. The caller is `gateway:<gateway>#<sub>` with the assertion's scopes.
// A `jti` is required but not remembered: the gateway reuses an assertion for its caller and this
// upstream while it lives, so replay within those 60 s is what it is built for; audience and
// expiry are what bound it. For the same reason a verified assertion is remembered until it
// expires, so a signature is checked once per assertion and instance, not per request.
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { TrustedGateway } from '../config.ts';
import { PrincipalIdTooLongError, gatewayPrincipal, type Principal } from '../principal.ts';
import { deriveGatewayKey } from './gateway-keys.ts';
import { InvalidTokenError, loadJose, reason, TokenVerificationUnavailableError, type Jose } from './jwt.ts';

/** The JOSE `typ` of an assertion (RFC 8725 §3.11): no OAuth access token can pass for one. */
export const ASSERTION_TYPE = 'gateway-assertion+jwt';
/** The longest an assertion may live, `iat` to `exp`. */
export const ASSERTION_MAX_SECONDS = 60;
const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];
/** Verified assertions remembered at most; the oldest go first. */
const MAX_VERIFIED = 1_000;

/** Whether a bearer token says it is an assertion (its header, unverified: it only picks the check). */
export function isGatewayAssertion(token: string): boolean {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 2_048) return false;
  try {
    return (JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { typ?: unknown }).typ === ASSERTION_TYPE;
  } catch {
    return false;
  }
}

/** The caller a trusted gateway speaks for, or throws InvalidTokenError / TokenVerificationUnavailableError. */
export type AssertionVerifier = (token: string, audiences: readonly string[]) => Promise<Principal>;

function keySource(lib: Jose, gateway: TrustedGateway, requestStateKeys: readonly string[]): Promise<JWTVerifyGetKey> {
  const { keys } = gateway;
  if ('jwksUrl' in keys)
    return Promise.resolve(lib.createRemoteJWKSet(new URL(keys.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 3_000 }));
  if ('jwks' in keys) return Promise.resolve(lib.createLocalJWKSet({ keys: keys.jwks as never }));
  return Promise.all(requestStateKeys.map(deriveGatewayKey)).then((derived) => lib.createLocalJWKSet({ keys: derived.map((k) => k.publicJwk) }));
}

export function createAssertionVerifier(gateways: readonly TrustedGateway[], requestStateKeys: readonly string[], clockSkewSeconds: number): AssertionVerifier {
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const sources = new Map<string, Promise<JWTVerifyGetKey>>();
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();
  return async (token, audiences) => {
    const key = `${audiences.join(' ')} ${token}`;
    const known = verified.get(key);
    if (known && known.expiresAt > Date.now()) return known.principal;
    if (known) verified.delete(key);
    const principal = await verify(token, audiences);
    verified.set(key, principal);
    if (verified.size > MAX_VERIFIED) verified.delete(verified.keys().next().value!);
    return principal.principal;
  };

  async function verify(token: string, audiences: readonly string[]): Promise<{ principal: Principal; expiresAt: number }> {
    const lib = await loadJose();
    let claimed: JWTPayload;
    try {
      claimed = lib.decodeJwt(token);
    } catch {
      throw new InvalidTokenError('the gateway assertion is malformed');
    }
    const gateway = typeof claimed.iss === 'string' ? byName.get(claimed.iss) : undefined;
    // The trusted gateways are not named: the caller may be anyone.
    if (!gateway) throw new InvalidTokenError("the assertion's issuer is not a gateway this server trusts (MCP_TRUSTED_GATEWAYS)");
    let source = sources.get(gateway.name);
    if (!source) sources.set(gateway.name, (source = keySource(lib, gateway, requestStateKeys)));
    let payload: JWTPayload;
    try {
      ({ payload } = await lib.jwtVerify(token, await source, {
        issuer: gateway.name,
        audience: [...audiences, ...gateway.audience],
        algorithms: ALGORITHMS,
        typ: ASSERTION_TYPE,
        clockTolerance: clockSkewSeconds,
        maxTokenAge: ASSERTION_MAX_SECONDS + clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      }));
    } catch (err) {
      const { errors } = lib;
      if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC') {
        throw new TokenVerificationUnavailableError(`gateway "${gateway.name}"'s keys could not be fetched: ${(err as Error).message}`);
      }
      if (err instanceof errors.JWKSNoMatchingKey)
        throw new InvalidTokenError(`the assertion is signed with a key gateway "${gateway.name}" is not trusted with here`);
      throw new InvalidTokenError(reason(lib, err).replace('the token', 'the gateway assertion'));
    }
    if (payload.exp! - payload.iat! > ASSERTION_MAX_SECONDS) throw new InvalidTokenError(`the gateway assertion lives longer than ${ASSERTION_MAX_SECONDS} s`);
    if ((payload.act as { sub?: unknown } | undefined)?.sub !== gateway.name)
      throw new InvalidTokenError('the gateway assertion\'s "act" claim must name the gateway that issued it');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('the gateway assertion\'s "sub" claim must be a non-empty string');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    try {
      return { principal: gatewayPrincipal(gateway.name, payload.sub, scopes), expiresAt: payload.exp! * 1000 };
    } catch (err) {
      // The gateway's name and the caller's id together may pass the principal limit, even where each alone does not.
      if (err instanceof PrincipalIdTooLongError) throw new InvalidTokenError(`the gateway assertion's caller is too long: ${err.message}`);
      throw err;
    }
  }
}
