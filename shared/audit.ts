// Audit events: the security decisions the kit makes, one JSON line each, marked `"audit": true`
// and named by `event`, written by the kit's logger (log.ts) at every log level. Deployed, the
// construct copies the marked lines to a log group of their own (infra/audit-log.ts). What is
// here runs only once an event happened: a successful call computes none of it. A credential is
// never logged, only the first 12 hex digits of its SHA-256 (for an API key, the id
// `npm run keys -- list` shows).
// node:crypto is taken on first use (`process.getBuiltinModule`), not imported: a cold start
// whose first call hashes nothing does not load it.
import { API_KEY_PREFIX } from './principal.ts';

export type AuditEvent =
  /** A request's credentials were missing, malformed, unknown, revoked, expired or not accepted (401). */
  | 'auth.failed'
  /** An authenticated caller called a tool whose scopes it lacks (403). */
  | 'scope.refused'
  /** A rate limit refused a request (429). */
  | 'rate_limit.refused'
  /** A stream cap refused a notification stream (429 the caller's, 503 the server's or an unreachable count). */
  | 'stream.refused'
  /** A request named a legacy session another principal started (answered 404, as an unknown one). */
  | 'session.refused'
  /** The user confirmed what a tool asked (ctx.confirm). */
  | 'confirmation.accepted'
  /** The user declined or dismissed what a tool asked. */
  | 'confirmation.declined'
  /** A confirmation token or answer was replayed, expired or made for another call. */
  | 'confirmation.invalid'
  | 'apikey.created'
  | 'apikey.revoked'
  /** A task was cancelled by its caller. */
  | 'task.cancelled';

/** The first 12 hex digits of a credential's SHA-256: names it in a log without revealing it. */
export const credentialId = (credential: string) => process.getBuiltinModule('node:crypto').createHash('sha256').update(credential).digest('hex').slice(0, 12);

const MAX_HEADER_FIELD = 128;

/**
 * Where a request came from, as its headers say: `sourceIp` from CloudFront-Viewer-Address
 * (CloudFront adds it; the construct's origin request policy forwards it), else the last
 * X-Forwarded-For hop (the address API Gateway saw); `amznTraceId` the Root of X-Amzn-Trace-Id.
 * Absent when the headers are. The line's `traceId` is the logger's, as on every line (trace.ts).
 */
export function requestOrigin(request: Request): Record<string, string> {
  const fields: Record<string, string> = {};
  const viewer = request.headers.get('cloudfront-viewer-address');
  const forwarded = request.headers.get('x-forwarded-for');
  // `ip:port`, IPv6 included: the port follows the last colon.
  const ip = viewer ? viewer.slice(0, viewer.lastIndexOf(':')) : forwarded?.split(',').at(-1)?.trim();
  if (ip) fields.sourceIp = ip.slice(0, MAX_HEADER_FIELD);
  const amzn = /Root=([^;]{1,128})/.exec(request.headers.get('x-amzn-trace-id') ?? '');
  if (amzn) fields.amznTraceId = amzn[1]!;
  return fields;
}

/**
 * What credential a request presented: `apikey` (x-api-key, or a Bearer key), `bearer` (another
 * Bearer token), `other` (another Authorization scheme) or `none`, with its `credentialId`.
 */
export function presentedCredential(request: Request): { credential: 'apikey' | 'bearer' | 'other' | 'none'; credentialId?: string } {
  const apiKey = request.headers.get('x-api-key');
  if (apiKey !== null) return { credential: 'apikey', credentialId: credentialId(apiKey) };
  const authorization = request.headers.get('authorization');
  if (authorization === null) return { credential: 'none' };
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (token === undefined) return { credential: 'other' };
  return { credential: token.startsWith(API_KEY_PREFIX) ? 'apikey' : 'bearer', credentialId: credentialId(token) };
}
