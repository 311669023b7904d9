// The fetch the resilient client gives the SDK's transport: adds the server's static credential
// headers, and turns what only HTTP can tell into typed errors before the SDK sees it: 429 with
// its Retry-After, 5xx, a 2025-era session the server forgot (404 on a request that carried
// Mcp-Session-Id), and a connection that failed before or after the request went out. 400, 401
// and 403 are left to the SDK (JSON-RPC errors in the body; OAuth re-authorization).
import { SessionGoneError, UpstreamRateLimitedError, UpstreamUnavailableError, networkFailure } from './errors.ts';
import { parseRetryAfter } from './retry.ts';
import { traceHeaders, traced } from '../trace.ts';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The JSON-RPC error message in a body, else its first characters. */
async function detailOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || response.statusText;
}

export function upstreamFetch(server: string, headers: Readonly<Record<string, string>>, base: Fetch = fetch): Fetch {
  return async (input, init = {}) => {
    const merged = new Headers(init.headers);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    let response: Response;
    try {
      // The upstream continues this trace (a span per call, traceparent and X-Amzn-Trace-Id on it).
      response = await traced(`upstream ${server}`, 'client', { 'server.name': server }, () => base(input, { ...init, headers: traceHeaders(merged) }));
    } catch (err) {
      // The caller's own abort (cancellation, a timeout the SDK raised) is not the server's failure.
      if (init.signal?.aborted) throw err;
      throw networkFailure(server, err);
    }
    if (response.status === 429) {
      throw new UpstreamRateLimitedError(server, parseRetryAfter(response.headers.get('retry-after')), await detailOf(response));
    }
    if (response.status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      throw new UpstreamUnavailableError(server, `HTTP ${response.status}: ${await detailOf(response)}`, true, response.status, retryAfterMs);
    }
    if (response.status === 404 && merged.has('mcp-session-id')) {
      await response.body?.cancel().catch(() => {});
      throw new SessionGoneError(`upstream "${server}" no longer knows session ${merged.get('mcp-session-id')}`);
    }
    return response;
  };
}
