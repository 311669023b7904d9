// The CloudFront model: the distribution McpServerEndpoint puts in front of the API. It picks a
// cache behavior by path (allowed methods), forwards the request under the origin path with the
// origin request policy AllViewerExceptHostHeader, waits for the origin no longer than the origin
// response timeout (first byte and between bytes), runs the distribution's edge functions where
// CloudFront runs them (origin-response Lambda@Edge on every origin answer; viewer-response
// functions only below 400), adds the distribution's origin custom headers, and caches GET/HEAD
// error answers as CloudFront documents and the distribution configures. For `npm run verify`'s
// tests it can also be built wrong on purpose: buffering whole responses (as compression would).
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { AWS_LIMITS, CLOUDFRONT_ERROR_CACHING, DISTRIBUTION_BEHAVIORS } from '../../infra/deployed-path.ts';

/** Lambda@Edge header shape: lower-case name → list of { key, value }. */
export type EdgeHeaders = Record<string, { key?: string; value: string }[]>;
export interface EdgeResponse {
  status: string;
  statusDescription?: string;
  headers: EdgeHeaders;
  /** Set by an origin-response function that replaces the origin's body. */
  body?: string;
}
/** A Lambda@Edge origin-response handler (Node.js). */
export type OriginResponseHandler = (event: {
  Records: [{ cf: { config: Record<string, string>; request: unknown; response: EdgeResponse } }];
}) => Promise<EdgeResponse> | EdgeResponse;
/** A CloudFront Function on viewer-request (cloudfront-js-2.0), evaluated here: the request it returns and the origin it selected, if any. */
export type ViewerRequestFunction = (event: { request: { method: string; uri: string; headers: Record<string, { value: string }> } }) => { originId?: string };

/**
 * Evaluates a cloudfront-js-2.0 function file (a `handler` and `import cf from 'cloudfront'`) with a
 * stand-in for the 'cloudfront' module whose `selectRequestOriginById` records the pick.
 */
export async function loadViewerRequestFunction(file: URL): Promise<ViewerRequestFunction> {
  const source = (await readFile(file, 'utf8')).replace(/^import cf from 'cloudfront';$/m, '');
  let selected: string | undefined;
  const cf = { selectRequestOriginById: (id: string) => void (selected = id) };
  const handler = new Function('cf', `${source}\nreturn handler;`)(cf) as (event: unknown) => unknown;
  return (event) => {
    selected = undefined;
    handler(event);
    return { originId: selected };
  };
}

/** A CloudFront Function on viewer-response (cloudfront-js-2.0): one { value } per header. */
export type ViewerResponseFunction = (event: { response: { statusCode: number; headers: Record<string, { value: string }> } }) => {
  statusCode: number;
  headers: Record<string, { value: string }>;
};

export interface DistributionOptions {
  /** The origin: the API's base URL including the origin path (`http://127.0.0.1:port/<stage>`). */
  origin: string;
  /** The origin's host name, sent as Host (the viewer's Host is not forwarded). */
  originHost: string;
  /** Origin response timeout: first byte and between bytes. */
  readTimeoutMs: number;
  /** Error caching minimum TTL per status; a status not listed uses CloudFront's default. */
  errorCachingSeconds: Partial<Record<number, number>>;
  edge: { originResponse?: OriginResponseHandler; viewerResponse?: ViewerResponseFunction };
  /**
   * Further origins by id (a VPC origin: the containers' private ALB), which a viewer-request
   * function may select; same timeouts, no origin path. @default {}
   */
  origins?: Record<string, { origin: string; originHost: string }>;
  /** The viewer-request function (route-streams.js): may pick one of `origins`. */
  viewerRequest?: ViewerRequestFunction;
  /** Origin custom headers, added to every request sent to the origin (over a viewer's own). @default {} */
  originHeaders?: Record<string, string>;
  /** A broken distribution: the viewer gets nothing until the origin's answer is complete. @default false */
  bufferResponses?: boolean;
  log: (line: string) => void;
}

interface CachedError {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  at: number;
  until: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection', 'host']);
const ALWAYS_CACHED = new Set<number>(CLOUDFRONT_ERROR_CACHING.always);
const CACHED_WITH_MAX_AGE = new Set<number>(CLOUDFRONT_ERROR_CACHING.withMaxAge);

function errorPage(res: ServerResponse, status: number, title: string, detail: string, cfId: string) {
  const body = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n<H1>${status} ${title}</H1>\n${detail}\n<HR noshade size="1px">\nGenerated by cloudfront (CloudFront)\nRequest ID: ${cfId}\n</BODY></HTML>`;
  res.writeHead(status, {
    'content-type': 'text/html',
    server: 'CloudFront',
    'x-cache': 'Error from cloudfront',
    'x-amz-cf-id': cfId,
    'x-amz-cf-pop': 'LCL50-P1',
    via: '1.1 local.cloudfront.net (CloudFront)',
  });
  res.end(body);
}

export function createDistribution(options: DistributionOptions) {
  const errorCache = new Map<string, CachedError>();
  const originUrl = new URL(options.origin);

  /** Some codes are cached whatever the origin says, others only with a max-age (then for the longer of the two). */
  function errorTtlSeconds(status: number, cacheControl: string): number {
    const minimum = options.errorCachingSeconds[status] ?? AWS_LIMITS.cloudFrontDefaultErrorCachingSeconds;
    if (ALWAYS_CACHED.has(status)) return minimum;
    const maxAge = /(?:^|,)\s*(?:s-maxage|max-age)=(\d+)/.exec(cacheControl)?.[1];
    return CACHED_WITH_MAX_AGE.has(status) && maxAge !== undefined ? Math.max(minimum, Number(maxAge)) : 0;
  }

  function toEdgeHeaders(headers: IncomingMessage['headers']): EdgeHeaders {
    const out: EdgeHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      out[name] = (Array.isArray(value) ? value : [value]).map((v) => ({ key: name, value: v }));
    }
    return out;
  }

  /** The origin answered: edge functions, error caching, then the viewer gets it. */
  async function respond(req: IncomingMessage, res: ServerResponse, origin: IncomingMessage, cfId: string, cacheKey: string) {
    let status = origin.statusCode ?? 502;
    let headers = toEdgeHeaders(origin.headers);
    let replaced: string | undefined;
    if (options.edge.originResponse) {
      const out = await options.edge.originResponse({
        Records: [
          {
            cf: {
              config: { distributionId: 'LOCAL', eventType: 'origin-response', requestId: cfId },
              request: { uri: req.url, method: req.method, headers: toEdgeHeaders(req.headers) },
              response: { status: String(status), headers },
            },
          },
        ],
      });
      status = Number(out.status);
      headers = out.headers;
      replaced = out.body;
    }
    // CloudFront does not run viewer-response edge functions on origin answers of 400 and above.
    if (options.edge.viewerResponse && status < 400) {
      const single = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { value: v[0]!.value }]));
      const out = options.edge.viewerResponse({ response: { statusCode: status, headers: single } });
      status = out.statusCode;
      headers = Object.fromEntries(Object.entries(out.headers).map(([k, v]) => [k, [{ key: k, value: v.value }]]));
    }
    const flat: [string, string][] = [];
    for (const [name, values] of Object.entries(headers)) for (const { value } of values) flat.push([name, value]);
    flat.push(
      ['x-cache', status >= 400 ? 'Error from cloudfront' : 'Miss from cloudfront'],
      ['via', '1.1 local.cloudfront.net (CloudFront)'],
      ['x-amz-cf-pop', 'LCL50-P1'],
      ['x-amz-cf-id', cfId],
    );
    const ttl = (req.method === 'GET' || req.method === 'HEAD') && status >= 400 ? errorTtlSeconds(status, String(origin.headers['cache-control'] ?? '')) : 0;
    const buffered = options.bufferResponses === true;
    if (!buffered) {
      res.writeHead(status, flat.flat());
      res.flushHeaders();
    }
    if (replaced !== undefined) {
      // The function's body stands for the origin's, which is dropped.
      origin.resume();
      if (buffered) res.writeHead(status, flat.flat());
      res.end(replaced);
      return;
    }
    const kept: Buffer[] = [];
    origin.on('data', (chunk: Buffer) => {
      if (ttl > 0 || buffered) kept.push(chunk);
      if (!buffered) res.write(chunk);
    });
    origin.on('end', () => {
      if (buffered) res.writeHead(status, flat.flat()).end(Buffer.concat(kept));
      else res.end();
      if (ttl > 0) {
        options.log(`[cloudfront] caching ${status} for ${cacheKey} for ${ttl} s`);
        errorCache.set(cacheKey, { status, headers: Object.fromEntries(flat), body: Buffer.concat(kept), at: Date.now(), until: Date.now() + ttl * 1000 });
      }
    });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const cfId = randomBytes(24).toString('base64url');
    const url = new URL(req.url ?? '/', 'https://viewer.invalid');
    const behavior = DISTRIBUTION_BEHAVIORS.find((b) => b.pathPattern === '*' || url.pathname.startsWith(b.pathPattern.slice(0, -1)))!;
    if (!(behavior.methods as readonly string[]).includes(req.method ?? '')) {
      errorPage(res, 403, 'ERROR', 'This distribution is not configured to allow the HTTP request method that was used for this request.', cfId);
      return;
    }
    // The cache policy is CachingDisabled: the key is the path and query alone.
    const cacheKey = `${url.pathname}${url.search}`;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const hit = errorCache.get(cacheKey);
      if (hit && hit.until > Date.now()) {
        // A cached answer carries its Age, as from any HTTP cache.
        res.writeHead(hit.status, {
          ...hit.headers,
          age: String(Math.floor((Date.now() - hit.at) / 1000)),
          'x-cache': 'Error from cloudfront',
          'x-amz-cf-id': cfId,
        });
        res.end(req.method === 'HEAD' ? undefined : hit.body);
        return;
      }
      errorCache.delete(cacheKey);
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const viewerIp = req.socket.remoteAddress ?? '127.0.0.1';
    Object.assign(headers, {
      ...options.originHeaders,
      host: options.originHost,
      via: `${req.httpVersion} local.cloudfront.net (CloudFront)`,
      'x-amz-cf-id': cfId,
      'x-forwarded-for': req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${viewerIp}` : viewerIp,
      'cloudfront-forwarded-proto': 'https',
      'cloudfront-viewer-address': `${viewerIp}:${req.socket.remotePort ?? 0}`,
    });
    // The viewer-request function sees the viewer's request and may pick another origin.
    const picked = options.viewerRequest?.({
      request: {
        method: req.method ?? 'GET',
        uri: url.pathname,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, { value: [v ?? ''].flat().join(',') }])),
      },
    }).originId;
    const other = picked ? options.origins?.[picked] : undefined;
    if (picked && !other) options.log(`[cloudfront] viewer-request function selected unknown origin "${picked}": default origin used`);
    const target = other ? new URL(other.origin) : originUrl;
    if (other) headers.host = other.originHost;
    let settled = false;
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: `${target.pathname.replace(/\/$/, '')}${url.pathname}${url.search}`, headers },
      (origin) => {
        settled = true;
        // Between bytes, too: a silent origin is cut once the read timeout passes.
        upstream.setTimeout(options.readTimeoutMs, () => {
          options.log(`[cloudfront] ${cfId} origin silent for ${options.readTimeoutMs} ms: response cut`);
          upstream.destroy();
          res.destroy();
        });
        origin.on('error', () => res.destroy());
        origin.on('aborted', () => res.destroy());
        respond(req, res, origin, cfId, cacheKey).catch((error: Error) => {
          options.log(`[cloudfront] origin-response function failed: ${error.message}`);
          if (!res.headersSent)
            errorPage(
              res,
              502,
              'ERROR',
              "The Lambda function associated with the CloudFront distribution is invalid or doesn't have the required permissions.",
              cfId,
            );
          else res.destroy();
        });
      },
    );
    upstream.setTimeout(options.readTimeoutMs, () => {
      if (settled) return;
      settled = true;
      options.log(`[cloudfront] ${cfId} no response from the origin within ${options.readTimeoutMs} ms: 504`);
      upstream.destroy();
      errorPage(
        res,
        504,
        'Gateway Timeout ERROR',
        'The request could not be satisfied. CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection.',
        cfId,
      );
    });
    upstream.on('error', (error) => {
      if (settled) return;
      settled = true;
      options.log(`[cloudfront] ${cfId} origin unreachable: ${error.message}: 502`);
      errorPage(res, 502, 'ERROR', "CloudFront wasn't able to connect to the origin.", cfId);
    });
    // A viewer that goes away (mid-upload or mid-answer) ends its own request only, as on AWS,
    // where CloudFront logs it with status 499.
    req.on('error', () => {});
    // The origin request is ended on purpose then: its error is not the origin's fault.
    req.on('close', () => {
      if (req.complete) return;
      options.log(`[cloudfront] ${cfId} 499 client closed the connection before its request was whole`);
      settled = true;
      upstream.destroy();
    });
    req.pipe(upstream);
    res.on('close', () => {
      if (res.writableFinished) return;
      if (req.complete) options.log(`[cloudfront] ${cfId} 499 client closed the connection before the answer ended`);
      settled = true;
      upstream.destroy();
    });
  };
}
