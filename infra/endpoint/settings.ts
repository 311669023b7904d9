// An MCP endpoint's settings as plain numbers and strings: validated against what the deployed path
// (CloudFront → API Gateway REST → Lambda, infra/deployed-path.ts) can carry, resolved to their
// defaults, and turned into the function's environment. No aws-cdk-lib: McpServerEndpoint and the
// local model of the path (`npm run start:aws`) both call it, so the function sees the same
// variables in both. Does not touch auth (infra/auth.ts builds those variables; pass them in).
//
//   resolveEndpointSettings(input: EndpointSettingsInput): EndpointSettings
//     throws EndpointSettingsError (`.prop` names the McpServerEndpoint prop) for what cannot work
//   kitEnvironment(settings: EndpointSettings, sources: KitEnvironmentSources): Record<string, string>
//   KIT_VARIABLES: every variable kitEnvironment may set (the construct's `environment` may not)
// Defaults and bounds the kit shares come from shared/config/variables.ts.
import { CONSTRUCT_VARIABLES, VARIABLES, type VariableName } from '../../shared/config/variables.ts';
import { AWS_LIMITS, PATH_DEFAULTS, streamCapSeconds } from '../deployed-path.ts';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the caller chose; every field but `serverName` has a default. Times in seconds unless named `Ms`. */
export interface EndpointSettingsInput {
  /** Lowercase letters, digits and hyphens, starting with a letter, at most 40 characters. */
  readonly serverName: string;
  /** @default 'dev' */
  readonly stage?: string;
  /** @default '/mcp' */
  readonly path?: string;
  /** Function timeout, whole seconds. @default PATH_DEFAULTS.functionTimeoutSeconds */
  readonly timeoutSeconds?: number;
  /** @default - 60 000, or (timeout − PATH_DEFAULTS.endMarginSeconds) × 1000 when that is shorter */
  readonly toolTimeoutMs?: number;
  /** A task's run, in its worker invocation. @default - 840 000, or (timeout − PATH_DEFAULTS.endMarginSeconds) × 1000 when that is shorter */
  readonly taskTimeoutMs?: number;
  /** Cap on notification streams. @default - streamCapSeconds(timeoutSeconds) */
  readonly streamMaxSeconds?: number;
  /** @default PATH_DEFAULTS.sseKeepAliveSeconds */
  readonly sseKeepAliveSeconds?: number;
  /** Legacy GET notification streams (`MCP_GET_STREAMS`). @default PATH_DEFAULTS.getStreams */
  readonly getStreams?: boolean;
  /** Whether CloudFront fronts the API (its origin read timeout then bounds silences). @default true */
  readonly cloudFront?: boolean;
  /** @default PATH_DEFAULTS.originReadTimeoutSeconds */
  readonly originReadTimeoutSeconds?: number;
  /**
   * The function refuses requests without CloudFront's secret origin header (`MCP_ORIGIN_VERIFY`).
   * @default - true behind CloudFront, except on the `local` stage (SAM and LocalStack have no CloudFront)
   */
  readonly originVerify?: boolean;
  /** The account's CloudFront origin response timeout quota was raised. @default false */
  readonly originReadTimeoutQuotaRaised?: boolean;
  /** @default PATH_DEFAULTS.memorySizeMb */
  readonly memorySizeMb?: number;
  /** @default - `enabled` unset (the kit decides from its Redis settings), 120 requests a minute */
  readonly rateLimit?: { readonly enabled?: boolean; readonly requestsPerMinute?: number };
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** @default [] */
  readonly allowedOrigins?: readonly string[];
  /** @default [] */
  readonly allowedHosts?: readonly string[];
  /** The account's quotas in the region, where raised. @default AWS_LIMITS' defaults */
  readonly accountQuotas?: { readonly lambdaConcurrency?: number; readonly apiGatewayRps?: number; readonly apiGatewayBurst?: number };
  /** Concurrency reserved for the function. @default - none: it draws on the account's unreserved pool */
  readonly reservedConcurrency?: number;
  /** API Gateway stage throttling. @default PATH_DEFAULTS.throttleRateLimit, PATH_DEFAULTS.throttleBurstLimit */
  readonly throttle?: { readonly rateLimit?: number; readonly burstLimit?: number };
  /**
   * Notification streams open at once, server-wide (`MCP_MAX_OPEN_STREAMS`); 0: no server-wide cap.
   * @default - `streamShare` of the available concurrency (100 of 1,000)
   */
  readonly maxOpenStreams?: number;
  /**
   * Share of the available concurrency open streams may hold, when `maxOpenStreams` is not given;
   * at most PATH_DEFAULTS.maxStreamConcurrencyShare. @default PATH_DEFAULTS.streamConcurrencyShare
   */
  readonly streamShare?: number;
  /**
   * Notification streams one caller may hold open at once (`MCP_STREAMS_PER_PRINCIPAL`).
   * @default - PATH_DEFAULTS.principalStreamShare of `maxOpenStreams`, at least 1 and at most PATH_DEFAULTS.streamsPerPrincipal
   */
  readonly streamsPerPrincipal?: number;
  /**
   * The streams containers serving them hold at most (`containers.streams`: streams per task ×
   * `maxTasks`): an explicit `maxOpenStreams` is checked against this instead of Lambda
   * concurrency, since a stream there holds no execution environment. @default - streams run on the function
   */
  readonly containerStreams?: number;
}

/** The settings with every default applied and every bound checked. */
export interface EndpointSettings {
  readonly serverName: string;
  readonly stage: string;
  readonly path: string;
  readonly timeoutSeconds: number;
  readonly toolTimeoutMs: number;
  readonly taskTimeoutMs: number;
  readonly streamMaxSeconds: number;
  readonly sseKeepAliveSeconds: number;
  readonly getStreams: boolean;
  readonly cloudFront: boolean;
  readonly originReadTimeoutSeconds: number;
  readonly originVerify: boolean;
  readonly memorySizeMb: number;
  readonly rateLimit: { readonly enabled?: boolean; readonly requestsPerMinute: number; readonly windowSeconds: number };
  readonly logLevel: LogLevel;
  readonly allowedOrigins: readonly string[];
  readonly allowedHosts: readonly string[];
  readonly reservedConcurrency?: number;
  /** The account's Lambda concurrency quota in the region, as given or AWS's default. */
  readonly accountConcurrency: number;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly maxOpenStreams: number;
  readonly streamsPerPrincipal: number;
}

/** Where the function finds its data plane, and what auth and the public URL add. */
export interface KitEnvironmentSources {
  readonly tableName: string;
  readonly bucketName: string;
  /** Comma list of ARNs. @default - no `MCP_SECRETS_ARN` (the secrets' values come from the environment instead) */
  readonly secretArn?: string;
  /** @default - no `MCP_PUBLIC_URL` */
  readonly publicUrl?: string;
  /** `MCP_TRUSTED_GATEWAYS`: JSON, possibly a token the endpoint fills once gateways are wired to it. @default - trusts no gateway */
  readonly trustedGateways?: string;
  /** The auth mode's variables (infra/auth.ts `authEnvironment`). */
  readonly authEnvironment: Readonly<Record<string, string>>;
}

/** A setting the deployed path cannot carry. `prop` is the McpServerEndpoint prop at fault. */
export class EndpointSettingsError extends Error {
  constructor(
    readonly prop: string,
    message: string,
  ) {
    super(message);
    this.name = 'EndpointSettingsError';
  }
}

/** Every variable kitEnvironment may set: the ones shared/config/variables.ts marks `construct`. */
export const KIT_VARIABLES: readonly VariableName[] = CONSTRUCT_VARIABLES;

const RESERVED_PATHS = ['/health', '/.well-known'];
// The kit's own defaults and bounds (the task timeout's: 14 minutes, inside Lambda's 15).
const { MCP_PATH, MCP_TOOL_TIMEOUT_MS, MCP_TASK_TIMEOUT_MS, MCP_RATE_LIMIT_REQUESTS, MCP_RATE_LIMIT_WINDOW_SECONDS } = VARIABLES;
const LAMBDA_MEMORY_MB = { min: 128, max: 10_240 };

export function resolveEndpointSettings(input: EndpointSettingsInput): EndpointSettings {
  const fail = failureFor(input.serverName);
  validateServerName(input.serverName);
  const path = validatePath(input.path ?? MCP_PATH.default, fail);
  const timeoutSeconds = resolveTimeout(input.timeoutSeconds, fail);
  const cloudFront = input.cloudFront ?? true;
  const originReadTimeoutSeconds = resolveOriginReadTimeout(input, fail);
  const stage = input.stage ?? 'dev';
  const originVerify = input.originVerify ?? (cloudFront && stage !== 'local');
  if (originVerify && !cloudFront) fail('originVerify', 'needs CloudFront in front (cloudFront: true): only CloudFront adds the origin header.');
  return {
    serverName: input.serverName,
    stage,
    path,
    timeoutSeconds,
    toolTimeoutMs: resolveToolTimeout(timeoutSeconds, input.toolTimeoutMs, fail),
    taskTimeoutMs: resolveTaskTimeout(timeoutSeconds, input.taskTimeoutMs, fail),
    streamMaxSeconds: resolveStreamCap(timeoutSeconds, input.streamMaxSeconds, fail),
    sseKeepAliveSeconds: resolveKeepAlive(input.sseKeepAliveSeconds, cloudFront ? originReadTimeoutSeconds : undefined, fail),
    getStreams: input.getStreams ?? PATH_DEFAULTS.getStreams,
    cloudFront,
    originReadTimeoutSeconds,
    originVerify,
    memorySizeMb: resolveMemory(input.memorySizeMb, fail),
    rateLimit: resolveRateLimit(input.rateLimit, fail),
    logLevel: resolveLogLevel(input.logLevel, fail),
    allowedOrigins: validateList(input.allowedOrigins ?? [], 'allowedOrigins', fail),
    allowedHosts: validateList(input.allowedHosts ?? [], 'allowedHosts', fail),
    ...resolveCapacity(input, fail),
  };
}

/** The variables the kit reads (shared/config.ts), as the function gets them. */
export function kitEnvironment(settings: EndpointSettings, sources: KitEnvironmentSources): Record<string, string> {
  const { rateLimit } = settings;
  const variables: Partial<Record<VariableName, string>> = {
    MCP_TABLE_NAME: sources.tableName,
    MCP_BUCKET_NAME: sources.bucketName,
    ...(sources.secretArn !== undefined && { MCP_SECRETS_ARN: sources.secretArn }),
    MCP_STAGE: settings.stage,
    MCP_PATH: settings.path,
    ...sources.authEnvironment,
    ...(sources.publicUrl !== undefined && { MCP_PUBLIC_URL: sources.publicUrl }),
    ...(sources.trustedGateways !== undefined && { MCP_TRUSTED_GATEWAYS: sources.trustedGateways }),
    MCP_TOOL_TIMEOUT_MS: String(settings.toolTimeoutMs),
    MCP_TASK_TIMEOUT_MS: String(settings.taskTimeoutMs),
    MCP_STREAM_MAX_SECONDS: String(settings.streamMaxSeconds),
    MCP_SSE_KEEPALIVE_MS: String(Math.round(settings.sseKeepAliveSeconds * 1000)),
    MCP_GET_STREAMS: String(settings.getStreams),
    MCP_ALLOWED_ORIGINS: settings.allowedOrigins.join(','),
    MCP_ALLOWED_HOSTS: settings.allowedHosts.join(','),
    // Unset lets the kit decide: on when the secret holds Upstash credentials, off (with a warning) otherwise.
    ...(rateLimit.enabled !== undefined && { MCP_RATE_LIMIT_ENABLED: String(rateLimit.enabled) }),
    MCP_RATE_LIMIT_REQUESTS: String(rateLimit.requestsPerMinute),
    MCP_RATE_LIMIT_WINDOW_SECONDS: String(rateLimit.windowSeconds),
    MCP_MAX_OPEN_STREAMS: String(settings.maxOpenStreams),
    MCP_STREAMS_PER_PRINCIPAL: String(settings.streamsPerPrincipal),
    // The accepted values come from the data plane's origin secret (MCP_SECRETS_ARN), never the template.
    MCP_ORIGIN_VERIFY: String(settings.originVerify),
    LOG_LEVEL: settings.logLevel,
    POWERTOOLS_SERVICE_NAME: settings.serverName,
    NODE_OPTIONS: '--enable-source-maps',
  };
  return variables as Record<string, string>;
}

type Fail = (prop: string, problem: string) => never;

function failureFor(serverName: string): Fail {
  return (prop, problem) => {
    throw new EndpointSettingsError(prop, `McpServerEndpoint "${serverName}": ${prop} ${problem}`);
  };
}

/** `1.5 s`, `250 ms`: how the messages write a time. */
function seconds(value: number): string {
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value} s`;
}

function validateServerName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) {
    throw new EndpointSettingsError(
      'serverName',
      `McpServerEndpoint: serverName "${name}" must be lowercase letters, digits and hyphens, starting with a letter, at most 40 characters.`,
    );
  }
}

function validatePath(path: string, fail: Fail): string {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(path)) fail('path', `"${path}" must look like "/mcp" (segments of letters, digits, ".", "_", "-").`);
  if (RESERVED_PATHS.some((reserved) => path === reserved || path.startsWith(`${reserved}/`))) {
    fail('path', `"${path}" collides with ${RESERVED_PATHS.join(' or ')}.`);
  }
  return path;
}

function resolveTimeout(timeoutSeconds: number | undefined, fail: Fail): number {
  const value = timeoutSeconds ?? PATH_DEFAULTS.functionTimeoutSeconds;
  const max = Math.min(AWS_LIMITS.lambdaMaxTimeoutSeconds, AWS_LIMITS.restStreamMaxSeconds);
  if (!Number.isInteger(value) || value < 1) fail('timeout', `is ${value} s; it must be whole seconds, at least 1.`);
  if (value > max) fail('timeout', `is ${seconds(value)}; Lambda and streamed API responses stop at 15 minutes (${max} s).`);
  return value;
}

/** Whatever the tool may take, the kit still needs the end margin to answer and close the stream. */
function resolveToolTimeout(timeoutSeconds: number, toolTimeoutMs: number | undefined, fail: Fail): number {
  const margin = PATH_DEFAULTS.endMarginSeconds;
  const ceilingMs = (timeoutSeconds - margin) * 1000;
  if (toolTimeoutMs === undefined) {
    if (ceilingMs < 1000) {
      fail(
        'timeout',
        `${seconds(timeoutSeconds)} leaves no room for tools after the ${seconds(margin)} the kit keeps to end a call; give the function more time.`,
      );
    }
    return Math.min(MCP_TOOL_TIMEOUT_MS.default, ceilingMs);
  }
  if (!Number.isInteger(toolTimeoutMs) || toolTimeoutMs < MCP_TOOL_TIMEOUT_MS.min || toolTimeoutMs > ceilingMs) {
    fail(
      'toolTimeout',
      `is ${seconds(toolTimeoutMs / 1000)}; it must be whole milliseconds, at least ${MCP_TOOL_TIMEOUT_MS.min} ms and at most timeout ` +
        `(${seconds(timeoutSeconds)}) minus ${seconds(margin)}, so a slow tool ends with an error result instead of a function timeout.`,
    );
  }
  return toolTimeoutMs;
}

/**
 * A task's worker is an invocation of the same function, so its run has the function's timeout,
 * not Lambda's 15 minutes: a run still going when Lambda stops it would leave the task working
 * until it went stale, instead of failing it with a reason.
 */
function resolveTaskTimeout(timeoutSeconds: number, taskTimeoutMs: number | undefined, fail: Fail): number {
  const margin = PATH_DEFAULTS.endMarginSeconds;
  const ceilingMs = (timeoutSeconds - margin) * 1000;
  if (taskTimeoutMs === undefined) return Math.min(MCP_TASK_TIMEOUT_MS.default, ceilingMs);
  if (!Number.isInteger(taskTimeoutMs) || taskTimeoutMs < MCP_TASK_TIMEOUT_MS.min || taskTimeoutMs > ceilingMs) {
    fail(
      'taskTimeout',
      `is ${seconds(taskTimeoutMs / 1000)}; it must be whole milliseconds, at least ${seconds(MCP_TASK_TIMEOUT_MS.min / 1000)} and at most timeout ` +
        `(${seconds(timeoutSeconds)}) minus ${seconds(margin)}: a task's worker is an invocation of the function, and must fail the task before Lambda stops it.`,
    );
  }
  return taskTimeoutMs;
}

/** A stream still open when Lambda stops the function ends as a timeout error, not a clean close. */
function resolveStreamCap(timeoutSeconds: number, wanted: number | undefined, fail: Fail): number {
  if (wanted === undefined) return streamCapSeconds(timeoutSeconds);
  const ceiling = timeoutSeconds - PATH_DEFAULTS.endMarginSeconds;
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > ceiling) {
    fail(
      'streamMaxDuration',
      `is ${seconds(wanted)}; it must be whole seconds, at least 1 and at most timeout (${seconds(timeoutSeconds)}) minus ` +
        `${seconds(PATH_DEFAULTS.endMarginSeconds)}, so a notification stream closes before Lambda stops the function.`,
    );
  }
  return streamCapSeconds(timeoutSeconds, wanted);
}

function resolveOriginReadTimeout(input: EndpointSettingsInput, fail: Fail): number {
  const value = input.originReadTimeoutSeconds ?? PATH_DEFAULTS.originReadTimeoutSeconds;
  const quota = AWS_LIMITS.cloudFrontMaxOriginReadSeconds;
  if (!Number.isInteger(value) || value < 1) fail('originReadTimeout', `is ${value} s; it must be whole seconds, at least 1.`);
  if (value > quota && input.originReadTimeoutQuotaRaised !== true) {
    fail(
      'originReadTimeout',
      `is ${seconds(value)}; CloudFront allows at most ${seconds(quota)} unless the account's origin response timeout quota ` +
        'was raised (Service Quotas). Raise it first, then set originReadTimeoutQuotaRaised: true.',
    );
  }
  return value;
}

/**
 * A stream silent for longer than CloudFront's origin read timeout gets cut (504 before the first
 * byte), and API Gateway cuts a regional stream silent for its idle timeout: keep-alives go first.
 */
function resolveKeepAlive(wanted: number | undefined, originReadTimeoutSeconds: number | undefined, fail: Fail): number {
  const value = wanted ?? PATH_DEFAULTS.sseKeepAliveSeconds;
  const [bound, what] =
    originReadTimeoutSeconds === undefined
      ? [AWS_LIMITS.restStreamIdleSeconds, "API Gateway's stream idle timeout"]
      : [Math.min(originReadTimeoutSeconds, AWS_LIMITS.restStreamIdleSeconds), 'originReadTimeout'];
  if (!(value > 0) || value >= bound) {
    fail('sseKeepAlive', `is ${seconds(value)}; it must be above 0 and below ${what} (${seconds(bound)}), or idle streams are cut.`);
  }
  if (!Number.isInteger(value * 1000)) fail('sseKeepAlive', `is ${value} s; it must be whole milliseconds.`);
  return value;
}

function resolveMemory(memorySizeMb: number | undefined, fail: Fail): number {
  const value = memorySizeMb ?? PATH_DEFAULTS.memorySizeMb;
  if (!Number.isInteger(value) || value < LAMBDA_MEMORY_MB.min || value > LAMBDA_MEMORY_MB.max) {
    fail('memorySize', `is ${value} MB; Lambda takes whole megabytes from ${LAMBDA_MEMORY_MB.min} to ${LAMBDA_MEMORY_MB.max}.`);
  }
  return value;
}

function resolveRateLimit(rateLimit: EndpointSettingsInput['rateLimit'], fail: Fail): EndpointSettings['rateLimit'] {
  const requestsPerMinute = rateLimit?.requestsPerMinute ?? MCP_RATE_LIMIT_REQUESTS.default;
  if (!Number.isInteger(requestsPerMinute) || requestsPerMinute < 1) {
    fail('rateLimit.requestsPerMinute', `must be a positive whole number, got ${requestsPerMinute}.`);
  }
  return { enabled: rateLimit?.enabled, requestsPerMinute, windowSeconds: MCP_RATE_LIMIT_WINDOW_SECONDS.default };
}

function resolveLogLevel(logLevel: LogLevel | undefined, fail: Fail): LogLevel {
  const value = logLevel ?? VARIABLES.LOG_LEVEL.default;
  if (!LOG_LEVELS.includes(value)) fail('logLevel', `"${value}" must be one of ${LOG_LEVELS.join(', ')}.`);
  return value;
}

/**
 * What keeps a deployment inside the account's quotas (docs/scale.md): a reservation that leaves
 * the account its required unreserved concurrency, stage throttling within the account's API
 * Gateway quota, and a cap on open streams that leaves most of the concurrency to calls.
 */
function resolveCapacity(
  input: EndpointSettingsInput,
  fail: Fail,
): Pick<EndpointSettings, 'reservedConcurrency' | 'accountConcurrency' | 'throttle' | 'maxOpenStreams' | 'streamsPerPrincipal'> {
  const quotas = {
    lambdaConcurrency: input.accountQuotas?.lambdaConcurrency ?? AWS_LIMITS.lambdaAccountConcurrency,
    apiGatewayRps: input.accountQuotas?.apiGatewayRps ?? AWS_LIMITS.apiGatewayAccountRps,
    apiGatewayBurst: input.accountQuotas?.apiGatewayBurst ?? AWS_LIMITS.apiGatewayAccountBurst,
  };
  for (const [name, value] of Object.entries(quotas)) {
    if (!Number.isInteger(value) || value < 1) fail(`accountQuotas.${name}`, `is ${value}; it must be a whole number above 0.`);
  }
  const reservable = quotas.lambdaConcurrency - AWS_LIMITS.lambdaMinUnreservedConcurrency;
  const reserved = input.reservedConcurrency;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1 || reserved > reservable)) {
    fail(
      'reservedConcurrency',
      `is ${reserved}; it must be a whole number from 1 to ${reservable}: Lambda keeps ${AWS_LIMITS.lambdaMinUnreservedConcurrency} of the account's ` +
        `${quotas.lambdaConcurrency} unreserved (raise the quota, then pass accountQuotas.lambdaConcurrency).`,
    );
  }
  const rateLimit = input.throttle?.rateLimit ?? Math.min(PATH_DEFAULTS.throttleRateLimit, quotas.apiGatewayRps);
  const burstLimit = input.throttle?.burstLimit ?? Math.min(PATH_DEFAULTS.throttleBurstLimit, quotas.apiGatewayBurst);
  if (!(rateLimit > 0) || rateLimit > quotas.apiGatewayRps) {
    fail(
      'throttle.rateLimit',
      `is ${rateLimit}; it must be above 0 and at most the account's API Gateway quota of ${quotas.apiGatewayRps} requests per second, shared by all its APIs (raise it, then pass accountQuotas.apiGatewayRps).`,
    );
  }
  if (!Number.isInteger(burstLimit) || burstLimit < 1 || burstLimit > quotas.apiGatewayBurst) {
    fail('throttle.burstLimit', `is ${burstLimit}; it must be a whole number from 1 to the account's API Gateway burst of ${quotas.apiGatewayBurst}.`);
  }
  const available = reserved ?? quotas.lambdaConcurrency;
  const streams = resolveStreamCaps(input, available, reserved === undefined ? 'the account allows' : 'reserved for the function', fail);
  return {
    ...(reserved !== undefined && { reservedConcurrency: reserved }),
    accountConcurrency: quotas.lambdaConcurrency,
    throttle: { rateLimit, burstLimit },
    ...streams,
  };
}

/**
 * Each open stream holds an execution environment until the stream cap, so the server-wide cap is
 * a share of the concurrency the function has (at most half: calls need the rest), and one
 * caller's cap a part of that, so one caller never holds every slot.
 */
function resolveStreamCaps(
  input: EndpointSettingsInput,
  available: number,
  whose: string,
  fail: Fail,
): Pick<EndpointSettings, 'maxOpenStreams' | 'streamsPerPrincipal'> {
  const ceilingShare = PATH_DEFAULTS.maxStreamConcurrencyShare;
  if (input.streamShare !== undefined && input.maxOpenStreams !== undefined) {
    fail('streamShare', 'and maxOpenStreams both size the server-wide stream cap; give one of them.');
  }
  const share = input.streamShare ?? PATH_DEFAULTS.streamConcurrencyShare;
  if (!(share > 0) || share > ceilingShare) {
    fail(
      'streamShare',
      `is ${share}; it must be above 0 and at most ${ceilingShare}: each open stream holds an execution environment, and calls need the rest.`,
    );
  }
  const onContainers = input.containerStreams !== undefined && input.maxOpenStreams !== undefined;
  const streamCeiling = onContainers ? input.containerStreams! : Math.max(1, Math.floor(available * ceilingShare));
  const maxOpenStreams = input.maxOpenStreams ?? Math.max(1, Math.floor(available * share));
  if (!Number.isInteger(maxOpenStreams) || maxOpenStreams < 0 || maxOpenStreams > streamCeiling) {
    fail(
      'maxOpenStreams',
      onContainers
        ? `is ${maxOpenStreams}; it must be a whole number from 0 to ${streamCeiling}, the streams the containers hold at most ` +
            '(streams per task × containers.maxTasks): raise maxTasks or cpu for more.'
        : `is ${maxOpenStreams}; it must be a whole number from 0 to ${streamCeiling}, half of the ${available} concurrent executions ` +
            `${whose}: each open stream holds one until the stream cap, and calls need the rest.`,
    );
  }
  const fairShare = Math.floor(maxOpenStreams * PATH_DEFAULTS.principalStreamShare);
  const streamsPerPrincipal =
    input.streamsPerPrincipal ??
    (maxOpenStreams === 0 ? PATH_DEFAULTS.streamsPerPrincipal : Math.min(PATH_DEFAULTS.streamsPerPrincipal, Math.max(1, fairShare)));
  const principalCeiling = maxOpenStreams === 0 ? Infinity : maxOpenStreams;
  if (!Number.isInteger(streamsPerPrincipal) || streamsPerPrincipal < 1 || streamsPerPrincipal > principalCeiling) {
    fail(
      'streamsPerPrincipal',
      `is ${streamsPerPrincipal}; it must be a whole number from 1${maxOpenStreams === 0 ? '' : ` to maxOpenStreams (${maxOpenStreams})`}.`,
    );
  }
  return { maxOpenStreams, streamsPerPrincipal };
}

/** The kit splits these lists on commas. */
function validateList(values: readonly string[], prop: string, fail: Fail): readonly string[] {
  for (const value of values) {
    if (value === '' || /[\s,]/.test(value)) fail(prop, `entry "${value}" must be non-empty, without spaces or commas.`);
  }
  return values;
}

export interface ContainerEnvironmentOptions {
  /** Tasks the service may run (the construct's `maxTasks`). @default 1 */
  tasks?: number;
  /** MCP_CONTAINER_STREAMS; the server-wide cap (MCP_MAX_OPEN_STREAMS) on the tasks is this times `tasks`. @default MCP_CONTAINER_STREAMS's default */
  streamsPerTask?: number;
  /**
   * Variables of the function's environment the user chose (a prop such as `maxOpenStreams`, or
   * the construct's `environment`): the containers keep these as they are. @default - none
   */
  explicit?: readonly string[];
  /** Added last (a cap to try, say). */
  environment?: Record<string, string>;
}

/** The variables containerEnvironment fills for the containers unless the user set them (docs/deploy.md, "Containers"). */
export const CONTAINER_DEFAULTS = [
  'MCP_GET_STREAMS',
  'MCP_CONTAINER_STREAMS',
  'MCP_MAX_OPEN_STREAMS',
  'MCP_STREAMS_PER_PRINCIPAL',
  'MCP_EVENT_POLL_MAX_MS',
] as const satisfies readonly VariableName[];

/**
 * A container task's environment: the function's, with what the user left unset filled for the
 * containers: GET streams on again (a stream holds no Lambda environment there), the stream caps
 * sized by the tasks, and events polled at most a second apart (one poller feeds all of a task's
 * streams; docs/scale.md). A variable in `explicit` keeps the function's value, and the caps derive
 * from it (a chosen server-wide cap bounds the per-principal one). The construct and the model of
 * `npm run start:aws` both build it here.
 */
export function containerEnvironment(functionEnvironment: Record<string, string>, options: ContainerEnvironmentOptions = {}): Record<string, string> {
  const explicit = new Set(options.explicit ?? []);
  const chosen = (name: (typeof CONTAINER_DEFAULTS)[number]) => (explicit.has(name) ? functionEnvironment[name] : undefined);
  const perTask = Number(chosen('MCP_CONTAINER_STREAMS') ?? options.streamsPerTask ?? VARIABLES.MCP_CONTAINER_STREAMS.default);
  const max = Number(chosen('MCP_MAX_OPEN_STREAMS') ?? perTask * (options.tasks ?? 1));
  const perPrincipal = max === 0 ? PATH_DEFAULTS.streamsPerPrincipal : Math.max(1, Math.min(PATH_DEFAULTS.streamsPerPrincipal, Math.floor(max / 2)));
  return {
    ...functionEnvironment,
    MCP_GET_STREAMS: chosen('MCP_GET_STREAMS') ?? 'true',
    MCP_CONTAINER_STREAMS: String(perTask),
    MCP_MAX_OPEN_STREAMS: String(max),
    MCP_STREAMS_PER_PRINCIPAL: chosen('MCP_STREAMS_PER_PRINCIPAL') ?? String(perPrincipal),
    MCP_EVENT_POLL_MAX_MS: chosen('MCP_EVENT_POLL_MAX_MS') ?? '1000',
    ...options.environment,
  };
}

/** Streams a task of `cpu` units holds: the measured 2,500 of a 0.5 vCPU task (the delivery bound, docs/scale.md), in proportion. */
export const streamsPerTaskFor = (cpu: number): number => Math.floor((VARIABLES.MCP_CONTAINER_STREAMS.default * cpu) / 512);
