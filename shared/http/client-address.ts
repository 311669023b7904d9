// Where a request came from, as far as the deployment vouches for it: what an anonymous caller's
// rate limit and stream cap are counted by (admission.ts). Never a header the client could set.
// Behind CloudFront with origin verification on, CloudFront-Viewer-Address (CloudFront sets it,
// overwriting any the viewer sent; only CloudFront knows the origin secret). On Lambda without it,
// the last X-Forwarded-For hop: API Gateway appends the address of the connection it accepted
// (its `sourceIp` is the first hop, which the client may have written). On a server process, the
// socket's peer (@hono/node-server's `incoming`). With origin verification off behind CloudFront,
// that is the address of CloudFront's edge (or of an ALB in front): every viewer behind one edge
// shares it. `addressKey` turns an address into what the caller is counted by.

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

/**
 * What an anonymous caller at `address` is counted by: an IPv4 address as it is (IPv4-mapped IPv6,
 * `::ffff:a.b.c.d`, included), an IPv6 address by its /64 (`2001:db8:0:7::/64`), whichever way it
 * is written: one host is commonly given a whole /64, and 2^64 keys would be no limit at all.
 */
export function addressKey(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const groups = bare.includes(':') ? ipv6Groups(bare.toLowerCase()) : undefined;
  if (!groups) return bare;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6]!, groups[7]!];
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad included), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    if ([a, b, c, d].some((n) => n > 255)) return undefined;
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN)));
  const [head, tail] = [parse(halves[0]!), halves.length === 2 ? parse(halves[1]!) : []];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.some(Number.isNaN) ? undefined : groups;
}
