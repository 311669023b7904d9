// What went wrong when the resilient client talked to a server, as typed errors that name the
// server. `classify` turns whatever the SDK, the transport or fetch threw into one of them; every
// other module of the client throws only these.
import {
  InsufficientScopeError,
  OAuthClientFlowError,
  OAuthError,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  UnauthorizedError,
} from '@modelcontextprotocol/client';

export abstract class UpstreamError extends Error {
  /** Whether the server may have acted on the request (false: refused or never reached it). */
  abstract readonly reached: boolean;
  /** The message without the server's name. */
  readonly detail: string;
  constructor(
    readonly server: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`upstream "${server}": ${detail}`, options);
    this.detail = detail;
  }
}

/** No answer within the call's time limit. */
export class UpstreamTimeoutError extends UpstreamError {
  override name = 'UpstreamTimeoutError';
  readonly reached = true;
  constructor(
    server: string,
    readonly timeoutMs: number,
    method: string,
    options?: { cause?: unknown },
  ) {
    super(server, `no answer to ${method} within ${timeoutMs} ms`, options);
  }
}

/** The server's circuit is open: recent calls failed, so this one was not sent. */
export class CircuitOpenError extends UpstreamError {
  override name = 'CircuitOpenError';
  readonly reached = false;
  constructor(
    server: string,
    readonly retryAfterMs: number,
    readonly lastFailure: string | undefined,
  ) {
    super(
      server,
      `circuit open after repeated failures${lastFailure ? ` (last: ${lastFailure})` : ''}; not called again for ${Math.ceil(retryAfterMs / 1000)} s`,
    );
  }
}

/** The server answered 429: too many requests from this client. */
export class UpstreamRateLimitedError extends UpstreamError {
  override name = 'UpstreamRateLimitedError';
  readonly reached = false;
  constructor(
    server: string,
    readonly retryAfterMs: number | undefined,
    detail: string,
  ) {
    super(server, `rate limited${retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`}${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * The server refused the client's credentials (401) or their permissions (403), or authorizing
 * failed: the authorization server refused, or answered what the client must not trust (an
 * issuer that is not the one asked, a resource that is not the server).
 */
export class UpstreamAuthError extends UpstreamError {
  override name = 'UpstreamAuthError';
  readonly reached = false;
  constructor(
    server: string,
    readonly status: 401 | 403,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(server, `${status === 401 ? 'credentials refused (401)' : 'access denied (403)'}${detail ? `: ${detail}` : ''}`, options);
  }
}

/**
 * The server could not be reached or answered with a server error. `reached` is false when the
 * connection failed before the request went out, which makes any request safe to send again.
 */
export class UpstreamUnavailableError extends UpstreamError {
  override name = 'UpstreamUnavailableError';
  constructor(
    server: string,
    detail: string,
    readonly reached: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(server, `unavailable: ${detail}`, options);
  }
}

/** The server answered with a JSON-RPC error (or a reply the protocol does not allow). */
export class UpstreamProtocolError extends UpstreamError {
  override name = 'UpstreamProtocolError';
  readonly reached = true;
  constructor(
    server: string,
    readonly code: number,
    readonly reason: string,
    readonly data?: unknown,
    options?: { cause?: unknown },
  ) {
    super(server, `error ${code}: ${reason}`, options);
  }
}

/**
 * The server's answer (or one event of its stream) passed `maxAnswerBytes`: the call fails, its
 * request is aborted, and the server is not judged down by it (a caller can make a server echo a
 * huge argument: that must not open the circuit for everyone).
 */
export class UpstreamAnswerTooLargeError extends UpstreamProtocolError {
  override name = 'UpstreamAnswerTooLargeError';
  constructor(
    server: string,
    readonly maxBytes: number,
    sse: boolean,
  ) {
    super(
      server,
      -32603,
      `${sse ? 'an event of its answer stream' : 'its answer'} is larger than ${maxBytes} bytes, the limit for this upstream; not read further (raise "maxAnswerBytes" in its gateway config, or the client's maxAnswerBytes option, to allow more)`,
    );
  }
}

/** A 2025-era server no longer knows the session (404): reconnect and send again (never surfaces). */
export class SessionGoneError extends Error {
  override name = 'SessionGoneError';
}

/** Connection failures before the request went out; UPSTREAM_CONNECT_TIMEOUT is the node:http transport's (shared/adapters/upstream-http.ts). */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UPSTREAM_CONNECT_TIMEOUT',
]);

/** undici's words for what Node's sockets call otherwise: a failure reads the same whichever transport met it (shared/client/transport.ts). */
const ALIASES: Record<string, string> = { UND_ERR_SOCKET: 'ECONNRESET' };

/** The error codes of a failed fetch, its cause and an AggregateError's members. */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof code === 'string') codes.push(ALIASES[code] ?? code);
    visit(cause);
    for (const member of errors ?? []) visit(member);
  };
  visit(err);
  return codes;
}

/** A fetch that threw: before the request went out (connection refused, no such host) or after. */
export function networkFailure(server: string, err: unknown): UpstreamUnavailableError {
  const codes = codesOf(err);
  const notSent = codes.some((c) => CONNECT_FAILURES.has(c));
  return new UpstreamUnavailableError(server, codes[0] ?? (err instanceof Error ? err.message : String(err)), !notSent, undefined, undefined, { cause: err });
}

/** The first UpstreamError or SessionGoneError in an error's cause chain. */
function typedCause(err: unknown): UpstreamError | SessionGoneError | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UpstreamError || e instanceof SessionGoneError) return e;
  }
  return undefined;
}

/** An authorization failure anywhere in the cause chain (the SDK wraps one met while connecting). */
function authFailure(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UnauthorizedError || e instanceof OAuthError || e instanceof OAuthClientFlowError) return e;
  }
  return undefined;
}

function jsonRpcError(text: unknown): { code: number; message: string; data?: unknown } | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; data?: unknown } }).error;
    if (typeof error?.code === 'number' && typeof error.message === 'string') return { code: error.code, message: error.message, data: error.data };
  } catch {
    // not JSON
  }
  return undefined;
}

/** The error the SDK path's fetch (http.ts) puts at the end of an SSE stream cut at the limit, as the error it stands for. */
function tooLargeIn(server: string, err: ProtocolError): UpstreamAnswerTooLargeError | undefined {
  const data = err.data as { upstream?: unknown; maxAnswerBytes?: unknown } | undefined;
  if (err.code !== -32603 || data?.upstream !== server || typeof data.maxAnswerBytes !== 'number') return undefined;
  return new UpstreamAnswerTooLargeError(server, data.maxAnswerBytes, true);
}

/** Whatever a call threw, as a typed error naming the server (abort reasons pass through as they are). */
export function classify(server: string, err: unknown, method: string, timeoutMs: number): UpstreamError | SessionGoneError {
  const typed = typedCause(err);
  if (typed) return typed;
  if (err instanceof ProtocolError) return tooLargeIn(server, err) ?? new UpstreamProtocolError(server, err.code, err.message, err.data, { cause: err });
  const denied = authFailure(err);
  if (denied) return new UpstreamAuthError(server, denied instanceof InsufficientScopeError ? 403 : 401, denied.message, { cause: err });
  if (err instanceof SdkHttpError) {
    if (err.status === 401 || err.status === 403) return new UpstreamAuthError(server, err.status, err.message, { cause: err });
    // A JSON-RPC error in an HTTP error's body (404 for an unknown method, say) is the server's answer.
    const rpc = jsonRpcError(err.data?.text);
    if (rpc) return new UpstreamProtocolError(server, rpc.code, rpc.message, rpc.data, { cause: err });
    return new UpstreamProtocolError(server, -32600, `HTTP ${err.status}: ${String(err.data?.text ?? err.message).slice(0, 300)}`, undefined, { cause: err });
  }
  if (err instanceof SdkError) {
    if (err.code === SdkErrorCode.RequestTimeout) return new UpstreamTimeoutError(server, timeoutMs, method, { cause: err });
    if (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.SendFailed)
      return new UpstreamUnavailableError(server, err.message, true, undefined, undefined, { cause: err });
    return new UpstreamProtocolError(server, -32603, err.message, err.data, { cause: err });
  }
  return new UpstreamUnavailableError(server, err instanceof Error ? err.message : String(err), true, undefined, undefined, { cause: err });
}
