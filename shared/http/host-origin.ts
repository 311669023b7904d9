// DNS-rebinding and cross-origin protection in front of the MCP endpoint: the Host header and a
// present Origin must name an allowed hostname. The same checks and answers as the SDK's
// `hostHeaderValidationResponse` / `originValidationResponse` (403, -32000 naming the header), run
// on every request, so they live here rather than load the SDK for them.
import { SERVER_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';

const refuse = (message: string) => jsonRpcErrorResponse(403, SERVER_ERROR, message, null);

/** Hostnames out of allow-list entries, which may be full origins (`https://app.example`). */
export function hostnames(entries: string[]): string[] {
  return entries.map((e) => {
    try {
      return new URL(e.includes('://') ? e : `http://${e}`).hostname;
    } catch {
      return e;
    }
  });
}

/** 403 unless the Host header names an allowed hostname (any port). */
export function refuseHost(request: Request, allowed: readonly string[]): Response | undefined {
  const host = request.headers.get('host');
  if (!host) return refuse('Missing Host header');
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return refuse(`Invalid Host header: ${host}`);
  }
  return allowed.includes(hostname) ? undefined : refuse(`Invalid Host: ${hostname}`);
}

/** 403 when an Origin header is present and does not name an allowed hostname. */
export function refuseOrigin(request: Request, allowed: readonly string[]): Response | undefined {
  const origin = request.headers.get('origin');
  if (!origin) return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return refuse(`Invalid Origin header: ${origin}`);
  }
  if (url.hostname === '') return refuse(`Invalid Origin header: ${origin}`);
  const schemeWildcard = url.protocol !== 'http:' && url.protocol !== 'https:' && allowed.includes(`${url.protocol}//*`);
  return schemeWildcard || allowed.includes(url.hostname) ? undefined : refuse(`Invalid Origin: ${url.hostname}`);
}
