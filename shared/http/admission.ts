// Who may do what at the MCP endpoint: authentication (a step that names the caller), the
// scopes a tool needs, and the rate limits a request counts against. Each refusal is written as
// an audit line (shared/audit.ts) where it is caught, so a request that passes pays nothing.
import { presentedCredential, requestOrigin } from '../audit.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { KitLogger } from '../log.ts';
import type { Principal } from '../principal.ts';
import { HttpProtocolError } from '../protocol/errors.ts';
import type { AccessNote, KitEnv } from './access-log.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Step } from './steps.ts';

export function createAdmission(authenticator: Authenticator, log: KitLogger, limiter: RateLimiter | undefined) {
  /** Names the caller; the authenticator's refusal of its credentials is audited (503s, cannot check now, are no event). */
  const authenticate: Step<KitEnv> = async (c, next) => {
    const request = c.req.raw;
    try {
      c.set('principal', await authenticator.authenticate(request));
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
      await limiter.check(principal.id, tool, id).catch((err: unknown) => {
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

  return { authenticate, requireScopes, count };
}
