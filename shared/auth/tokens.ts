// What authentication needs of the token checks before one is loaded (jwt.ts and
// gateway-assertion.ts load on a server's first token): their errors, and how a gateway's
// assertion is told from an access token.

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** The issuer's keys could not be fetched: a server-side problem, not the caller's. */
export class TokenVerificationUnavailableError extends Error {
  override name = 'TokenVerificationUnavailableError';
}

/** The JOSE `typ` of an assertion (RFC 8725 §3.11): no OAuth access token can pass for one. */
export const ASSERTION_TYPE = 'gateway-assertion+jwt';

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
