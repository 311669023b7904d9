// The fetch the resilient client gives the SDK's transport: adds the server's static credential
// headers, and turns what only HTTP can tell into typed errors before the SDK sees it: 429 with
// its Retry-After, 5xx, a 2025-era session the server forgot (404 on a request that carried
// Mcp-Session-Id), and a connection that failed before or after the request went out. 400, 401
// and 403 are left to the SDK (JSON-RPC errors in the body; OAuth re-authorization). The raw
// path's transports (transport.ts) run the same checks (`refusal`).
import { SessionGoneError, UpstreamAnswerTooLargeError, UpstreamRateLimitedError, UpstreamUnavailableError, networkFailure } from './errors.ts';
import { DEFAULT_MAX_ANSWER_BYTES, limitedBody } from './answer-limit.ts';
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

export function upstreamFetch(
  server: string,
  headers: Readonly<Record<string, string>>,
  base: Fetch = fetch,
  maxAnswerBytes = DEFAULT_MAX_ANSWER_BYTES,
): Fetch {
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
    const limited = limitedResponse(server, response, maxAnswerBytes, init.body);
    if (response.status === 429 || response.status === 404 || response.status >= 500) {
      await refusal(server, merged['mcp-session-id'], {
        status: response.status,
        statusText: response.statusText,
        header: (name) => response.headers.get(name),
        text: () => limited.text(),
        cancel: () => void limited.body?.cancel().catch(() => {}),
      });
    }
    return limited;
  };
}

/**
 * `response` with its body read no further than `maxBytes` (answer-limit.ts): the SDK's transport
 * reads it unchanged, and fails with UpstreamAnswerTooLargeError (in its cause chain) past it. An
 * SSE stream's failure the SDK only logs (the call would wait out its time limit), so there the
 * stream ends instead with a JSON-RPC error to the request (`sent`'s id), which classify (errors.ts) reads back.
 */
function limitedResponse(server: string, response: Response, maxBytes: number, sent: RequestInit['body']): Response {
  const body = response.body;
  // No body, or a status a Response cannot be built with (an opaque redirect's 0): nothing to bound.
  if (!body || response.status < 200 || response.status > 599) return response;
  const sse = (response.headers.get('content-type') ?? '').toLowerCase().includes('text/event-stream');
  const chunks = limitedBody(body as unknown as AsyncIterable<Uint8Array>, server, maxBytes, { sse, declared: response.headers.get('content-length') });
  const iterator = chunks[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        // Past the limit: the upstream's body is dropped, its connection with it.
        void body.cancel().catch(() => {});
        const id = sse && err instanceof UpstreamAnswerTooLargeError ? requestId(sent) : undefined;
        if (id === undefined || !(err instanceof UpstreamAnswerTooLargeError)) return controller.error(err);
        const error = { code: err.code, message: err.message, data: { upstream: server, maxAnswerBytes: maxBytes } };
        // The blank line first ends whatever event was cut short (the SDK drops it as not JSON).
        controller.enqueue(new TextEncoder().encode(`\n\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error })}\n\n`));
        controller.close();
      }
    },
    cancel: () => void iterator.return?.(undefined),
  });
  return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The id of the JSON-RPC request a body carries, if it is one. */
function requestId(sent: RequestInit['body']): string | number | undefined {
  if (typeof sent !== 'string') return undefined;
  try {
    const id = (JSON.parse(sent) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
