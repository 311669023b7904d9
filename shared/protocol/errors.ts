// Protocol errors as typed values: the JSON-RPC codes the kit answers with and the error that
// carries one with its HTTP status. A leaf below auth and http; http/errors.ts turns them into responses.

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Transport-level errors without a JSON-RPC equivalent (the SDK uses the same code). */
export const SERVER_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;
/** A standard MCP header disagrees with the body (the code the SDK uses on 2026-07-28 requests). */
export const HEADER_MISMATCH = -32020;
/** The request needs a client capability the client did not declare (2026-07-28). */
export const MISSING_CLIENT_CAPABILITY = -32021;
export const METHOD_NOT_FOUND = -32601;

export class HttpProtocolError extends Error {
  override name = 'HttpProtocolError';
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers?: Record<string, string>,
    readonly id: string | number | null = null,
    /** The JSON-RPC error's `data`, when its code defines one. */
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The client went away before its request could be read: nobody is left to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/** 499, as proxies log a request the client abandoned; never sent (there is no one to send it to). */
export const CLIENT_CLOSED_REQUEST = 499;

/** Throws 400 Invalid Request (-32600) with a message that says what to fix. */
export function invalidRequest(message: string, id: string | number | null = null): never {
  throw new HttpProtocolError(400, INVALID_REQUEST, message, undefined, id ?? null);
}
