// Security headers on every response the app gives: nothing it serves is a page, may be framed,
// cached, sniffed or referred from. The outermost step of the MCP endpoint, and a middleware on
// every other route (app.ts).
import type { Context, Env, MiddlewareHandler } from 'hono';
import type { Serve } from './steps.ts';

const SECURITY_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=63072000'],
  ['cache-control', 'no-store'],
];

export function secure(response: Response): Response {
  for (const [name, value] of SECURITY_HEADERS) response.headers.set(name, value);
  return response;
}

export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  secure(c.res);
};

export function secureStep<E extends Env>(c: Context<E>, next: Serve<E>): Promise<Response> {
  return next(c).then(secure);
}
