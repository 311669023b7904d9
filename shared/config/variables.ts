// Every environment variable the kit, its adapters and its gateway read: name, kind, default,
// bounds and what it does, written once. loadConfig (shared/config.ts) parses with these defaults
// and bounds, the construct (infra/endpoint/settings.ts) sets the ones marked `construct` and
// takes its defaults from here, and the README's configuration table is rendered from it
// (`npm run docs:config`). Plain data: no CDK, nothing read from the environment here.

export type VariableKind = 'whole number' | 'true/false' | 'text' | 'URL' | 'comma list' | 'one of' | 'JSON';

export interface Variable {
  readonly kind: VariableKind;
  /** The value used when the variable is unset, where it is a constant. */
  readonly default?: number | boolean | string;
  /** How the README states the default when it is not the constant alone (computed, or set by the construct). */
  readonly shownDefault?: string;
  /** Smallest accepted whole number; for text, the least length. */
  readonly min?: number;
  /** Largest accepted whole number, and why. */
  readonly max?: { readonly value: number; readonly why: string };
  /** Accepted values of a `one of`. */
  readonly values?: readonly string[];
  /** Set by McpServerEndpoint from its props (so its `environment` prop may not set it). */
  readonly construct?: boolean;
  /** What it does, as the README says it. */
  readonly doc: string;
}

const LOOPBACK_ONLY_UNDER_START = 'any (loopback only under `npm start`)';

export const VARIABLES = {
  MCP_PATH: { kind: 'text', default: '/mcp', construct: true, doc: 'Path of the MCP endpoint (`GET /health` is always there).' },
  MCP_TABLE_NAME: { kind: 'text', default: 'mcp-kit', construct: true, doc: 'DynamoDB table (`pk`/`sk`, TTL attribute `expiresAt`).' },
  MCP_BUCKET_NAME: { kind: 'text', default: 'mcp-kit-artifacts', construct: true, doc: 'S3 bucket for artifacts.' },
  AWS_REGION: { kind: 'text', default: 'us-east-1', doc: 'Region.' },
  AWS_DEFAULT_REGION: { kind: 'text', default: 'us-east-1', doc: 'Region, when `AWS_REGION` is unset.' },
  AWS_ENDPOINT_URL_DYNAMODB: { kind: 'URL', doc: 'DynamoDB endpoint override (emulators, LocalStack).' },
  AWS_ENDPOINT_URL_S3: { kind: 'URL', doc: 'S3 endpoint override (emulators, LocalStack).' },
  AWS_ENDPOINT_URL: { kind: 'URL', doc: 'Endpoint override for every AWS service without its own `AWS_ENDPOINT_URL_<SERVICE>`.' },
  UPSTASH_REDIS_REST_URL: { kind: 'URL', doc: 'Redis (Upstash REST) URL; set both it and `UPSTASH_REDIS_REST_TOKEN`, or neither.' },
  UPSTASH_REDIS_REST_TOKEN: { kind: 'text', doc: 'Redis (Upstash REST) token; set both it and `UPSTASH_REDIS_REST_URL`, or neither.' },
  MCP_REQUEST_STATE_KEY: {
    kind: 'text',
    min: 32,
    shownDefault: 'random per process (warns)',
    doc: 'HMAC key (at least 32 bytes) for MRTR `requestState`; every instance must share it.',
  },
  MCP_REQUEST_STATE_PREVIOUS_KEYS: {
    kind: 'comma list',
    doc: 'Earlier keys, still accepted, never used to sign: rotate without breaking rounds in flight (order in docs/deploy.md).',
  },
  MCP_REQUEST_STATE_TTL_SECONDS: { kind: 'whole number', default: 600, min: 1, doc: 'How long a `requestState` stays valid.' },
  MCP_SESSION_TTL_SECONDS: { kind: 'whole number', default: 86_400, min: 60, doc: 'Idle lifetime of a legacy session (sliding).' },
  MCP_SESSION_CACHE_MS: { kind: 'whole number', default: 2_000, min: 0, doc: 'How long an instance trusts a cached session record; `0` disables.' },
  MCP_STATE_TTL_SECONDS: { kind: 'whole number', default: 86_400, min: 60, doc: 'Lifetime of a state handle from its first write.' },
  MCP_MAX_BODY_BYTES: { kind: 'whole number', default: 1_048_576, min: 1_024, doc: 'Largest POST body (413 above it).' },
  MCP_ALLOWED_HOSTS: { kind: 'comma list', shownDefault: LOOPBACK_ONLY_UNDER_START, construct: true, doc: 'Accepted `Host` names.' },
  MCP_ALLOWED_ORIGINS: {
    kind: 'comma list',
    shownDefault: LOOPBACK_ONLY_UNDER_START,
    construct: true,
    doc: 'Accepted `Origin`s; requests without `Origin` pass. Origins on the list also get CORS headers and preflight answers (browser-based clients); without a list no CORS headers are sent.',
  },
  MCP_SSE_KEEPALIVE_MS: {
    kind: 'whole number',
    default: 15_000,
    min: 0,
    construct: true,
    doc: 'SSE keep-alive comment interval, and how long a call may stay silent before its answer turns into a kept-alive stream; `0` disables both.',
  },
  MCP_STAGE: { kind: 'text', default: 'local', construct: true, doc: 'Stage name, in every log line; rate limiting defaults on outside `local`.' },
  MCP_ARTIFACT_TTL_SECONDS: { kind: 'whole number', default: 604_800, min: 60, doc: 'Lifetime of an artifact.' },
  MCP_OFFLOAD_BYTES: { kind: 'whole number', default: 1_048_576, min: 1_024, doc: 'Tool results above this size become artifacts.' },
  MCP_EVENT_POLL_MS: { kind: 'whole number', default: 1_000, min: 10, doc: "How often an instance with open streams reads other instances' events." },
  MCP_EVENT_POLL_MAX_MS: {
    kind: 'whole number',
    default: 5_000,
    shownDefault: '`5000` (or `MCP_EVENT_POLL_MS` when longer)',
    doc: 'Longest interval between those reads, reached by doubling while no events arrive; at least `MCP_EVENT_POLL_MS`, and equal to it turns the backoff off.',
  },
  MCP_REDIS_TIMEOUT_MS: { kind: 'whole number', default: 500, min: 1, doc: 'Per-call Redis timeout.' },
  MCP_RATE_LIMIT_ENABLED: {
    kind: 'true/false',
    shownDefault: 'on outside `local` when Redis is configured',
    construct: true,
    doc: 'Rate limiting; `true` insists (needs Redis).',
  },
  MCP_RATE_LIMIT_REQUESTS: {
    kind: 'whole number',
    default: 120,
    min: 1,
    construct: true,
    doc: 'Requests per window per principal (unauthenticated: per address).',
  },
  MCP_RATE_LIMIT_WINDOW_SECONDS: { kind: 'whole number', default: 60, min: 1, construct: true, doc: "The rate limit's window." },
  MCP_RATE_LIMIT_TOOL_REQUESTS: { kind: 'whole number', min: 1, doc: 'Calls per window per principal and tool; unset, no per-tool limit.' },
  MCP_RATE_LIMIT_FAIL_OPEN: { kind: 'true/false', default: true, doc: 'Serve (true) or refuse with 503 (false) when Redis is unavailable.' },
  MCP_AUTH_MODE: { kind: 'one of', default: 'none', values: ['none', 'apikey', 'oauth', 'oauth,apikey'], doc: 'How callers authenticate (see Authorization).' },
  MCP_ALLOW_UNAUTHENTICATED: { kind: 'true/false', default: false, doc: 'Allow `MCP_AUTH_MODE=none` off loopback.' },
  MCP_PUBLIC_URL: { kind: 'URL', construct: true, doc: "The endpoint's public URL: OAuth resource id and default audience." },
  MCP_OAUTH_ISSUER: { kind: 'URL', doc: "OAuth: the authorization server's issuer; tokens must carry exactly this `iss`." },
  MCP_OAUTH_JWKS_URL: { kind: 'URL', shownDefault: '`<issuer>/.well-known/jwks.json`', doc: 'OAuth: the JWKS endpoint.' },
  MCP_OAUTH_AUDIENCE: { kind: 'comma list', shownDefault: '`MCP_PUBLIC_URL`', doc: 'OAuth: accepted `aud` values.' },
  MCP_OAUTH_SCOPES: { kind: 'comma list', doc: 'OAuth: scopes advertised in protected resource metadata.' },
  MCP_OAUTH_ALGORITHMS: { kind: 'comma list', default: 'RS256,ES256', doc: 'OAuth: signature algorithms accepted (asymmetric only).' },
  MCP_OAUTH_CLOCK_SKEW_SECONDS: { kind: 'whole number', default: 30, min: 0, doc: 'OAuth: clock skew tolerated on `exp`/`nbf`/`iat`.' },
  MCP_APIKEY_CACHE_SECONDS: {
    kind: 'whole number',
    default: 30,
    min: 0,
    max: { value: 60, why: 'it bounds how long a revoked key keeps working' },
    doc: 'API key lookup cache; the revocation bound.',
  },
  MCP_TOOL_TIMEOUT_MS: {
    kind: 'whole number',
    default: 60_000,
    min: 100,
    construct: true,
    doc: 'A tool still running after this ends with an error result; keep it below the Lambda timeout.',
  },
  MCP_STREAM_MAX_SECONDS: {
    kind: 'whole number',
    default: 300,
    min: 0,
    construct: true,
    doc: 'GET and `subscriptions/listen` streams close after this (clients reopen them); `0` = no limit. The construct keeps it below the function timeout.',
  },
  MCP_GET_STREAMS: {
    kind: 'true/false',
    default: true,
    shownDefault: '`true` (the construct sets `false`)',
    construct: true,
    doc: 'Whether 2025-era sessions may open a GET notification stream; off, GET answers 405 (as it does on Lambda without Redis).',
  },
  MCP_TASK_TTL_SECONDS: { kind: 'whole number', default: 3_600, min: 60, doc: 'How long a task stays readable.' },
  MCP_TASK_MAX_TTL_SECONDS: { kind: 'whole number', default: 86_400, min: 60, doc: 'The longest task lifetime a 2025-11-25 client may ask for.' },
  MCP_TASK_POLL_MS: { kind: 'whole number', default: 1_000, min: 100, doc: 'Poll interval suggested to clients.' },
  MCP_TASK_TIMEOUT_MS: {
    kind: 'whole number',
    default: 840_000,
    min: 1_000,
    construct: true,
    doc: "A task's run still going after this fails the task (the construct keeps it inside the function timeout).",
  },
  MCP_TASK_STALE_SECONDS: {
    kind: 'whole number',
    default: 960,
    min: 10,
    doc: 'A working task its worker stopped updating for this long reads as failed. Only once a worker took it: a task whose worker event is still queued (throttled) waits, and fails when Lambda reports the event unrun.',
  },
  MCP_CONTAINER_TASKS: {
    kind: 'true/false',
    default: false,
    doc: "Queue the tasks of tools declared `task: { mode, runtime: 'container' }` in the table for container workers (`startTaskWorkers`), which run them for as long as their TTL; off, they run like any task.",
  },
  MCP_TASK_LEASE_SECONDS: {
    kind: 'whole number',
    default: 60,
    min: 1,
    doc: 'How long a container worker holds a queued task without renewing its lease (it renews every third of it); a worker that stops renewing loses the task to another, which restarts it.',
  },
  MCP_TASK_MAX_ATTEMPTS: {
    kind: 'whole number',
    default: 3,
    min: 1,
    doc: 'Runs of a queued task that may be lost; a task whose workers stopped this many times without finishing (their lease lapsed) fails. A run a stopping worker gave back is not counted.',
  },
  MCP_CONTAINER_TASKS_PER_PRINCIPAL: {
    kind: 'whole number',
    default: 20,
    min: 1,
    doc: "Container tasks (queued, running or waiting for input) one principal may have unfinished at once, counted in the table; past it a new one is refused with 429 (JSON-RPC -32000) naming the limit, and nothing is written: wait for one to end, or cancel one with `tasks/cancel`. Other principals' tasks are queued and run as before. Unauthenticated callers are counted by client address ([Authorization](#authorization)).",
  },
  MCP_CONTAINER_TASK_TIMEOUT_SECONDS: {
    kind: 'whole number',
    default: 0,
    min: 0,
    shownDefault: "`0`: the task's TTL less a tenth of it (at most 5 minutes less)",
    doc: "How long a container task's run may go on before the task fails with an error naming this setting; never later than its TTL less a tenth (at most 5 minutes), so the failure is still readable before the task's record expires.",
  },
  MCP_TASK_PROGRESS_MS: {
    kind: 'whole number',
    default: 1_000,
    min: 100,
    doc: "A running task's progress messages and checkpoints are each written at most this often (the last one wins, and is written when the run ends or stops). A progress message goes to a small item beside the task's (1 write unit); a checkpoint updates the task's item, billed on its whole size (up to about 130 write units with a 64 KB request and a 64 KB checkpoint).",
  },
  AWS_ENDPOINT_URL_LAMBDA: {
    kind: 'URL',
    doc: 'Lambda endpoint for task workers (the `start:aws` model, LocalStack); on Lambda, workers are invocations of `AWS_LAMBDA_FUNCTION_NAME`.',
  },
  AWS_LAMBDA_FUNCTION_NAME: {
    kind: 'text',
    doc: "(set by Lambda) this function's name: task workers are invocations of it, and an unauthenticated endpoint is refused there.",
  },
  AWS_LAMBDA_FUNCTION_VERSION: {
    kind: 'text',
    doc: "(set by Lambda) the published version running: a task's worker is invoked on the same version (`Qualifier`), so a release or a rollback does not change a task's code.",
  },
  ECS_AGENT_URI: {
    kind: 'URL',
    doc: "(set by ECS) the task's agent endpoint: while a container's workers run a task they mark the ECS task protected from scale-in there (`ecs:UpdateTaskProtection` on the task role), and clear it once idle; a refusal is logged, never fatal.",
  },
  MCP_SESSIONS_PER_PRINCIPAL: {
    kind: 'whole number',
    default: 500,
    min: 1,
    doc: 'Legacy sessions a principal may start per day (429 beyond). Unauthenticated callers are counted by client address ([Authorization](#authorization)).',
  },
  MCP_HANDLES_PER_PRINCIPAL: {
    kind: 'whole number',
    default: 1_000,
    min: 1,
    doc: 'State handles a principal may mint per day (429 beyond). Unauthenticated callers are counted by client address ([Authorization](#authorization)).',
  },
  MCP_STREAMS_PER_PRINCIPAL: {
    kind: 'whole number',
    default: 10,
    min: 1,
    shownDefault: '`10` (the construct sets half of `MCP_MAX_OPEN_STREAMS`, at most `10`)',
    construct: true,
    doc: "Notification streams (GET, `subscriptions/listen`) one principal may hold open at once, counted in Redis across every instance; past it a new stream gets 429 with `Retry-After` set to when the caller's oldest stream reaches the stream cap (on Lambda a stream whose client left holds its slot until then). Without Redis each instance counts its own; on Lambda, where that would never bind, streams are refused instead ([Events across instances](#events-across-instances)). Unauthenticated callers are counted by client address ([Authorization](#authorization)).",
  },
  MCP_MAX_OPEN_STREAMS: {
    kind: 'whole number',
    default: 0,
    min: 0,
    shownDefault: "`0` (the construct sets a share of the function's concurrency: `100` of 1,000)",
    construct: true,
    doc: 'Notification streams open at once across every instance of the server, counted in Redis with the per-principal count (one script claims against both, one releases; leases end by themselves a minute after the stream cap, so a dead instance\'s streams free themselves); past it a new stream gets 503 with `Retry-After` set to when the oldest stream reaches the stream cap. On Lambda each open stream holds an execution environment: this keeps listeners from taking the concurrency calls need. `0`: no server-wide cap. While Redis is unreachable a server process counts streams per instance, and on Lambda a new stream gets 503 with `Retry-After` (`MCP_STREAM_CAPS_FAIL_OPEN`); calls go on. Without Redis `GET /health` says `"streamCaps": "per instance"` on a server process, and on Lambda `"no streams: Redis is not configured"`: streams are refused there, so calls keep every environment.',
  },
  MCP_STREAM_CAPS_FAIL_OPEN: {
    kind: 'true/false',
    default: false,
    doc: 'On Lambda while Redis, which counts open streams against `MCP_STREAMS_PER_PRINCIPAL` and `MCP_MAX_OPEN_STREAMS`, is unreachable: refuse a new stream with 503 and `Retry-After` saying the stream limit store is unreachable (false), or open it uncounted (true; nothing then bounds how many environments listeners hold, since each serves one request). A server process (`npm start`, containers) counts streams per instance meanwhile either way. Calls are served throughout.',
  },
  MCP_CONTAINER_STREAMS: {
    kind: 'whole number',
    default: 2_500,
    min: 0,
    doc: "Notification streams one server process (a container task; `npm start`) holds open at once (2,500: what one 0.5 vCPU task reaches with an event within 2 s, docs/scale.md); past it a new stream gets 503 with `Retry-After`, which the load balancer may send to another task. `0`: no cap of the process's own. On containers `MCP_MAX_OPEN_STREAMS` is this times the most tasks. A Lambda environment serves one request, so it never binds there.",
  },
  MCP_METRICS: {
    kind: 'true/false',
    shownDefault: 'on outside `local`',
    doc: 'CloudWatch embedded metrics in the logs: per-tool calls, errors, duration, cache hits and rate-limited calls on every `tools/call` access line, and task state changes (docs/deploy.md, Per-tool metrics). The container task backlog lines are written whatever it says (alarms and autoscaling read them).',
  },
  MCP_TRACING: {
    kind: 'true/false',
    default: false,
    shownDefault: '`false` (the construct sets `true`, with Lambda active tracing)',
    doc: 'Record spans: the request, the tool, DynamoDB, S3, Redis, upstream calls, task workers ([Traces](#traces)). Off, nothing is recorded, and a request that carries a `traceparent` still passes it on and logs its trace id.',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    kind: 'URL',
    doc: 'Send spans as OTLP/HTTP JSON to this collector, batched within a second. Unset: X-Ray on Lambda (`AWS_XRAY_DAEMON_ADDRESS`, set by Lambda active tracing), JSON lines on stdout elsewhere.',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: { kind: 'URL', doc: 'OTLP base endpoint: spans go to it plus `/v1/traces` when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is unset.' },
  MCP_ORIGIN_VERIFY: {
    kind: 'true/false',
    default: false,
    shownDefault: '`false` (the construct sets `true` behind CloudFront)',
    construct: true,
    doc: "Refuse, with 403, every request without CloudFront's secret origin header (`x-mcp-origin-verify`), so the raw API Gateway URL does not reach the server around CloudFront and its WAF. Needs `MCP_ORIGIN_SECRET`.",
  },
  MCP_ORIGIN_SECRET: {
    kind: 'text',
    min: 16,
    doc: "The origin header value CloudFront sends (at least 16 characters). On Lambda, a field of the data plane's origin secret.",
  },
  MCP_ORIGIN_SECRET_PREVIOUS: {
    kind: 'comma list',
    doc: 'Origin header values still accepted while `MCP_ORIGIN_SECRET` is rotated (docs/deploy.md, "Rotating secrets"), each at least 16 characters.',
  },
  MCP_SECRETS_ARN: {
    kind: 'comma list',
    construct: true,
    doc: "(Lambda) Secrets Manager JSON secrets (the construct passes the data plane's secret and its origin secret) whose keys fill unset variables above, read in parallel once per cold start.",
  },
  MCP_GATEWAY_UPSTREAMS: {
    kind: 'comma list',
    doc: '(the gateway) its upstreams as `name=url` pairs; this or `MCP_GATEWAY_CONFIG`. See [Gateway](#gateway-one-endpoint-in-front-of-many-mcp-servers).',
  },
  MCP_GATEWAY_CONFIG: { kind: 'JSON', doc: '(the gateway) a JSON file (or the JSON itself) with per-upstream settings; this or `MCP_GATEWAY_UPSTREAMS`.' },
  MCP_GATEWAY_LIST_TIMEOUT_MS: {
    kind: 'whole number',
    default: 5_000,
    doc: '(the gateway) how long a list waits for each upstream before answering without it.',
  },
  MCP_GATEWAY_NAME: {
    kind: 'text',
    default: 'gateway',
    doc: '(the gateway) its name toward upstreams: `iss` and `act.sub` of its assertions, the middle of `gateway:<name>#<caller>`.',
  },
  MCP_GATEWAY_ADMIN_SCOPE: {
    kind: 'text',
    default: 'gateway:admin',
    doc: "(the gateway) callers holding it see each upstream's state in `GET /health?ready`; others see counts.",
  },
  MCP_TRUSTED_GATEWAYS: {
    kind: 'JSON',
    shownDefault: '— (`npm start`: the local `gateway`)',
    construct: true,
    doc: 'Gateways whose on-behalf-of assertions this server accepts: `{"<name>": {"fromRequestStateKey": true} | {"jwks": […]} | {"jwksUrl": "…"}}`, each with an optional `"audience": […]`. See [Authorization](#authorization).',
  },
  LOG_LEVEL: {
    kind: 'one of',
    default: 'INFO',
    values: ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'],
    construct: true,
    doc: 'Audit lines are written at every level but `SILENT` ([Audit log](#audit-log)).',
  },
  POWERTOOLS_LOG_LEVEL: { kind: 'one of', values: ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'], doc: 'Read when `LOG_LEVEL` is unset.' },
  POWERTOOLS_SERVICE_NAME: { kind: 'text', construct: true, doc: 'The `service` field of every log line; the construct sets the server name.' },
  NODE_OPTIONS: { kind: 'text', construct: true, doc: '(Lambda) the construct sets `--enable-source-maps`, so stack traces name the TypeScript source.' },
  HOST: { kind: 'text', default: '127.0.0.1', doc: '(`npm start`) the address to listen on; a container task listens on `0.0.0.0` unless set.' },
  PORT: {
    kind: 'whole number',
    default: 3_000,
    doc: '(`npm start`) the port to listen on; `0` picks a free port; a container task listens on `8080` unless set.',
  },
} as const satisfies Record<string, Variable>;

export type VariableName = keyof typeof VARIABLES;

/** The variables McpServerEndpoint sets from its props. */
export const CONSTRUCT_VARIABLES = (Object.keys(VARIABLES) as VariableName[]).filter((name) => (VARIABLES[name] as Variable).construct === true);

/** The README's configuration table, one row a variable. */
export function configurationTable(): string {
  const rows = (Object.entries(VARIABLES) as [VariableName, Variable][]).map(
    ([name, v]) => `| \`${name}\` | ${shownDefault(v)} | ${accepted(v)} | ${cell(v.doc)} |`,
  );
  return ['| Variable | Default | Accepts | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function shownDefault(v: Variable): string {
  if (v.shownDefault !== undefined) return v.shownDefault;
  return v.default === undefined ? '—' : `\`${v.default}\``;
}

function accepted(v: Variable): string {
  if (v.values) return v.values.map((value) => `\`${value}\``).join(', ');
  const bounds = [v.min !== undefined && v.min > 0 && (v.kind === 'text' ? `at least ${v.min} long` : `≥ ${v.min}`), v.max && `≤ ${v.max.value}`].filter(
    Boolean,
  );
  return [v.kind, ...bounds].join(', ');
}

/** A Markdown table cell: a `|` inside it would end the cell. */
const cell = (text: string) => text.replaceAll('|', '\\|');
