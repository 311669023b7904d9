// The lock on the deployed origin: CloudFront adds a secret header to every request it forwards
// (an origin custom header), and on deployed stages the app refuses any request without one of the
// accepted values, so the public API Gateway URL does not reach the function around CloudFront and
// its WAF. Two values are accepted at once (current and previous) so the secret can be rotated
// without a refusal (docs/deploy.md, "Rotating secrets"). Checks a header only: the caller's own
// authentication comes after it.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html
import { SERVER_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';

/** The header CloudFront adds (and the gateway sends to kit upstreams it reaches on their API URL). */
export const ORIGIN_VERIFY_HEADER = 'x-mcp-origin-verify';

const encoder = new TextEncoder();

/** Compares without stopping at the first difference, so timing does not reveal a prefix. */
function sameSecret(given: Uint8Array, accepted: Uint8Array): boolean {
  let difference = given.length ^ accepted.length;
  for (let i = 0; i < accepted.length; i++) difference |= accepted[i]! ^ (given[i] ?? 0);
  return difference === 0;
}

/** A check for the accepted values; `undefined` when nothing is accepted (the check is off). */
export function originVerifier(accepted: readonly string[]): ((request: Request) => Response | undefined) | undefined {
  if (accepted.length === 0) return undefined;
  const values = accepted.map((value) => encoder.encode(value));
  return (request) => {
    const header = request.headers.get(ORIGIN_VERIFY_HEADER);
    const given = header === null ? undefined : encoder.encode(header);
    if (given && values.some((value) => sameSecret(given, value))) return undefined;
    return jsonRpcErrorResponse(
      403,
      SERVER_ERROR,
      'Forbidden: this server is reached through its CloudFront URL only (the request lacks the origin header CloudFront adds); ' +
        'use the McpUrl output, not the API Gateway URL',
    );
  };
}
