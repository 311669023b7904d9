// Where a request came from, as far as the deployment vouches for it: what an anonymous caller's
// rate limit and stream cap are counted by (admission.ts). Never a header the client could set.
// Behind CloudFront with origin verification on, CloudFront-Viewer-Address (CloudFront sets it,
// overwriting any the viewer sent; only CloudFront knows the origin secret). On Lambda without it,
// the last X-Forwarded-For hop: API Gateway appends the address of the connection it accepted
// (its `sourceIp` is the first hop, which the client may have written). On a server process, the
// socket's peer (@hono/node-server's `incoming`).

/** The adapter's bindings (Hono's `c.env`), as far as they say who connected. */
interface Bindings {
  requestContext?: unknown;
  incoming?: { socket?: { remoteAddress?: string } };
}

const MAX_ADDRESS = 64;

/** `viewerHeaderSet`: origin verification is on, so every request came through CloudFront. */
export function clientAddress(request: Request, bindings: unknown, viewerHeaderSet: boolean): string | undefined {
  const env = (bindings ?? {}) as Bindings;
  const viewer = viewerHeaderSet ? request.headers.get('cloudfront-viewer-address') : null;
  // `ip:port`, IPv6 included: the port follows the last colon.
  const address = viewer
    ? viewer.slice(0, viewer.lastIndexOf(':'))
    : env.requestContext
      ? request.headers.get('x-forwarded-for')?.split(',').at(-1)?.trim()
      : env.incoming?.socket?.remoteAddress;
  return address ? address.slice(0, MAX_ADDRESS) : undefined;
}
