// Who may do what at the MCP endpoint: authentication (a step that names the caller), the
// scopes a tool needs, and the rate limits and stream caps a request counts against (an anonymous
// caller's by its address, client-address.ts). Each refusal is written as an audit line
// (shared/audit.ts) where it is caught, so a request that passes pays nothing.
import { credentialId, presentedCredential, requestOrigin } from '../audit.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { KitLogger } from '../log.ts';
import { ANONYMOUS, anonymousAt, limitKeyOf, type Principal } from '../principal.ts';
import { HttpProtocolError } from '../protocol/errors.ts';
import type { AccessNote, KitEnv } from './access-log.ts';
import { addressKey, clientAddress } from './client-address.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Step } from './steps.ts';

/** `viewerHeaderSet`: origin verification is on, so CloudFront set CloudFront-Viewer-Address. */
export function createAdmission(authenticator: Authenticator, log: KitLogger, limiter: RateLimiter | undefined, viewerHeaderSet = false) {
  // The last anonymous caller's principal, by its address: a burst from one address (every
  // request of a keep-alive connection) shares one frozen principal instead of working out its key each time.
  let lastAddress: string | undefined;
  let lastAnonymous = ANONYMOUS;
  const anonymous = (address: string | undefined) => {
    if (address !== lastAddress) {
      lastAddress = address;
      lastAnonymous = anonymousAt(address && addressKey(address));
    }
    return lastAnonymous;
  };
  /** Names the caller; the authenticator's refusal of its credentials is audited (503s, cannot check now, are no event). */
  const authenticate: Step<KitEnv> = async (c, next) => {
    const request = c.req.raw;
    try {
      const principal = await authenticator.authenticate(request);
      c.set('principal', principal === ANONYMOUS ? anonymous(clientAddress(request, c.env, viewerHeaderSet)) : principal);
    } catch (err) {
      if (err instanceof HttpProtocolError && err.status === 401) {
        log.audit('auth.failed', {
          requestId: c.get('requestId'),
          ...requestOrigin(request),
          ...presentedCredential(request),
          status: err.status,
          reason: err.message,
        });
      }
      throw err;
    }
    return next(c);
  };

  /** Throws 403 insufficient_scope, audited, when the caller lacks a scope the tool needs. */
  function requireScopes(request: Request, requestId: string, principal: Principal, tool: string, scopes: readonly string[]): void {
    try {
      authenticator.requireScopes(request, principal, scopes);
    } catch (err) {
      log.audit('scope.refused', {
        requestId,
        principal: principal.id,
        ...requestOrigin(request),
        tool,
        required: scopes,
        missing: scopes.filter((s) => !principal.scopes.includes(s)),
      });
      throw err;
    }
  }

  /** Counts a request against the caller's rate limits (and the tool's); throws 429 over them, audited. Absent when rate limiting is off. */
  const count =
    limiter &&
    (async (
      request: Request,
      requestId: string,
      principal: Principal,
      tool: string | undefined,
      id: string | number | null,
      note?: AccessNote,
    ): Promise<void> => {
      await limiter.check(limitKeyOf(principal), tool, id).catch((err: unknown) => {
        const refused = err instanceof HttpProtocolError && err.status === 429;
        if (note) note.rateLimited = refused;
        if (refused)
          log.audit('rate_limit.refused', {
            requestId,
            principal: principal.id,
            ...requestOrigin(request),
            ...(tool !== undefined && { tool }),
            reason: err.message,
            retryAfter: Number(err.headers?.['retry-after']),
          });
        throw err;
      });
    });

  /** Audits a stream a cap refused (the error is the caller's answer, rethrown by the caller). */
  function streamRefused(request: Request, requestId: string, principal: Principal, err: unknown): void {
    if (!(err instanceof HttpProtocolError)) return;
    log.audit('stream.refused', {
      requestId,
      principal: principal.id,
      ...(principal.limitKey && { countedAs: principal.limitKey }),
      ...requestOrigin(request),
      status: err.status,
      reason: err.message,
      retryAfter: Number(err.headers?.['retry-after']),
    });
  }

  /** Audits a request naming another principal's legacy session: its id only as a digest, and whose it is. */
  function foreignSession(request: Request, requestId: string, principal: Principal, sessionId: string, owner: string): void {
    log.audit('session.refused', { requestId, principal: principal.id, ...requestOrigin(request), session: credentialId(sessionId), owner, status: 404 });
  }

  return { authenticate, requireScopes, count, streamRefused, foreignSession };
}
