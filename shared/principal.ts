// Who is calling. Auth middleware sets it; until a request is authenticated it is `anonymous`.
// Sessions, state handles, artifacts, cache entries and requestState are bound to the principal
// id, so an id names one caller of one auth method: ids of different methods can never be equal.

export interface Principal {
  /**
   * Stable and readable in logs: `anonymous` when unauthenticated, `apikey:<owner>` for an API
   * key (every key of one owner, so a rotated key keeps the id), `oauth:<issuer>#<sub>` for a token,
   * `gateway:<gateway>#<caller>` for a caller a trusted gateway speaks for.
   */
  readonly id: string;
  /** Scopes granted to this caller. */
  readonly scopes: readonly string[];
  /**
   * Whom rate limits and stream caps count this caller as, when not its id: an anonymous caller
   * by the address it connected from (`anonymous@203.0.113.7`; IPv6 by its /64,
   * `anonymous@2001:db8:0:7::/64`), so one cannot use up everyone's.
   */
  readonly limitKey?: string;
}

/** Every API key starts with this, so a bearer token can be told from a JWT without parsing it. */
export const API_KEY_PREFIX = 'mcpk_';

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', scopes: Object.freeze([]) });

/** An anonymous caller, counted against rate limits and stream caps by its address key (client-address.ts) when known. */
export const anonymousAt = (address: string | undefined): Principal =>
  address === undefined ? ANONYMOUS : Object.freeze({ ...ANONYMOUS, limitKey: `anonymous@${address}` });

/** Whom rate limits and stream caps count `principal` as. */
export const limitKeyOf = (principal: Principal) => principal.limitKey ?? principal.id;

/**
 * The longest principal id, in UTF-8 bytes. Ids go into keys of DynamoDB items, S3 objects and
 * Redis entries, whose own limits would otherwise fail a request half-way (and say why in their words).
 */
export const MAX_PRINCIPAL_ID_BYTES = 256;

/** A credential names a caller whose id would be longer than MAX_PRINCIPAL_ID_BYTES. */
export class PrincipalIdTooLongError extends Error {
  override name = 'PrincipalIdTooLongError';
  constructor(bytes: number) {
    super(`the principal id it names is ${bytes} bytes long; at most ${MAX_PRINCIPAL_ID_BYTES} are accepted`);
  }
}

const utf8 = new TextEncoder();

/** Throws PrincipalIdTooLongError for an id over the limit. */
export function checkPrincipalId(id: string): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most ids are too short to be worth encoding.
  const bytes = id.length * 3 > MAX_PRINCIPAL_ID_BYTES ? utf8.encode(id).length : 0;
  if (bytes > MAX_PRINCIPAL_ID_BYTES) throw new PrincipalIdTooLongError(bytes);
  return id;
}

const principal = (id: string, scopes: readonly string[]): Principal => Object.freeze({ id: checkPrincipalId(id), scopes: Object.freeze([...scopes]) });

export const API_KEY_PRINCIPAL_PREFIX = 'apikey:';

/** The principal id of an API key owner, as `npm run keys` names it (`--principal <owner>`). */
export const apiKeyPrincipalId = (owner: string) => `${API_KEY_PRINCIPAL_PREFIX}${owner}`;

export const apiKeyPrincipal = (owner: string, scopes: readonly string[]) => principal(apiKeyPrincipalId(owner), scopes);

/**
 * A token's subject, qualified by its issuer: two issuers may hand out the same `sub`. An issuer
 * has no fragment (RFC 8414 §2), but one that did must not be able to shift the `#` separator,
 * so `%` and `#` in it are percent-encoded.
 */
export const oauthPrincipal = (issuer: string, subject: string, scopes: readonly string[]) =>
  principal(`oauth:${issuer.replace(/[%#]/g, encodeURIComponent)}#${subject}`, scopes);

export const GATEWAY_PRINCIPAL_PREFIX = 'gateway:';

/**
 * A caller a trusted gateway speaks for (its on-behalf-of assertion): the gateway, then the
 * caller's principal id there. The `gateway:` prefix keeps it apart from every direct caller, and
 * `%` and `#` in the gateway's name are percent-encoded, as for an issuer, so the first `#` always
 * ends it; the caller's id follows as it is (it may itself name a gateway).
 */
export const gatewayPrincipal = (gateway: string, caller: string, scopes: readonly string[]) =>
  principal(`${GATEWAY_PRINCIPAL_PREFIX}${gateway.replace(/[%#]/g, encodeURIComponent)}#${caller}`, scopes);
