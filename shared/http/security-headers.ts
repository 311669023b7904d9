// Security headers on every response the app gives: nothing it serves is a page, may be framed,
// cached, sniffed or referred from. One middleware, first in the chain, so no route can miss them.
import type { MiddlewareHandler } from 'hono';

const SECURITY_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=63072000'],
  ['cache-control', 'no-store'],
];

export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  const headers = c.res.headers;
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
};
