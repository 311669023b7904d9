// Security headers on every response the app gives: nothing it serves is a page, may be framed,
// cached, sniffed or referred from. The outermost step of the MCP endpoint, and a middleware on
// every other route (app.ts).
// The MCP endpoint's steps also gather the headers every answer of a request gets (these, its
// request id, CORS) in one plain object before it is served (`answerHeaders`), and a quick JSON
// answer (the direct lane's) is built with them in it: on @hono/node-server a response built with
// a plain object is written as it is, where setting a header afterwards first copies its headers
// into undici's `Headers` (each validated, then sorted to be written), a sixth of such a call's
// server CPU. Every other response gets them set afterwards, as before.
import type { Context, MiddlewareHandler } from 'hono';
import type { Serve } from './steps.ts';

/** A request's answer headers, by lower-case name. */
export type AnswerHeaders = Record<string, string>;
/** The context variable the MCP endpoint's steps gather them in (part of access-log.ts's KitEnv). */
export type AnswerEnv = { Variables: { answerHeaders: AnswerHeaders } };

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=63072000',
  'cache-control': 'no-store',
};
const SECURITY_ENTRIES = Object.entries(SECURITY_HEADERS);

/** What a jsonAnswer was built from, for an adapter that writes it without reading the Response back (lambda-stream.ts). */
export interface JsonAnswerParts {
  readonly status: 200;
  /** Its headers, by lower-case name: the request's answer headers and its type; no Set-Cookie. */
  readonly headers: Readonly<AnswerHeaders>;
  readonly text: string;
}

/**
 * Answers built by jsonAnswer: they carry their request's answer headers already, and no step sets
 * a header on them (secure, the guard's CORS, the access log's request id all skip them), so their
 * parts stay what the Response holds.
 */
const complete = new WeakMap<Response, JsonAnswerParts>();

/** A 200 JSON answer with `headers`, the request's answer headers, in it: the steps add nothing to it. */
export function jsonAnswer(text: string, headers: Readonly<AnswerHeaders>): Response {
  const all = { ...headers, 'content-type': 'application/json' };
  const response = new Response(text, { status: 200, headers: all });
  complete.set(response, { status: 200, headers: all, text });
  return response;
}

/** Whether `response` is a jsonAnswer (its headers complete, its type JSON). */
export const isJsonAnswer = (response: Response) => complete.has(response);

/** A jsonAnswer's parts; undefined for any other response. */
export const jsonAnswerParts = (response: Response): JsonAnswerParts | undefined => complete.get(response);

export function secure(response: Response): Response {
  if (!complete.has(response)) for (const [name, value] of SECURITY_ENTRIES) response.headers.set(name, value);
  return response;
}

export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  secure(c.res);
};

/** Starts the request's answer headers with the security headers, and sets them on whatever else it answers. */
export function secureStep<E extends AnswerEnv>(c: Context<E>, next: Serve<E>): Promise<Response> {
  c.set('answerHeaders', { ...SECURITY_HEADERS });
  return next(c).then(secure);
}
