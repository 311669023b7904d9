// What stands before every route: the origin header CloudFront adds (origin-verify.ts), and before
// the MCP endpoint the Host and Origin checks against DNS rebinding and cross-origin calls
// (host-origin.ts), with CORS for the browser origins MCP_ALLOWED_ORIGINS lists and their preflight.
// Without an allow-list no CORS headers are sent and browsers stay blocked.
import type { Handler, MiddlewareHandler } from 'hono';
import type { KitEnv } from './access-log.ts';
import { isJsonAnswer, secure } from './security-headers.ts';
import type { Step } from './steps.ts';
import { SERVER_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import { hostnames, refuseHost, refuseOrigin } from './host-origin.ts';
import { originVerifier } from './origin-verify.ts';

const CORS_ALLOW_HEADERS =
  'authorization, content-type, accept, x-api-key, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id, traceparent, tracestate';
const CORS_EXPOSE_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after, x-request-id';

/** CORS on a response to an allowed origin (already validated by the time this runs). */
export function allowOrigin(request: Request, response: Response): Response {
  const origin = request.headers.get('origin');
  if (origin) {
    response.headers.set('access-control-allow-origin', origin);
    response.headers.set('access-control-expose-headers', CORS_EXPOSE_HEADERS);
    response.headers.append('vary', 'Origin');
  }
  return response;
}

/** allowOrigin's headers among the request's answer headers, for an answer built with them (security-headers.ts). */
function allowOriginIn(request: Request, headers: Record<string, string>): void {
  const origin = request.headers.get('origin');
  if (origin) Object.assign(headers, { 'access-control-allow-origin': origin, 'access-control-expose-headers': CORS_EXPOSE_HEADERS, vary: 'Origin' });
}

/** 403 for a browser origin on a stage that lists none: says which setting lets it in. */
function originNotListed(request: Request): Response {
  return jsonRpcErrorResponse(
    403,
    SERVER_ERROR,
    `Forbidden: Origin ${JSON.stringify(request.headers.get('origin')!.slice(0, 200))} is not allowed; list the origins browsers may call from in MCP_ALLOWED_ORIGINS (the construct's allowedOrigins prop)`,
  );
}

export interface GuardConfig {
  stage: string;
  allowedHosts: string[];
  allowedOrigins: string[];
}

/** The hostnames each allow-list names; absent when the list is empty (that check is off). */
export function allowLists(config: GuardConfig) {
  return {
    hosts: config.allowedHosts.length ? hostnames(config.allowedHosts) : undefined,
    origins: config.allowedOrigins.length ? hostnames(config.allowedOrigins) : undefined,
  };
}

/** Before every route: on a deployed stage nothing answers a request that went around CloudFront. */
export function verifyOrigin(secrets: readonly string[]): MiddlewareHandler | undefined {
  const verify = originVerifier(secrets);
  if (!verify) return undefined;
  return async (c, next) => {
    const refused = verify(c.req.raw);
    if (refused) return secure(refused);
    await next();
  };
}

/** Before the MCP endpoint: Host and Origin refused with 403, CORS on what it answers otherwise. */
export function guard(config: GuardConfig): Step<KitEnv> {
  const { hosts, origins } = allowLists(config);
  // The spec says servers MUST validate Origin. Locally `npm start` lists loopback; a deployed
  // stage without a list refuses any Origin rather than accept every one.
  const refuseEveryOrigin = !origins && config.stage !== 'local';
  return (c, next) => {
    const request = c.req.raw;
    const refused =
      (hosts && refuseHost(request, hosts)) ||
      (origins && refuseOrigin(request, origins)) ||
      (refuseEveryOrigin && request.headers.has('origin') ? originNotListed(request) : undefined);
    if (refused) return Promise.resolve(refused);
    if (!origins) return next(c);
    allowOriginIn(request, c.get('answerHeaders'));
    return next(c).then((response) => (isJsonAnswer(response) ? response : allowOrigin(request, response)));
  };
}

/** Preflight for browser clients on an allowed origin; others get the Origin refusal. */
export function preflight(origins: readonly string[]): Handler {
  return (c) => {
    const refused = refuseOrigin(c.req.raw, origins);
    if (refused || !c.req.header('origin')) return refused ?? new Response(null, { status: 204 });
    const response = new Response(null, { status: 204 });
    response.headers.set('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS');
    response.headers.set('access-control-allow-headers', CORS_ALLOW_HEADERS);
    response.headers.set('access-control-max-age', '600');
    return allowOrigin(c.req.raw, response);
  };
}
