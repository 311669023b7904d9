// The kit's configuration: every environment variable it reads, parsed once into one typed,
// frozen object. An invalid value throws a ConfigError naming the variable, so start-up fails
// fast. Each variable's default, bounds and meaning are written once, in shared/config/variables.ts;
// this module parses with them and adds the rules that tie variables together.

import { VARIABLES, type Variable, type VariableName } from './config/variables.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

/** How callers authenticate: `none`, or one or both of `apikey` and `oauth`. */
export type AuthMethod = 'apikey' | 'oauth';

export interface AuthConfig {
  /** Accepted methods; empty means no authentication (`MCP_AUTH_MODE=none`). `MCP_AUTH_MODE`, e.g. `oauth,apikey`. */
  methods: readonly AuthMethod[];
  /** OAuth 2.1 resource server settings, present when `oauth` is a method. */
  oauth?: {
    /** Authorization server issuer; tokens must carry exactly this `iss`. `MCP_OAUTH_ISSUER`. */
    issuer: string;
    /** JWKS endpoint. `MCP_OAUTH_JWKS_URL`, default `<issuer>/.well-known/jwks.json`. */
    jwksUrl: string;
    /** Accepted `aud` values (RFC 8707: this resource's URL). `MCP_OAUTH_AUDIENCE` (comma list), default `MCP_PUBLIC_URL`. */
    audience: readonly string[];
    /** Signature algorithms accepted. `MCP_OAUTH_ALGORITHMS`, default `RS256,ES256`. */
    algorithms: readonly string[];
    /** Scopes advertised in protected resource metadata. `MCP_OAUTH_SCOPES`. */
    scopesSupported: readonly string[];
    /** Clock skew tolerated on `exp`/`nbf`/`iat`. `MCP_OAUTH_CLOCK_SKEW_SECONDS`, default 30. */
    clockSkewSeconds: number;
  };
  /** How long a looked-up API key (or its absence) is trusted: the revocation bound. `MCP_APIKEY_CACHE_SECONDS`, default 30 (max 60). */
  apiKeyCacheSeconds: number;
}

/** A gateway's name (`iss` of its assertions, `gateway:<name>#…` principals): lowercase letters, digits, hyphens. */
export const GATEWAY_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** A gateway whose on-behalf-of assertions this server accepts, and the keys they must be signed with. */
export interface TrustedGateway {
  /** The gateway's name: its assertions' `iss`, and the middle of the principal ids it vouches for. */
  readonly name: string;
  /**
   * Where its public keys come from: derived from this server's own request-state keys (a gateway
   * on the same data plane, which signs with the key derived from the same secret), public JWKs
   * given here, or a JWKS URL.
   */
  readonly keys: { readonly fromRequestStateKey: true } | { readonly jwks: readonly Record<string, unknown>[] } | { readonly jwksUrl: string };
  /** `aud` values accepted besides this endpoint's own URL (e.g. its API Gateway URL, when the gateway calls it there). */
  readonly audience: readonly string[];
}

export interface KitConfig {
  /** Path the MCP endpoint is served on. `MCP_PATH`, default `/mcp`. */
  path: string;
  /** DynamoDB table holding sessions, state, tasks and API keys. `MCP_TABLE_NAME`, default `mcp-kit`. */
  tableName: string;
  /** S3 bucket for artifacts. `MCP_BUCKET_NAME`, default `mcp-kit-artifacts`. */
  bucketName: string;
  /** AWS region. `AWS_REGION`, default `us-east-1`. */
  region: string;
  /** DynamoDB endpoint override (local emulators, LocalStack). `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`. */
  dynamoEndpoint?: string;
  /** S3 endpoint override. `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`. */
  s3Endpoint?: string;
  /** Upstash REST endpoint and token. `UPSTASH_REDIS_REST_URL`, `UPSTASH_REDIS_REST_TOKEN`. */
  redis?: { url: string; token: string };
  /** Stage name, used in logs and to pick deployed defaults. `MCP_STAGE`, default `local`. */
  stage: string;
  /**
   * Public URL of the MCP endpoint, as clients reach it (CloudFront or custom domain). Names the
   * resource in OAuth metadata and is the default token audience. `MCP_PUBLIC_URL`.
   */
  publicUrl?: string;
  /** Authentication. `MCP_AUTH_MODE` (`none` | `apikey` | `oauth` | `oauth,apikey`), default `none`. */
  auth: AuthConfig;
  /** Longest a tool handler may run before the call ends with an error result. `MCP_TOOL_TIMEOUT_MS`, default 60000. */
  toolTimeoutMs: number;
  /**
   * HMAC key for MRTR `requestState`, shared by every instance so a retry can land anywhere.
   * `MCP_REQUEST_STATE_KEY` (at least 32 bytes). When unset a random per-process key is used and
   * a warning is logged: fine for one local process, wrong for more than one.
   */
  requestStateKey?: string;
  /**
   * Earlier request-state keys, still accepted but never used to sign, so a rotation does not
   * break MRTR rounds in flight. `MCP_REQUEST_STATE_PREVIOUS_KEYS` (comma list). Rotation order
   * in docs/deploy.md.
   */
  previousRequestStateKeys: readonly string[];
  /**
   * Gateways whose on-behalf-of assertions (`Authorization: Bearer`, a JWT typed
   * `gateway-assertion+jwt`) are accepted: the caller becomes `gateway:<name>#<caller>`.
   * `MCP_TRUSTED_GATEWAYS`, JSON: `{"<name>": {"fromRequestStateKey": true} | {"jwks": [<JWK>…]} |
   * {"jwksUrl": "https://…"}, each with an optional "audience": ["https://…"]}`. Default none.
   */
  trustedGateways: readonly TrustedGateway[];
  /** How long a minted `requestState` stays valid. `MCP_REQUEST_STATE_TTL_SECONDS`, default 600. */
  requestStateTtlSeconds: number;
  /** Idle lifetime of a legacy session (sliding). `MCP_SESSION_TTL_SECONDS`, default 86400 (24 h). */
  sessionTtlSeconds: number;
  /**
   * How long an instance trusts a session record it has read before reading it again: the bound
   * on how long a session deleted through another instance may still answer here.
   * `MCP_SESSION_CACHE_MS`, default 2000; 0 disables the cache.
   */
  sessionCacheMs: number;
  /** Lifetime of a state handle minted for a modern client. `MCP_STATE_TTL_SECONDS`, default 86400. */
  stateTtlSeconds: number;
  /**
   * Caps per principal, so one caller cannot pile up what the kit stores or holds open:
   * sessions started per day (`MCP_SESSIONS_PER_PRINCIPAL`, default 500), state handles minted
   * per day (`MCP_HANDLES_PER_PRINCIPAL`, default 1000), notification streams open at once on
   * one instance (`MCP_STREAMS_PER_PRINCIPAL`, default 10).
   */
  /**
   * `openStreams`: notification streams one caller may hold open at once (`MCP_STREAMS_PER_PRINCIPAL`,
   * default 10), counted in Redis across every instance when Redis is configured, else per instance;
   * `serverStreams`: notification streams open at once across every instance of the server, counted
   * in Redis (`MCP_MAX_OPEN_STREAMS`, default 0: no server-wide cap; the construct derives both from
   * the function's concurrency, infra/endpoint/settings.ts); `instanceStreams`: notification streams
   * one process holds open at once (`MCP_CONTAINER_STREAMS`, default 2,500; 0: no cap of its own);
   * `streamsFailOpen`: on Lambda, open streams uncounted (true) or refuse them with 503 (false)
   * while Redis, which counts them, is unreachable (`MCP_STREAM_CAPS_FAIL_OPEN`, default false).
   */
  caps: { sessionsPerDay: number; handlesPerDay: number; openStreams: number; serverStreams: number; instanceStreams: number; streamsFailOpen: boolean };
  /** Tasks (tools that may outlive their request). */
  tasks: {
    /** How long a task stays readable after its creation. `MCP_TASK_TTL_SECONDS`, default 3600. */
    ttlSeconds: number;
    /** The longest lifetime a 2025-11-25 client may ask for. `MCP_TASK_MAX_TTL_SECONDS`, default 86400. */
    maxTtlSeconds: number;
    /** The poll interval suggested to clients. `MCP_TASK_POLL_MS`, default 1000. */
    pollIntervalMs: number;
    /** A task's run still going after this fails the task. `MCP_TASK_TIMEOUT_MS`, default 840000 (14 min, inside Lambda's 15). */
    timeoutMs: number;
    /** A working task not updated for this long lost its worker. `MCP_TASK_STALE_SECONDS`, default 960 (past Lambda's 15 min). */
    staleAfterSeconds: number;
    /** Queue container-runtime tasks for container workers. `MCP_CONTAINER_TASKS`, default false. */
    containers: boolean;
    /** A container worker's lease on a queued task. `MCP_TASK_LEASE_SECONDS`, default 60. */
    leaseSeconds: number;
    /** Runs of a queued task that may start before it fails. `MCP_TASK_MAX_ATTEMPTS`, default 3. */
    maxAttempts: number;
    /** Unfinished container tasks one principal may have. `MCP_CONTAINER_TASKS_PER_PRINCIPAL`, default 20. */
    containerTasksPerPrincipal: number;
    /** A container task's run limit; 0: derived from its TTL. `MCP_CONTAINER_TASK_TIMEOUT_SECONDS`, default 0. */
    containerTimeoutSeconds: number;
    /** Progress and checkpoint writes, at most one each this often. `MCP_TASK_PROGRESS_MS`, default 1000. */
    progressEveryMs: number;
  };
  /** This function's name on Lambda (`AWS_LAMBDA_FUNCTION_NAME`): tasks run in invocations of it. */
  lambdaFunctionName?: string;
  /** The version this code runs as (`AWS_LAMBDA_FUNCTION_VERSION`): a task's worker runs the same one. */
  lambdaFunctionVersion?: string;
  /** Lambda endpoint override (the local model, LocalStack). `AWS_ENDPOINT_URL_LAMBDA` or `AWS_ENDPOINT_URL`. */
  lambdaEndpoint?: string;
  /** Largest POST body accepted, in bytes. `MCP_MAX_BODY_BYTES`, default 1048576 (1 MiB). */
  maxBodyBytes: number;
  /** Host names accepted in the Host header; empty accepts any. `MCP_ALLOWED_HOSTS` (comma list). */
  allowedHosts: string[];
  /** Origins accepted in the Origin header; requests without Origin always pass. `MCP_ALLOWED_ORIGINS`. */
  allowedOrigins: string[];
  /** SSE keep-alive comment interval. `MCP_SSE_KEEPALIVE_MS`, default 15000. */
  sseKeepAliveMs: number;
  /**
   * Notification streams (legacy GET, `subscriptions/listen`) are closed after this long (clients
   * reopen them), bounding what an idle listener costs on Lambda. `MCP_STREAM_MAX_SECONDS`,
   * default 300; 0 = no limit.
   */
  streamMaxSeconds: number;
  /**
   * Whether 2025-era sessions may open a GET notification stream (else GET answers 405, which the
   * transport spec allows). On Lambda an open stream holds an execution environment until the
   * stream cap even after its client has gone, so the construct turns them off unless asked.
   * `MCP_GET_STREAMS` (true/false), default true.
   */
  getStreams: boolean;
  /** Per-call Redis timeout; a slower Redis counts as unavailable. `MCP_REDIS_TIMEOUT_MS`, default 500. */
  redisTimeoutMs: number;
  /** How often an instance with open notification streams polls Redis for other instances' events. `MCP_EVENT_POLL_MS`, default 1000. */
  eventPollMs: number;
  /**
   * While no events arrive the poll interval doubles up to this, so an idle listener costs less
   * Redis; the first event after a quiet spell arrives within it. `MCP_EVENT_POLL_MAX_MS`, default
   * 5000 (or MCP_EVENT_POLL_MS when that is longer); equal to MCP_EVENT_POLL_MS turns the backoff off.
   */
  eventPollMaxMs: number;
  /**
   * Values of CloudFront's origin header (shared/http/origin-verify.ts) the app accepts; empty, the
   * check is off. `MCP_ORIGIN_VERIFY` (true/false, default false; the construct sets it behind
   * CloudFront) requires `MCP_ORIGIN_SECRET` (the value CloudFront sends, from the data plane's
   * origin secret) and also accepts `MCP_ORIGIN_SECRET_PREVIOUS` (comma list) while rotating.
   */
  originSecrets: readonly string[];
  /** Rate limiting (Redis). On by default outside the `local` stage when Redis is configured. */
  rateLimit: {
    /**
     * `MCP_RATE_LIMIT_ENABLED` (true/false). Unset: on outside the `local` stage when Redis is
     * configured, off (with a warning) when it is not.
     */
    enabled: boolean;
    /** Whether `MCP_RATE_LIMIT_ENABLED` was set, so an unset one that leaves the limit off is reported. */
    explicit: boolean;
    /** Requests per window per principal. `MCP_RATE_LIMIT_REQUESTS`, default 120. */
    requests: number;
    /** Calls per window per principal and tool; unset means no per-tool limit. `MCP_RATE_LIMIT_TOOL_REQUESTS`. */
    toolRequests?: number;
    /** Sliding window length. `MCP_RATE_LIMIT_WINDOW_SECONDS`, default 60. */
    windowSeconds: number;
    /** Serve requests when Redis is unavailable (true) or refuse them with 503 (false). `MCP_RATE_LIMIT_FAIL_OPEN`, default true. */
    failOpen: boolean;
  };
  /** Lifetime of an artifact. `MCP_ARTIFACT_TTL_SECONDS`, default 604800 (7 days). */
  artifactTtlSeconds: number;
  /** Tool results larger than this (serialized bytes) are stored as artifacts and linked. `MCP_OFFLOAD_BYTES`, default 1048576. */
  offloadBytes: number;
  /**
   * CloudWatch embedded-metric lines in the logs (task states, per-tool calls). `MCP_METRICS`
   * (true/false), default on outside the `local` stage.
   */
  metrics: boolean;
  /** Log level. `LOG_LEVEL` (Powertools' `POWERTOOLS_LOG_LEVEL` also honoured), default `INFO`. */
  logLevel: (typeof VARIABLES.LOG_LEVEL.values)[number];
  /**
   * Spans for requests, tools, stores and upstream calls (shared/trace.ts). `MCP_TRACING`
   * (true/false), default off; the construct turns it on with Lambda active tracing.
   */
  tracing: boolean;
  /**
   * Where spans go as OTLP/HTTP JSON: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. Unset: X-Ray on Lambda, JSON lines on stdout elsewhere.
   */
  otlpTracesEndpoint?: string;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = VARIABLES.LOG_LEVEL.values;
type LogLevel = (typeof LOG_LEVELS)[number];
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1', '[::1]'];

function authConfig(env: Env, publicUrl: string | undefined): AuthConfig {
  const raw = text(env, 'MCP_AUTH_MODE').toLowerCase();
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const methods = parts.filter((p): p is AuthMethod => p === 'apikey' || p === 'oauth');
  if (raw !== 'none' && (methods.length === 0 || methods.length !== parts.length)) {
    throw new ConfigError('MCP_AUTH_MODE', `expected none, apikey, oauth or oauth,apikey; got "${raw}"`);
  }
  if (methods.length === 0) {
    // Unauthenticated serving is for a developer's own machine, or an explicit decision.
    const local = !env.AWS_LAMBDA_FUNCTION_NAME && LOOPBACK_HOSTS.includes(text(env, 'HOST'));
    if (!local && !bool(env, 'MCP_ALLOW_UNAUTHENTICATED')) {
      throw new ConfigError(
        'MCP_AUTH_MODE',
        'is none, which is allowed only when serving on a loopback address. Set MCP_AUTH_MODE=oauth (with MCP_OAUTH_ISSUER and MCP_PUBLIC_URL) or MCP_AUTH_MODE=apikey, or opt in to an open endpoint with MCP_ALLOW_UNAUTHENTICATED=true',
      );
    }
  }
  let oauth: AuthConfig['oauth'];
  if (methods.includes('oauth')) {
    const issuer = url(env, 'MCP_OAUTH_ISSUER');
    if (!issuer) throw new ConfigError('MCP_OAUTH_ISSUER', "is required when MCP_AUTH_MODE includes oauth: the authorization server's issuer URL");
    // The metadata names this resource and clients ask for tokens with it as audience: it must be
    // the URL clients use, which the request cannot be trusted to say.
    if (!publicUrl) {
      throw new ConfigError(
        'MCP_PUBLIC_URL',
        'is required when MCP_AUTH_MODE includes oauth: the URL clients use for this endpoint, e.g. https://mcp.example.com/mcp',
      );
    }
    const audience = list(env, 'MCP_OAUTH_AUDIENCE');
    oauth = Object.freeze({
      issuer,
      jwksUrl: url(env, 'MCP_OAUTH_JWKS_URL') ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
      audience: Object.freeze(audience.length ? audience : [publicUrl]),
      algorithms: Object.freeze(
        list(env, 'MCP_OAUTH_ALGORITHMS').length ? list(env, 'MCP_OAUTH_ALGORITHMS') : (variable('MCP_OAUTH_ALGORITHMS').default as string).split(','),
      ),
      scopesSupported: Object.freeze(list(env, 'MCP_OAUTH_SCOPES')),
      clockSkewSeconds: int(env, 'MCP_OAUTH_CLOCK_SKEW_SECONDS'),
    });
    if (oauth.algorithms.some((a) => a.toLowerCase() === 'none' || a.startsWith('HS'))) {
      throw new ConfigError('MCP_OAUTH_ALGORITHMS', 'only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are accepted');
    }
  }
  const apiKeyCacheSeconds = int(env, 'MCP_APIKEY_CACHE_SECONDS');
  return Object.freeze({ methods: Object.freeze(methods), oauth, apiKeyCacheSeconds });
}

const TRUSTED_GATEWAYS = 'MCP_TRUSTED_GATEWAYS';
const TRUSTED_GATEWAYS_FORM =
  'expected {"<gateway name>": {"fromRequestStateKey": true} or {"jwks": [<public JWK>, …]} or {"jwksUrl": "https://…"}, optionally with "audience": ["https://…"]}';

function trustedGateway(name: string, entry: unknown): TrustedGateway {
  const fail = (problem: string): never => {
    throw new ConfigError(TRUSTED_GATEWAYS, `gateway "${name}": ${problem}; ${TRUSTED_GATEWAYS_FORM}`);
  };
  if (!GATEWAY_NAME.test(name)) fail('a name is lowercase letters, digits and hyphens, starting with a letter, at most 64 characters');
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail('is not an object');
  const { fromRequestStateKey, jwks, jwksUrl, audience = [], ...rest } = entry as Record<string, unknown>;
  if (Object.keys(rest).length > 0) fail(`unknown field ${Object.keys(rest).join(', ')}`);
  const sources = [fromRequestStateKey !== undefined, jwks !== undefined, jwksUrl !== undefined].filter(Boolean).length;
  if (sources !== 1) fail('give exactly one of fromRequestStateKey, jwks and jwksUrl');
  const isUrl = (v: unknown) => typeof v === 'string' && /^https?:\/\//.test(v) && URL.canParse(v);
  if (!Array.isArray(audience) || !audience.every(isUrl)) fail('audience must be a list of http(s) URLs');
  let keys: TrustedGateway['keys'];
  if (fromRequestStateKey !== undefined) keys = fromRequestStateKey === true ? { fromRequestStateKey: true } : fail('fromRequestStateKey must be true');
  else if (jwksUrl !== undefined) keys = isUrl(jwksUrl) ? { jwksUrl: jwksUrl as string } : fail('jwksUrl must be an http(s) URL');
  else {
    const valid =
      Array.isArray(jwks) &&
      jwks.length > 0 &&
      jwks.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string' && !('d' in k));
    keys = valid ? { jwks: Object.freeze(jwks as Record<string, unknown>[]) } : fail('jwks must be a non-empty list of public JWKs (no "d")');
  }
  return Object.freeze({ name, keys, audience: Object.freeze([...(audience as string[])]) });
}

/** MCP_TRUSTED_GATEWAYS's value, parsed from JSON: also how the construct checks its `trustedGateways` prop at synth. */
export function parseTrustedGateways(value: unknown): readonly TrustedGateway[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(TRUSTED_GATEWAYS, TRUSTED_GATEWAYS_FORM);
  return Object.freeze(Object.entries(value).map(([name, entry]) => trustedGateway(name, entry)));
}

function trustedGateways(env: Env): readonly TrustedGateway[] {
  const raw = str(env, TRUSTED_GATEWAYS);
  if (raw === undefined) return Object.freeze([]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError(TRUSTED_GATEWAYS, `is not valid JSON (${(err as Error).message}); ${TRUSTED_GATEWAYS_FORM}`);
  }
  return parseTrustedGateways(parsed);
}

const variable = (name: VariableName): Variable => VARIABLES[name];

function str(env: Env, name: VariableName): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** A text variable, or its default. */
function text(env: Env, name: VariableName): string {
  return str(env, name) ?? (variable(name).default as string);
}

/** A whole number within the variable's bounds; `fallback` and `min` where they depend on another variable. */
function int(env: Env, name: VariableName, fallback = variable(name).default as number, min = variable(name).min ?? 0): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min) throw new ConfigError(name, `must be at least ${min}, got ${n}`);
  const max = variable(name).max;
  if (max && n > max.value) throw new ConfigError(name, `must be at most ${max.value}: ${max.why}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: VariableName, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const value = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (value === undefined) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return value;
}

function bool(env: Env, name: VariableName, fallback = variable(name).default as boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function url(env: Env, name: VariableName): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got "${raw}"`);
  }
  return raw;
}

/** OTLP's base endpoint, to which the traces path is appended (the OpenTelemetry exporter rule). */
function otlpBase(env: Env): string | undefined {
  const base = url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return base && `${base.replace(/\/+$/, '')}/v1/traces`;
}

function list(env: Env, name: VariableName): string[] {
  return (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The origin header values accepted, when MCP_ORIGIN_VERIFY asks for the check. */
function originSecrets(env: Env): readonly string[] {
  if (!bool(env, 'MCP_ORIGIN_VERIFY')) return Object.freeze([]);
  const current = str(env, 'MCP_ORIGIN_SECRET');
  if (current === undefined) {
    throw new ConfigError(
      'MCP_ORIGIN_SECRET',
      "is required when MCP_ORIGIN_VERIFY is true: the value CloudFront sends in its origin header (on Lambda, a field of the data plane's origin secret)",
    );
  }
  const all = [current, ...list(env, 'MCP_ORIGIN_SECRET_PREVIOUS')];
  if (all.some((value) => value.length < 16))
    throw new ConfigError('MCP_ORIGIN_SECRET', 'every accepted value (and each of MCP_ORIGIN_SECRET_PREVIOUS) must be at least 16 characters');
  return Object.freeze(all);
}

/** Both Upstash credentials, or neither. */
function redisCredentials(env: Env): { url: string; token: string } | undefined {
  const redisUrl = url(env, 'UPSTASH_REDIS_REST_URL');
  const redisToken = str(env, 'UPSTASH_REDIS_REST_TOKEN');
  if ((redisUrl === undefined) !== (redisToken === undefined)) {
    throw new ConfigError(
      redisUrl ? 'UPSTASH_REDIS_REST_TOKEN' : 'UPSTASH_REDIS_REST_URL',
      'set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither',
    );
  }
  return redisUrl && redisToken ? { url: redisUrl, token: redisToken } : undefined;
}

/** The key that signs request state and the previous ones still accepted, each at least 32 bytes. */
function requestStateKeys(env: Env): { requestStateKey: string | undefined; previousRequestStateKeys: string[] } {
  const requestStateKey = str(env, 'MCP_REQUEST_STATE_KEY');
  if (requestStateKey !== undefined && new TextEncoder().encode(requestStateKey).length < 32) {
    throw new ConfigError('MCP_REQUEST_STATE_KEY', 'must be at least 32 bytes; generate one with `openssl rand -base64 48`');
  }
  const previousRequestStateKeys = list(env, 'MCP_REQUEST_STATE_PREVIOUS_KEYS');
  if (previousRequestStateKeys.some((k) => new TextEncoder().encode(k).length < 32)) {
    throw new ConfigError('MCP_REQUEST_STATE_PREVIOUS_KEYS', 'every key must be at least 32 bytes (keys are separated by commas)');
  }
  if (previousRequestStateKeys.length > 0 && requestStateKey === undefined) {
    throw new ConfigError('MCP_REQUEST_STATE_KEY', 'is required when MCP_REQUEST_STATE_PREVIOUS_KEYS is set: it is the key that signs');
  }
  return { requestStateKey, previousRequestStateKeys };
}

/**
 * Whether rate limiting is on. Unset, it follows Redis outside the local stage: a deployment whose
 * secret has no Upstash credentials yet still serves (the logs and GET /health say the limit is off).
 */
function rateLimitSwitch(env: Env, stage: string, redis: KitConfig['redis']) {
  const explicit = str(env, 'MCP_RATE_LIMIT_ENABLED') !== undefined;
  const enabled = bool(env, 'MCP_RATE_LIMIT_ENABLED', stage !== 'local' && redis !== undefined);
  if (enabled && !redis) {
    throw new ConfigError(
      'MCP_RATE_LIMIT_ENABLED',
      'rate limiting needs Redis: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or MCP_RATE_LIMIT_ENABLED=false',
    );
  }
  const toolRequests = str(env, 'MCP_RATE_LIMIT_TOOL_REQUESTS') === undefined ? undefined : int(env, 'MCP_RATE_LIMIT_TOOL_REQUESTS');
  return { enabled, explicit, toolRequests };
}

function capsConfig(env: Env): KitConfig['caps'] {
  return Object.freeze({
    sessionsPerDay: int(env, 'MCP_SESSIONS_PER_PRINCIPAL'),
    handlesPerDay: int(env, 'MCP_HANDLES_PER_PRINCIPAL'),
    openStreams: int(env, 'MCP_STREAMS_PER_PRINCIPAL'),
    serverStreams: int(env, 'MCP_MAX_OPEN_STREAMS'),
    instanceStreams: int(env, 'MCP_CONTAINER_STREAMS'),
    streamsFailOpen: bool(env, 'MCP_STREAM_CAPS_FAIL_OPEN'),
  });
}

function tasksConfig(env: Env): KitConfig['tasks'] {
  return Object.freeze({
    ttlSeconds: int(env, 'MCP_TASK_TTL_SECONDS'),
    maxTtlSeconds: int(env, 'MCP_TASK_MAX_TTL_SECONDS'),
    pollIntervalMs: int(env, 'MCP_TASK_POLL_MS'),
    timeoutMs: int(env, 'MCP_TASK_TIMEOUT_MS'),
    staleAfterSeconds: int(env, 'MCP_TASK_STALE_SECONDS'),
    containers: bool(env, 'MCP_CONTAINER_TASKS'),
    leaseSeconds: int(env, 'MCP_TASK_LEASE_SECONDS'),
    maxAttempts: int(env, 'MCP_TASK_MAX_ATTEMPTS'),
    containerTasksPerPrincipal: int(env, 'MCP_CONTAINER_TASKS_PER_PRINCIPAL'),
    containerTimeoutSeconds: int(env, 'MCP_CONTAINER_TASK_TIMEOUT_SECONDS'),
    progressEveryMs: int(env, 'MCP_TASK_PROGRESS_MS'),
  });
}

export function loadConfig(env: Env = process.env): Readonly<KitConfig> {
  const path = text(env, 'MCP_PATH');
  if (!path.startsWith('/')) throw new ConfigError('MCP_PATH', `must start with "/", got "${path}"`);
  const redis = redisCredentials(env);
  const { requestStateKey, previousRequestStateKeys } = requestStateKeys(env);

  const gateways = trustedGateways(env);
  if (gateways.some((g) => 'fromRequestStateKey' in g.keys) && requestStateKey === undefined) {
    throw new ConfigError(
      'MCP_REQUEST_STATE_KEY',
      `is required when ${TRUSTED_GATEWAYS} has a gateway with fromRequestStateKey: that gateway's public key is derived from it`,
    );
  }

  const stage = text(env, 'MCP_STAGE');
  const eventPollMs = int(env, 'MCP_EVENT_POLL_MS');
  const rateLimit = rateLimitSwitch(env, stage, redis);

  const publicUrl = url(env, 'MCP_PUBLIC_URL');
  const shared = url(env, 'AWS_ENDPOINT_URL');
  return Object.freeze({
    path,
    tableName: text(env, 'MCP_TABLE_NAME'),
    bucketName: text(env, 'MCP_BUCKET_NAME'),
    region: str(env, 'AWS_REGION') ?? text(env, 'AWS_DEFAULT_REGION'),
    dynamoEndpoint: url(env, 'AWS_ENDPOINT_URL_DYNAMODB') ?? shared,
    s3Endpoint: url(env, 'AWS_ENDPOINT_URL_S3') ?? shared,
    redis,
    stage,
    publicUrl,
    auth: authConfig(env, publicUrl),
    toolTimeoutMs: int(env, 'MCP_TOOL_TIMEOUT_MS'),
    requestStateKey,
    previousRequestStateKeys: Object.freeze(previousRequestStateKeys),
    trustedGateways: gateways,
    requestStateTtlSeconds: int(env, 'MCP_REQUEST_STATE_TTL_SECONDS'),
    sessionTtlSeconds: int(env, 'MCP_SESSION_TTL_SECONDS'),
    sessionCacheMs: int(env, 'MCP_SESSION_CACHE_MS'),
    stateTtlSeconds: int(env, 'MCP_STATE_TTL_SECONDS'),
    caps: capsConfig(env),
    tasks: tasksConfig(env),
    lambdaFunctionName: str(env, 'AWS_LAMBDA_FUNCTION_NAME'),
    lambdaFunctionVersion: str(env, 'AWS_LAMBDA_FUNCTION_VERSION'),
    lambdaEndpoint: url(env, 'AWS_ENDPOINT_URL_LAMBDA') ?? shared,
    maxBodyBytes: int(env, 'MCP_MAX_BODY_BYTES'),
    allowedHosts: list(env, 'MCP_ALLOWED_HOSTS'),
    allowedOrigins: list(env, 'MCP_ALLOWED_ORIGINS'),
    sseKeepAliveMs: int(env, 'MCP_SSE_KEEPALIVE_MS'),
    streamMaxSeconds: int(env, 'MCP_STREAM_MAX_SECONDS'),
    getStreams: bool(env, 'MCP_GET_STREAMS'),
    redisTimeoutMs: int(env, 'MCP_REDIS_TIMEOUT_MS'),
    eventPollMs,
    eventPollMaxMs: int(env, 'MCP_EVENT_POLL_MAX_MS', Math.max(variable('MCP_EVENT_POLL_MAX_MS').default as number, eventPollMs), eventPollMs),
    originSecrets: originSecrets(env),
    rateLimit: Object.freeze({
      enabled: rateLimit.enabled,
      explicit: rateLimit.explicit,
      requests: int(env, 'MCP_RATE_LIMIT_REQUESTS'),
      toolRequests: rateLimit.toolRequests,
      windowSeconds: int(env, 'MCP_RATE_LIMIT_WINDOW_SECONDS'),
      failOpen: bool(env, 'MCP_RATE_LIMIT_FAIL_OPEN'),
    }),
    artifactTtlSeconds: int(env, 'MCP_ARTIFACT_TTL_SECONDS'),
    offloadBytes: int(env, 'MCP_OFFLOAD_BYTES'),
    metrics: bool(env, 'MCP_METRICS', stage !== 'local'),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, oneOf(env, 'POWERTOOLS_LOG_LEVEL', LOG_LEVELS, variable('LOG_LEVEL').default as LogLevel)),
    tracing: bool(env, 'MCP_TRACING'),
    otlpTracesEndpoint: url(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? otlpBase(env),
  });
}
