// The one place that turns protocol errors (protocol/errors.ts) into HTTP responses with a JSON-RPC
// error body. Everything the kit rejects before the SDK sees a message goes through here.
import type { HttpProtocolError } from '../protocol/errors.ts';

export function jsonRpcErrorResponse(
  status: number,
  code: number,
  message: string,
  id: string | number | null = null,
  headers?: Record<string, string>,
  data?: unknown,
): Response {
  const body = JSON.stringify({ jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined && { data }) } });
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function errorResponse(error: HttpProtocolError): Response {
  return jsonRpcErrorResponse(error.status, error.code, error.message, error.id, error.headers, error.data);
}
