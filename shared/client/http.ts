// The fetch the resilient client gives the SDK's transport: adds the server's static credential
// headers, and turns what only HTTP can tell into typed errors before the SDK sees it: 429 with
// its Retry-After, 5xx, a 2025-era session the server forgot (404 on a request that carried
// Mcp-Session-Id), and a connection that failed before or after the request went out. 400, 401
// and 403 are left to the SDK (JSON-RPC errors in the body; OAuth re-authorization). The raw
// path's transports (transport.ts) run the same checks (`refusal`).
import { SessionGoneError, UpstreamRateLimitedError, UpstreamUnavailableError, networkFailure } from './errors.ts';
import { parseRetryAfter } from './retry.ts';
import { traceHeaders, traced } from '../trace.ts';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The JSON-RPC error message in a body, else its first characters. */
async function detailOf(response: HttpAnswer): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || response.statusText;
}

/** What the checks below read of an answer, from a fetch Response or another transport's (transport.ts). */
interface HttpAnswer {
  status: number;
  statusText: string;
  header(name: string): string | null;
  text(): Promise<string>;
  cancel(): void;
}

/**
 * Throws what HTTP alone tells of an answer: 429 with its Retry-After, a 5xx, a 404 to a request
 * that carried `session` (the server forgot it). Any other answer passes.
 */
export async function refusal(server: string, session: string | undefined, response: HttpAnswer): Promise<void> {
  if (response.status === 429) {
    throw new UpstreamRateLimitedError(server, parseRetryAfter(response.header('retry-after')), await detailOf(response));
  }
  if (response.status >= 500) {
    const retryAfterMs = parseRetryAfter(response.header('retry-after'));
    throw new UpstreamUnavailableError(server, `HTTP ${response.status}: ${await detailOf(response)}`, true, response.status, retryAfterMs);
  }
  if (response.status === 404 && session !== undefined) {
    response.cancel();
    throw new SessionGoneError(`upstream "${server}" no longer knows session ${session}`);
  }
}

/**
 * A request's headers as one plain object, names lower-cased, `extra`'s winning over the request's
 * own (as Headers.set would): fetch takes it without a Headers object built per wrapper. Duplicate
 * names are joined as Headers joins them. Built fresh per request: nothing of one caller's outlives it.
 */
export function withHeaders(own: HeadersInit | undefined, extra: Readonly<Record<string, string>>): Record<string, string> {
  // No prototype: any header name is a plain key, `__proto__` included.
  const merged: Record<string, string> = Object.create(null);
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    merged[key] = merged[key] === undefined ? value : `${merged[key]}, ${value}`;
  };
  if (own instanceof Headers || Array.isArray(own)) for (const [name, value] of own) add(name!, value!);
  else if (own) for (const name of Object.keys(own)) add(name, own[name]!);
  for (const name of Object.keys(extra)) merged[name.toLowerCase()] = extra[name]!;
  return merged;
}

export function upstreamFetch(server: string, headers: Readonly<Record<string, string>>, base: Fetch = fetch): Fetch {
  return async (input, init = {}) => {
    const merged = withHeaders(init.headers, headers);
    let response: Response;
    try {
      // The upstream continues this trace (a span per call, traceparent and X-Amzn-Trace-Id on it).
      response = await traced(`upstream ${server}`, 'client', { 'server.name': server }, () => base(input, { ...init, headers: traceHeaders(merged) }));
    } catch (err) {
      // The caller's own abort (cancellation, a timeout the SDK raised) is not the server's failure.
      if (init.signal?.aborted) throw err;
      throw networkFailure(server, err);
    }
    if (response.status === 429 || response.status === 404 || response.status >= 500) {
      await refusal(server, merged['mcp-session-id'], {
        status: response.status,
        statusText: response.statusText,
        header: (name) => response.headers.get(name),
        text: () => response.text(),
        cancel: () => void response.body?.cancel().catch(() => {}),
      });
    }
    return response;
  };
}
