// McpServerEndpoint's props: what a user of the construct chooses, each with its default, and how
// the props become the plain settings infra/endpoint/settings.ts validates. Types only, plus that
// mapping; the construct itself is infra/mcp-server-endpoint.ts.
import type { Duration } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { McpAuth } from '../auth.ts';
import type { McpDataPlane } from '../data-plane.ts';
import type { McpDeploymentOptions } from './canary.ts';
import { type McpContainers, resolveContainers } from './containers.ts';
import type { McpAlarmOptions } from '../monitoring.ts';
import { type EndpointSettings, type LogLevel, resolveEndpointSettings, streamsPerTaskFor } from './settings.ts';

/**
 * The kit's per-principal rate limit, enforced in the function with Redis. Forced on, the secret
 * must hold Upstash credentials or the function refuses to start.
 */
export interface McpRateLimit {
  /**
   * `MCP_RATE_LIMIT_ENABLED`; left unset unless given, so the kit decides at start-up.
   * @default - on when the secret holds Upstash credentials, off (with a warning in the log) otherwise
   */
  readonly enabled?: boolean;
  /** `MCP_RATE_LIMIT_REQUESTS` over a 60-second window. @default 120 */
  readonly requestsPerMinute?: number;
}

/**
 * API Gateway stage throttling: the ceiling before any request reaches the function. The account's
 * quota (10,000 requests per second, burst 5,000, by default) is shared by all its APIs in the region.
 */
export interface McpStageThrottle {
  /** Steady-state requests per second, at most the account's quota. @default 1000 */
  readonly rateLimit?: number;
  /** Burst bucket size, at most the account's burst. @default 2000 */
  readonly burstLimit?: number;
}

/** The account's quotas in the region, when they were raised above AWS's defaults (Service Quotas). */
export interface McpAccountQuotas {
  /** Lambda concurrent executions. @default 1000 */
  readonly lambdaConcurrency?: number;
  /** API Gateway requests per second, across all APIs. @default 10000 */
  readonly apiGatewayRps?: number;
  /** API Gateway burst. @default 5000 */
  readonly apiGatewayBurst?: number;
}

/** A custom domain served by CloudFront. */
export interface McpCustomDomain {
  /** Host names, e.g. `['mcp.example.com']`; point a CNAME/alias at the distribution. */
  readonly domainNames: string[];
  /** ACM certificate covering every name. CloudFront requires it in us-east-1. */
  readonly certificate: acm.ICertificate;
}

export interface McpServerEndpointProps {
  /** Short lowercase name: names the API, POWERTOOLS_SERVICE_NAME, the dashboard's titles. */
  readonly serverName: string;
  /** Entry file exporting `handler`, absolute or relative to the project root. */
  readonly entry: string;
  /**
   * State store; pass one to several servers so they share it.
   * @default - a data plane private to this server
   */
  readonly dataPlane?: McpDataPlane;
  /**
   * Where Redis credentials and the request-state key come from, for the private data plane
   * (a shared `McpDataPlane` takes its own `secret`): JSON with `UPSTASH_REDIS_REST_URL`,
   * `UPSTASH_REDIS_REST_TOKEN`, `MCP_REQUEST_STATE_KEY`, read once per cold start.
   * @default - a generated secret, see `McpDataPlaneProps.secret`
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * Stage name: API Gateway stage, `MCP_STAGE`, retention and auth defaults. `local` is the
   * stage for SAM and LocalStack, where an unauthenticated server is allowed without asking.
   * @default 'dev'
   */
  readonly stage?: string;
  /**
   * Production deployment: logs, and a private data plane, are retained when the stack is deleted.
   * @default - true for the stages `prod` and `production`
   */
  readonly production?: boolean;
  /**
   * Path of the MCP endpoint (`MCP_PATH`).
   * @default '/mcp'
   */
  readonly path?: string;
  /**
   * Function memory in MB; CPU share grows with it, and so does cold-start speed.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout, and the API integration timeout (streamed responses may run this long).
   * A task's worker is an invocation of the same function, so this is its budget too.
   * At most 15 minutes.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Graviton (arm64) costs less per GB-second than x86_64 for the same work.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * How callers authenticate (`MCP_AUTH_MODE` and the `MCP_OAUTH_*` settings): `none`, `apikey`,
   * `oauth` with an issuer of yours, or `cognito` with a user pool built here; the OAuth modes
   * combine with API keys (`oauth,apikey`, `cognito,apikey`). See infra/auth.ts.
   * `none` needs `allowUnauthenticated: true` on every stage but `local`.
   * @default { mode: 'none' }
   */
  readonly auth?: McpAuth;
  /**
   * The MCP URL as clients reach it (`MCP_PUBLIC_URL`): the resource in OAuth protected resource
   * metadata, the origin of the metadata URL in 401 challenges, and the default token audience.
   * Set it when something of yours fronts the endpoint; on the `local` stage, the OAuth modes
   * need it.
   * @default - `https://<first custom domain name><path>`, else the distribution's
   * `https://<id>.cloudfront.net<path>`, else the API stage URL; none on the `local` stage
   */
  readonly publicUrl?: string;
  /**
   * Gateways whose on-behalf-of assertions this server accepts (`MCP_TRUSTED_GATEWAYS`), by the
   * gateway's name: its public keys (`jwks`) or `jwksUrl`, and `audience` URLs it may call this
   * endpoint at besides its public URL. An `McpGateway` fronting this endpoint on the same data
   * plane adds itself (trustGateway); this prop is for gateways deployed elsewhere.
   * @default - only the gateways that front it here
   */
  readonly trustedGateways?: Readonly<Record<string, McpTrustedGateway>>;
  /**
   * Longest a tool handler may run before its call ends with an error result
   * (`MCP_TOOL_TIMEOUT_MS`). At most `timeout` minus 10 s, so the kit can still answer and close
   * the stream before Lambda stops the function.
   * @default - 60 s, or `timeout` minus 10 s when that is shorter
   */
  readonly toolTimeout?: Duration;
  /**
   * Longest a task's run may take in its worker invocation before the task fails
   * (`MCP_TASK_TIMEOUT_MS`). The worker is an asynchronous invocation of this same function, so it
   * has `timeout`; at most `timeout` minus 10 s, so the kit can still record the failure.
   * @default - 14 minutes, or `timeout` minus 10 s when that is shorter
   */
  readonly taskTimeout?: Duration;
  /**
   * How long a notification stream (legacy GET, `subscriptions/listen`) stays open before the kit
   * closes it and the client reconnects (`MCP_STREAM_MAX_SECONDS`). Whole seconds, at most
   * `timeout` minus 10 s, so a stream ends cleanly instead of as a function timeout.
   * @default - 5 minutes, or `timeout` minus 10 s when that is shorter
   */
  readonly streamMaxDuration?: Duration;
  /**
   * Let 2025-era sessions open a GET stream for list-changed notifications (`MCP_GET_STREAMS`).
   * Each open stream holds a Lambda execution environment, billed, until `streamMaxDuration`,
   * even after its client has gone; off, GET answers 405 and clients carry on without it.
   * With `containers` serving streams, they hold a connection on a container instead.
   * @default - true when `containers` serve streams, else false
   */
  readonly getStreams?: boolean;
  /**
   * Interval of SSE keep-alive comments on open streams (`MCP_SSE_KEEPALIVE_MS`). Must stay below
   * `originReadTimeout` (and API Gateway's 5-minute stream idle timeout), or idle streams are cut.
   * @default Duration.seconds(15)
   */
  readonly sseKeepAlive?: Duration;
  /**
   * Per-principal rate limit (`MCP_RATE_LIMIT_ENABLED`, `MCP_RATE_LIMIT_REQUESTS`,
   * `MCP_RATE_LIMIT_WINDOW_SECONDS`). Needs Upstash credentials in the secret while enabled.
   * @default { requestsPerMinute: 120 }, on when the secret holds Upstash credentials
   */
  readonly rateLimit?: McpRateLimit;
  /**
   * API Gateway stage throttling, the ceiling in front of the function and its cost.
   * @default { rateLimit: 1000, burstLimit: 2000 }
   */
  readonly throttle?: McpStageThrottle;
  /**
   * Concurrency reserved for the function: guaranteed to it, and its ceiling, so a flood of calls
   * or streams cannot take the account's other functions' concurrency (nor this one theirs). Lambda
   * keeps 100 of the account's concurrency unreserved, so at most `accountQuotas.lambdaConcurrency`
   * minus 100; an account whose quota is still low (new accounts may have 10) cannot reserve, so
   * nothing is reserved by default. Reserving also keeps the rest of the region's concurrency for
   * Lambda@Edge (docs/deploy.md, "Concurrency"); the ClaimedConcurrency alarm watches it meanwhile.
   * @default - none: the function draws on the account's unreserved pool
   */
  readonly reservedConcurrency?: number;
  /**
   * Notification streams (legacy GET, `subscriptions/listen`) open at once across all the
   * function's environments (`MCP_MAX_OPEN_STREAMS`, counted in Redis; without Upstash credentials
   * in the secret each environment counts only its own, so the cap does not bind). Each open stream
   * holds an execution environment until `streamMaxDuration`; past the cap a new stream gets 503
   * with Retry-After. At most half of the available concurrency (`reservedConcurrency`, else
   * `accountQuotas.lambdaConcurrency`); 0: no server-wide cap. Give this or `streamShare`.
   * @default - `streamShare` of the available concurrency: 100 with the account's default 1,000
   */
  readonly maxOpenStreams?: number;
  /**
   * The share of the available concurrency (`reservedConcurrency`, else
   * `accountQuotas.lambdaConcurrency`) that open notification streams may hold, the rest kept for
   * calls: sets `maxOpenStreams` to follow the concurrency. Above 0, at most 0.5.
   * @default 0.1
   */
  readonly streamShare?: number;
  /**
   * Notification streams one caller (principal) may hold open at once across all the function's
   * environments (`MCP_STREAMS_PER_PRINCIPAL`, counted in Redis like `maxOpenStreams`); past it a
   * new stream gets 429 with Retry-After. At most `maxOpenStreams`.
   * @default - half of `maxOpenStreams`, at least 1 and at most 10
   */
  readonly streamsPerPrincipal?: number;
  /**
   * The account's quotas in this region, where raised: the bounds `reservedConcurrency`,
   * `throttle` and the stream caps are checked against and derived from.
   * @default - AWS's defaults: 1,000 concurrent executions; 10,000 requests per second, burst 5,000
   */
  readonly accountQuotas?: McpAccountQuotas;
  /**
   * Retention of the function log and the API access log.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Retention of the audit log group (authentication failures, refusals, confirmations, key and
   * task events; infra/audit-log.ts).
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly auditLogRetention?: logs.RetentionDays;
  /**
   * `LOG_LEVEL` of the function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * Traces in X-Ray: Lambda active tracing, API Gateway tracing on the stage, and the kit's own
   * spans (`MCP_TRACING`: request, tool, DynamoDB, S3, Redis, upstream calls, task workers) sent
   * as subsegments to the X-Ray daemon. X-Ray bills per trace recorded and scanned (docs/deploy.md).
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * Origins browsers may call from (`MCP_ALLOWED_ORIGINS`). Requests without Origin always pass.
   * @default - none listed
   */
  readonly allowedOrigins?: string[];
  /**
   * Host header allow-list (`MCP_ALLOWED_HOSTS`). API Gateway only routes requests addressed to
   * its own host, so in AWS this adds nothing unless you front the API some other way.
   * @default - none listed (any host)
   */
  readonly allowedHosts?: string[];
  /**
   * Put CloudFront in front. Off leaves only the raw API URL (e.g. on LocalStack, which does not
   * emulate CloudFront in its free edition).
   * @default true
   */
  readonly cloudFront?: boolean;
  /**
   * Custom domain and certificate for the distribution.
   * @default - the distribution's cloudfront.net name
   */
  readonly domain?: McpCustomDomain;
  /**
   * ARN of a WAFv2 web ACL with scope CLOUDFRONT. Such ACLs exist only in us-east-1, so create it
   * there (see `McpEdgeFirewall`) and pass the ARN in.
   * @default - no web ACL
   */
  readonly webAclArn?: string;
  /**
   * How long CloudFront waits for the first and for the next bytes from the API. Must stay above
   * `sseKeepAlive` so idle streams survive. CloudFront allows at most 60 s unless the account's
   * origin response timeout quota was raised (see `originReadTimeoutQuotaRaised`).
   * @default Duration.seconds(60)
   */
  readonly originReadTimeout?: Duration;
  /**
   * The account's CloudFront origin response timeout quota was raised through Service Quotas,
   * so `originReadTimeout` may go above 60 s.
   * @default false
   */
  readonly originReadTimeoutQuotaRaised?: boolean;
  /**
   * CloudFront edge locations used (and paid for).
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;
  /**
   * Alarm thresholds and the topic alarms notify.
   * @default - see McpAlarmOptions
   */
  readonly alarms?: McpAlarmOptions;
  /**
   * How a release reaches traffic: CodeDeploy shifts the `live` alias from the old version to the
   * new one and rolls back when the new version's errors or p99 duration alarm fires (docs/deploy.md).
   * @default - a canary (10 % for 5 minutes) on every stage but `dev` and `local`, which shift all at once
   */
  readonly deployment?: McpDeploymentOptions;
  /**
   * Set the account's API Gateway CloudWatch Logs role (one setting per account and region), which
   * a stage with logging needs before it can be created ("CloudWatch Logs role ARN must be set in
   * account settings"). The role and setting are kept when the stack is deleted, since other APIs
   * may rely on them. One value per account and region, so it is written only when asked (an
   * account and region where no API Gateway stage has logged yet); the kit's DataPlaneStack owns it.
   * @default false
   */
  readonly apiGatewayLogging?: boolean;
  /**
   * The function refuses requests without CloudFront's secret origin header (from the data plane's
   * `originSecret`), so the raw API Gateway URL does not reach it around CloudFront and its WAF.
   * @default - true behind CloudFront, except on the `local` stage (SAM, LocalStack)
   */
  readonly originVerify?: boolean;
  /**
   * Any label; changing it (e.g. to the rotation's date) makes CloudFormation update the
   * distribution and so read the origin secret again: step 2 of its rotation (docs/deploy.md).
   * @default - none
   */
  readonly originSecretVersion?: string;
  /**
   * Bundle the AWS SDK into the function instead of using the copy the Node.js runtime ships.
   * Bundled, the function runs the SDK version the kit was tested with (the runtime's copy is
   * Lambda's choice and lags npm), and measured on the modelled Lambda it starts faster: the SDK
   * sits in lazily loaded chunks, so a cold start loads the same bytes, and one minified chunk
   * loads faster than the runtime's many files (README, "The AWS SDK the function runs").
   * @default true
   */
  readonly bundleAwsSdk?: boolean;
  /**
   * Extra environment variables for the function (tool settings, endpoint overrides for SAM or
   * LocalStack). They cannot replace the kit's own variables.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Run the same app on ECS Fargate beside the function, behind the same CloudFront distribution:
   * notification streams go there (infra/endpoint/containers.ts, docs/deploy.md "Containers").
   * Adds fixed monthly cost (tasks, load balancer). Needs `cloudFront`.
   * @default - none: everything runs on the function
   */
  readonly containers?: McpContainers;
}

/** The props' durations as the plain numbers settings.ts validates; tokens cannot be checked, so they are refused. */
export function settingsOf(props: McpServerEndpointProps): EndpointSettings {
  const concrete = (duration: Duration | undefined, prop: string): Duration | undefined => {
    if (duration?.isUnresolved()) {
      throw new Error(`McpServerEndpoint "${props.serverName}": ${prop} must be a concrete duration, not a token: the endpoint's other limits derive from it.`);
    }
    return duration;
  };
  const keepAliveMs = concrete(props.sseKeepAlive, 'sseKeepAlive')?.toMilliseconds({ integral: false });
  return resolveEndpointSettings({
    serverName: props.serverName,
    stage: props.stage,
    path: props.path,
    timeoutSeconds: concrete(props.timeout, 'timeout')?.toSeconds({ integral: false }),
    toolTimeoutMs: concrete(props.toolTimeout, 'toolTimeout')?.toMilliseconds({ integral: false }),
    taskTimeoutMs: concrete(props.taskTimeout, 'taskTimeout')?.toMilliseconds({ integral: false }),
    streamMaxSeconds: concrete(props.streamMaxDuration, 'streamMaxDuration')?.toSeconds({ integral: false }),
    sseKeepAliveSeconds: keepAliveMs === undefined ? undefined : keepAliveMs / 1000,
    getStreams: props.getStreams ?? (props.containers && props.containers.streams !== false ? true : undefined),
    cloudFront: props.cloudFront,
    originReadTimeoutSeconds: concrete(props.originReadTimeout, 'originReadTimeout')?.toSeconds({ integral: false }),
    originReadTimeoutQuotaRaised: props.originReadTimeoutQuotaRaised,
    memorySizeMb: props.memorySize,
    rateLimit: props.rateLimit,
    logLevel: props.logLevel,
    allowedOrigins: props.allowedOrigins,
    allowedHosts: props.allowedHosts,
    accountQuotas: props.accountQuotas,
    reservedConcurrency: props.reservedConcurrency,
    originVerify: props.originVerify,
    throttle: props.throttle,
    maxOpenStreams: props.maxOpenStreams,
    streamShare: props.streamShare,
    streamsPerPrincipal: props.streamsPerPrincipal,
    containerStreams: containerStreamsOf(props),
  });
}

/** The streams the containers hold at most when they serve the streams (what containerEnvironment sizes their cap by). */
function containerStreamsOf(props: McpServerEndpointProps): number | undefined {
  if (!props.containers) return undefined;
  const containers = resolveContainers(props.containers, props.entry, `McpServerEndpoint "${props.serverName}"`);
  if (!containers.streams) return undefined;
  return Number(props.environment?.MCP_CONTAINER_STREAMS ?? streamsPerTaskFor(containers.cpu)) * containers.maxTasks;
}

/** A gateway deployed elsewhere that this endpoint trusts: its public keys, or where it publishes them. */
export interface McpTrustedGateway {
  /** Public JWKs (EdDSA, ES256 or RS256). Give this or `jwksUrl`. */
  readonly jwks?: Record<string, unknown>[];
  /** Where the gateway publishes its keys. Give this or `jwks`. */
  readonly jwksUrl?: string;
  /** @default - only this endpoint's own URLs */
  readonly audience?: string[];
}
