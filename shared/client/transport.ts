// How a raw upstream call (raw-call.ts) goes over HTTP: one POST out, its answer as a status,
// headers and a body read whole or as it arrives, never past the answer limit (answer-limit.ts),
// without a web Response when the host has a cheaper way. The default sends it with `fetch`; a Node host passes node:http(s) with a keep-alive
// agent instead (shared/adapters/upstream-http.ts). Credentials, identity, trace headers and what
// HTTP alone tells (429, 5xx, a failed connection) are added here, whichever transport carries it.
import { refusal, withHeaders, type Fetch } from './http.ts';
import { UpstreamAnswerTooLargeError, UpstreamUnavailableError, networkFailure } from './errors.ts';
import { DEFAULT_MAX_ANSWER_BYTES, limitedBody, textOf } from './answer-limit.ts';
import { traceHeaders, traced } from '../trace.ts';

export interface UpstreamRequest {
  url: URL;
  /** Names lower-cased; the transport adds only what HTTP framing needs (host, content-length). */
  headers: Record<string, string>;
  body: string;
  /** Aborting it ends the exchange, the answer's body included. */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  statusText: string;
  /** A header's value (name lower-case), or null. */
  header(name: string): string | null;
  /** The whole body as UTF-8 text. */
  text(): Promise<string>;
  /** The body as it arrives; leaving the loop early drops the rest. */
  stream(): AsyncIterable<Uint8Array>;
  /** Drops the body unread. */
  cancel(): void;
}

/** What a transport hands back: the body only as it arrives (checkedTransport reads it whole, within its limit). */
export type TransportResponse = Omit<UpstreamResponse, 'text'>;

/** Sends one POST, never following a redirect; throws what a failed connection throws (an error with a `code`, or one in its cause). */
export type UpstreamTransport = (request: UpstreamRequest) => Promise<TransportResponse>;

/** A transport behind checkedTransport: typed errors, and the whole body as text within the answer limit. */
export type CheckedTransport = (request: UpstreamRequest) => Promise<UpstreamResponse>;

const NO_BODY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

/** The transport over `fetch` (the default). */
export function fetchTransport(base: Fetch = fetch): UpstreamTransport {
  return async ({ url, headers, body, signal }) => {
    const response = await base(url, { method: 'POST', headers, body, redirect: 'manual', signal });
    return {
      status: response.status,
      statusText: response.statusText,
      header: (name) => response.headers.get(name),
      stream: () => (response.body as unknown as AsyncIterable<Uint8Array> | null) ?? NO_BODY,
      cancel: () => void response.body?.cancel().catch(() => {}),
    };
  };
}

/**
 * `transport` with the server's static headers (`headers`, winning over the request's own), the
 * trace's, a span per call, the typed errors of upstreamFetch (http.ts), and the answer read no
 * further than `maxAnswerBytes` (answer-limit.ts): the same failures whichever transport carries the call.
 */
export function checkedTransport(
  server: string,
  headers: Readonly<Record<string, string>>,
  transport: UpstreamTransport,
  maxAnswerBytes = DEFAULT_MAX_ANSWER_BYTES,
): CheckedTransport {
  return async (request) => {
    const merged = withHeaders(request.headers, headers);
    let response: TransportResponse;
    try {
      response = await traced(`upstream ${server}`, 'client', { 'server.name': server }, () => transport({ ...request, headers: traceHeaders(merged) }));
    } catch (err) {
      // The caller's own abort (cancellation, the call's time limit) is not the server's failure.
      if (request.signal.aborted) throw err;
      throw networkFailure(server, err);
    }
    const limited = limitedAnswer(server, response, request.signal, maxAnswerBytes);
    await refusal(server, merged['mcp-session-id'], limited);
    return limited;
  };
}

/**
 * The answer's body read through the limit: one past it is dropped (its connection with it, never
 * reused), and a body cut short by the server (a reset, a close mid-answer) is worded alike whatever carried it.
 */
function limitedAnswer(server: string, response: TransportResponse, signal: AbortSignal, maxBytes: number): UpstreamResponse {
  const lost = (err: unknown) =>
    signal.aborted || err instanceof UpstreamAnswerTooLargeError
      ? err
      : new UpstreamUnavailableError(server, 'the connection closed before the answer was complete', true, undefined, undefined, { cause: err });
  const body = (sse: boolean) => guarded(response, (raw) => limitedBody(raw, server, maxBytes, { sse, declared: response.header('content-length') }), lost);
  return {
    status: response.status,
    statusText: response.statusText,
    header: (name) => response.header(name),
    text: () => textOf(body(false)),
    stream: () => body((response.header('content-type') ?? '').toLowerCase().includes('text/event-stream')),
    cancel: () => response.cancel(),
  };
}

async function* guarded(
  response: TransportResponse,
  limit: (body: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>,
  lost: (err: unknown) => unknown,
): AsyncGenerator<Uint8Array> {
  try {
    yield* limit(response.stream());
  } catch (err) {
    response.cancel();
    throw lost(err);
  }
}
