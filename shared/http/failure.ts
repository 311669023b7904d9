// The one error mapper (the MCP endpoint's step, and Hono's `app.onError` for the other routes):
// what the client is told when a request fails
// outside the protocol. A typed refusal as it is, a quota as 429, a dependency that is down as 503
// naming it, a client that went away as 499 (never sent), anything else as a logged internal error.
import type { ErrorHandler } from 'hono';
import { DependencyUnavailableError, callerMessage, failureFields, isDependencyError } from '../dependency.ts';
import type { KitLogger } from '../log.ts';
import { CLIENT_CLOSED_REQUEST, ClientGoneError, HttpProtocolError, INTERNAL_ERROR, SERVER_ERROR } from '../protocol/errors.ts';
import { QuotaExceededError } from '../store/quota.ts';
import type { KitEnv } from './access-log.ts';
import type { Step } from './steps.ts';
import { errorResponse } from './errors.ts';

export function errorMapper(log: KitLogger) {
  function failure(err: unknown, requestId: string): HttpProtocolError {
    if (err instanceof HttpProtocolError) return err;
    if (err instanceof QuotaExceededError) return new HttpProtocolError(429, SERVER_ERROR, err.message, { 'retry-after': String(err.retryAfterSeconds) });
    if (err instanceof DependencyUnavailableError) {
      log.warn('dependency unavailable', failureFields(err, requestId));
      return new HttpProtocolError(503, SERVER_ERROR, `Service Unavailable: ${callerMessage(err, requestId)}`, { 'retry-after': '5' });
    }
    log.error('request failed', {
      requestId,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      ...(isDependencyError(err) && failureFields(err, requestId)),
    });
    return new HttpProtocolError(500, INTERNAL_ERROR, `Internal error (request id ${requestId})`);
  }

  function answer(err: unknown, requestId: string): Response {
    if (err instanceof ClientGoneError) {
      log.info('client went away', { requestId, detail: err.message });
      return new Response(null, { status: CLIENT_CLOSED_REQUEST });
    }
    return errorResponse(failure(err, requestId));
  }

  // Routes outside the MCP endpoint have no request id of their own.
  const onError: ErrorHandler = (err) => answer(err, crypto.randomUUID());

  /** Inside the MCP endpoint's guard, so a refusal still gets CORS and its access line. */
  const mapErrors: Step<KitEnv> = async (c, next) => {
    try {
      return await next(c);
    } catch (err) {
      return answer(err, c.get('requestId'));
    }
  };

  /** An error after a slow answer's stream opened: the same words the JSON answer would have had. */
  const lateError = (err: unknown, requestId: string) => {
    const { code, message } = failure(err, requestId);
    return { code, message };
  };

  return { onError, mapErrors, lateError };
}
