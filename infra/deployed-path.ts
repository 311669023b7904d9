// The numbers and routes of the deployed request path (CloudFront → API Gateway REST → Lambda),
// in one place: the construct (McpServerEndpoint) builds the path from them and the local model
// of it (local/aws/, `npm run start:aws`) behaves by them, so the two cannot drift. Plain data;
// no CDK imports, so the model can load it without aws-cdk-lib.

/** What AWS itself imposes, as its documentation states (docs/deploy.md cites each page). */
export const AWS_LIMITS = {
  /** Lambda: longest function timeout. */
  lambdaMaxTimeoutSeconds: 900,
  /** Lambda: synchronous invoke request payload (the API Gateway event). */
  lambdaSyncPayloadBytes: 6 * 1024 * 1024,
  /** Lambda: asynchronous invoke payload (a task's worker event). */
  lambdaAsyncPayloadBytes: 1024 * 1024,
  /** Lambda: retries of an asynchronous event whose run failed. */
  lambdaAsyncRetries: 2,
  /** Lambda: an init phase longer than this fails. */
  lambdaInitTimeoutSeconds: 10,
  /** API Gateway REST: largest request payload. */
  restMaxPayloadBytes: 10 * 1024 * 1024,
  /** API Gateway REST, regional endpoint: a streamed response silent this long is cut. */
  restStreamIdleSeconds: 300,
  /** API Gateway REST: longest integration (and so streamed response). */
  restStreamMaxSeconds: 900,
  /** CloudFront: origin response timeout allowed without a quota increase. */
  cloudFrontMaxOriginReadSeconds: 60,
  /** CloudFront: how long an error answer is cached when the distribution says nothing. */
  cloudFrontDefaultErrorCachingSeconds: 10,
  /** Lambda: concurrent executions per account and region, by default (a quota that can be raised). */
  lambdaAccountConcurrency: 1000,
  /** Lambda: concurrency that reservations must leave unreserved in the account. */
  lambdaMinUnreservedConcurrency: 100,
  /** API Gateway: requests per second per account and region, across all its APIs (raisable). */
  apiGatewayAccountRps: 10_000,
  /** API Gateway: the account's burst bucket (set by AWS from the rate quota). */
  apiGatewayAccountBurst: 5_000,
} as const;

/**
 * How CloudFront caches GET/HEAD error answers for the error-caching minimum TTL ("How CloudFront
 * processes HTTP 4xx and 5xx status codes from your origin"; "Control how long CloudFront caches
 * errors"): some whatever the origin says, others only when the answer carries Cache-Control
 * max-age or s-maxage (the kit sends `no-store` and no max-age, so those never are), and the codes a
 * distribution may give an ErrorCachingMinTTL of its own (CustomErrorResponse; 416 is never cached).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/creating-custom-error-pages.html
 */
export const CLOUDFRONT_ERROR_CACHING = {
  always: [404, 414, 500, 501, 502, 503, 504],
  withMaxAge: [400, 403, 405, 412, 415],
  configurable: [400, 403, 404, 405, 414, 500, 501, 502, 503, 504],
} as const;

/**
 * How API Gateway REST treats a Lambda proxy integration's headers ("Amazon API Gateway
 * important notes for REST APIs"): response headers it renames to `x-amzn-Remapped-<name>`,
 * response headers it drops, and request headers it drops before the function sees them.
 */
export const REST_HEADERS = {
  remappedResponse: ['authorization', 'connection', 'content-md5', 'date', 'max-forwards', 'server', 'user-agent', 'www-authenticate'],
  droppedResponse: ['expect', 'host', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'via'],
  droppedRequest: [
    'connection',
    'content-md5',
    'expect',
    'max-forwards',
    'proxy-authenticate',
    'server',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'www-authenticate',
  ],
} as const;

/** The kit's own choices for the path; construct defaults, and the model's. */
export const PATH_DEFAULTS = {
  functionTimeoutSeconds: 900,
  memorySizeMb: 1024,
  /** CloudFront waits this long for the first byte and between bytes. */
  originReadTimeoutSeconds: 60,
  /** SSE keep-alive interval; must stay below the origin read timeout. */
  sseKeepAliveSeconds: 15,
  /**
   * Time kept at the end of an invocation: a tool timeout or a stream cap this far before the
   * function timeout still lets the kit write its answer and end the stream.
   */
  endMarginSeconds: 10,
  /** Notification streams (legacy GET, `subscriptions/listen`) close after this, at most. */
  streamMaxSeconds: 300,
  /**
   * Legacy GET notification streams are off: each holds an execution environment until the stream
   * cap, even after its client left (Lambda does not tell a function its client went away), so a
   * few hundred 2025-era clients would use up the account's concurrency. GET answers 405.
   */
  getStreams: false,
  /**
   * How long Lambda keeps trying to start a queued task worker event (throttled, or waiting for a
   * retry) before it reports the event to the on-failure destination: the default task lifetime
   * (`MCP_TASK_TTL_SECONDS`, one hour), past which there is nothing left to run.
   */
  taskEventMaxAgeSeconds: 3600,
  /** Error answers are never cached: every MCP answer is per caller. */
  errorCachingSeconds: 0,
  /**
   * API Gateway stage throttling: 1,000 requests per second, which the account's default quotas
   * carry with room for other APIs (docs/scale.md), with a burst of twice that.
   */
  throttleRateLimit: 1_000,
  throttleBurstLimit: 2_000,
  /**
   * Share of the function's available concurrency (its reservation, else the account's) that open
   * notification streams may hold by default, and at most: 100 of the default 1,000, so listeners
   * never starve calls. Each open stream holds an execution environment until the stream cap.
   */
  streamConcurrencyShare: 0.1,
  maxStreamConcurrencyShare: 0.5,
  /**
   * Streams one caller may hold: half the server-wide cap, at most 10 (the kit's own default), so
   * one caller never holds every stream slot and others can still listen.
   */
  principalStreamShare: 0.5,
  streamsPerPrincipal: 10,
} as const;

/** The longest a notification stream may stay open for a given function timeout. */
export function streamCapSeconds(functionTimeoutSeconds: number, wanted: number = PATH_DEFAULTS.streamMaxSeconds): number {
  return Math.max(1, Math.min(wanted, functionTimeoutSeconds - PATH_DEFAULTS.endMarginSeconds));
}

/** API Gateway resources and the methods each sends to the function. */
export function apiRoutes(mcpPath: string): { resource: string; methods: readonly string[] }[] {
  return [
    // OPTIONS reaches the function so its CORS handling can answer browser preflights.
    { resource: mcpPath, methods: ['POST', 'GET', 'DELETE', 'OPTIONS'] },
    { resource: '/health', methods: ['GET'] },
    { resource: '/.well-known/{proxy+}', methods: ['GET', 'OPTIONS'] },
  ];
}

/**
 * CloudFront cache behaviors, most specific first. OAuth discovery looks for metadata at the
 * host's root, where the stage prefix is absent, so it has a behavior of its own.
 */
export const DISTRIBUTION_BEHAVIORS = [
  { pathPattern: '/.well-known/*', methods: ['GET', 'HEAD', 'OPTIONS'] },
  { pathPattern: '*', methods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'] },
] as const;
