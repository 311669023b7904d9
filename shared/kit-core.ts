// Assembles one MCP server from its definition and the configuration: stores, event bus, SDK
// instance factory and the Hono app. The task machinery is handed in (kit.ts, for every adapter
// but Lambda's) or imported on first need, by the first call that becomes a task or the first
// task event: a Lambda cold start that serves a plain call never parses it.
import type { ServerEventBus } from '@modelcontextprotocol/server';
import type { Redis } from '@upstash/redis';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KitConfig } from './config.ts';
import { describeFeatures } from './features.ts';
import { createS3Client } from './artifacts/client.ts';
import { ArtifactStore } from './artifacts/store.ts';
import { ToolCache } from './cache/tool-cache.ts';
import { MemoryEventBus } from './events/memory-bus.ts';
import { createRedisEventBus } from './events/redis-bus.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createApp } from './http/app.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { OpenStreams } from './http/open-streams.ts';
import { createStreamSlots } from './http/stream-slots.ts';
import { createAccessLog, createLogger, type KitLogger } from './log.ts';
import { createToolMetrics } from './metrics.ts';
import { createRedis } from './redis.ts';
import { PendingWork } from './pending-work.ts';
import { createRelay, type Relay } from './relay/relay.ts';
import { redisRelayStore, tableRelayStore } from './relay/stores.ts';
import { createToolRuntime } from './server/runtime.ts';
import type { TaskService } from './tasks/service.ts';
import type { TaskQueue } from './tasks/queue.ts';
import type { TaskSetup } from './tasks/setup.ts';
import { failedTask, isTaskEvent, isTaskFailure } from './tasks/dispatch.ts';
import type { ServerDefinition } from './server/define.ts';
import { Quota } from './store/quota.ts';
import { SessionStore } from './store/sessions.ts';
import { StateStore } from './store/state.ts';
import { Table, createDynamoClient } from './store/table.ts';
import type { SpanExporter, Tracer } from './trace.ts';
import { jsonLinesExporter, otlpExporter } from './trace-export.ts';

const DAY = 86_400;

export interface KitOptions {
  /** Change events; Redis streams when Redis is configured (cross-instance), else in-process. */
  bus?: ServerEventBus;
  /** Replies and cancellations across instances; Redis lists when Redis is configured, else the table. */
  relay?: Relay;
  dynamo?: DynamoDBClient;
  log?: KitLogger;
  /** False serves every request through the SDK lane (tests compare the lanes). @default true */
  directLane?: boolean;
  /**
   * The adapter serves one request at a time per instance (Lambda: one per execution environment).
   * Without Redis no event then reaches an open notification stream and no stream cap binds, so
   * notification streams are refused (mcp-endpoint.ts: `streamsOff`). @default false
   */
  oneRequestPerInstance?: boolean;
  /** Where spans go when MCP_TRACING is on. @default OTLP when an endpoint is configured, else JSON lines on stdout */
  traceExporter?: SpanExporter;
  /** The adapter's own trace header for this request (Lambda's `_X_AMZN_TRACE_ID`): it parents the request's span. */
  ambientTrace?: () => string | undefined;
}

/** Why notification streams are refused: on Lambda without Redis they would hold an environment for nothing. */
const STREAMS_NEED_REDIS =
  'on Lambda without Redis no change notification would reach the stream (each execution environment serves one request, and events stay in the one that raised them); list again when you need a fresh list. Streams need UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN set on the server';

/** The task machinery (tasks/setup.ts), for `assembleKit`. */
export type TaskSetupModule = typeof import('./tasks/setup.ts');

/**
 * The kit without container task workers (kit.ts adds them). Without `taskSetup` the task
 * machinery is imported when first needed.
 */
export function assembleKit(definition: ServerDefinition, config: Readonly<KitConfig>, options: KitOptions, taskSetup: TaskSetupModule | undefined) {
  const log = options.log ?? createLogger(config, definition.name);
  const tracer = config.tracing ? createTracer(definition.name, config, log, options.traceExporter) : undefined;
  const table = new Table(async () => options.dynamo ?? createDynamoClient(config), config.tableName);
  const requestStateKeys = [requestStateKeyOf(config, log), ...config.previousRequestStateKeys];
  const redis = config.redis && createRedis({ ...config.redis, timeoutMs: config.redisTimeoutMs });
  const streamsOff = !redis && options.oneRequestPerInstance ? STREAMS_NEED_REDIS : undefined;
  const features = describeFeatures(config, Boolean(redis), Boolean(streamsOff));
  if (!redis) warnWithoutRedis(config, log, Boolean(streamsOff), features);
  const redisBus = !options.bus && redis ? createRedisEventBus({ redis, stream: `mcp:events:${definition.name}`, pollMs: config.eventPollMs, pollMaxMs: config.eventPollMaxMs, log }) : undefined;
  const bus = options.bus ?? redisBus ?? new MemoryEventBus((error) => log.warn('event listener failed', { error: error.message }));
  const artifacts = new ArtifactStore(() => createS3Client(config), config.bucketName, { defaultTtlSeconds: config.artifactTtlSeconds });
  const pending = new PendingWork();
  const relay = options.relay ?? createRelay(redis ? redisRelayStore(redis, definition.name) : tableRelayStore(table, definition.name), log);
  const tasks = taskMachinery(config, taskSetup, { server: definition.name, table, relay, artifacts, log, pending, tracer, execute: (run) => runtime.executeTask(run) });
  const loadTasks = async () => (await tasks.load()).service;
  const runtime = createRuntime(definition, config, { table, redis: redis || undefined, log, requestStateKeys, bus, artifacts, pending, tasks: loadTasks });
  const admission = createAdmission(definition, config, { table, redis: redis || undefined, artifacts, pending, log, requestStateKeys });
  const sessionQuota = new Quota(table, 'sessions', config.caps.sessionsPerDay, DAY, 'reuse a session, end the ones you no longer use with DELETE');
  const sessions = new SessionStore(table, config.sessionTtlSeconds, config.sessionCacheMs, redis || undefined, sessionQuota);
  const openStreams = new OpenStreams(config.caps.instanceStreams);
  const { app, close } = createApp({
    ...admission,
    openStreams,
    config,
    runtime,
    tasks: runtime.hasTasks ? loadTasks : undefined,
    directLane: options.directLane,
    sessions,
    bus,
    relay,
    log,
    features,
    streamsOff,
    tracer,
    ambientTrace: options.ambientTrace,
  });
  return {
    app,
    notify: runtime.services.notify,
    bus,
    log,
    handleEvent: createEventHandler(loadTasks, log),
    /** The task service and container queue, when made (at start, or by a task event). */
    tasks: () => tasks.made,
    /** What this instance holds: cached sessions (bounded by MCP_SESSION_CACHE_MS), open notification streams. */
    stats: () => ({ cachedSessions: sessions.cached, openStreams: openStreams.size }),
    /**
     * Shutting down (the container adapter on SIGTERM): new notification streams get 503, and every
     * open one ends now, a listen stream with its final result, a GET stream closed. Returns how many.
     */
    drainStreams: () => openStreams.drain(),
    /**
     * Waits, at most `maxMs`, for work a response did not wait for (cache writes, event appends,
     * handlers that outlive their call). The Lambda adapter calls it before an invocation ends: a
     * frozen environment would hold that work until its next invocation, or forever.
     */
    async settle(maxMs: number) {
      const [done] = await Promise.all([pending.settled(maxMs), redisBus?.flush()]);
      await tracer?.exporter.flush?.();
      if (!done) log.warn('work still running when the invocation ends; it is frozen with the environment', { running: pending.size, waitedMs: maxMs });
    },
    async close() {
      (await tasks.loading)?.service.close();
      await close();
      await redisBus?.close();
    },
  };
}

interface RuntimeParts {
  table: Table;
  redis: Redis | undefined;
  log: KitLogger;
  requestStateKeys: string[];
  bus: ServerEventBus;
  artifacts: ArtifactStore;
  pending: PendingWork;
  tasks: () => Promise<TaskService>;
}

interface TaskParts {
  service: TaskService;
  queue?: TaskQueue;
}

/** The task service and queue: made now from `taskSetup`, else by the first `load()`. */
function taskMachinery(config: Readonly<KitConfig>, taskSetup: TaskSetupModule | undefined, setup: TaskSetup) {
  const parts: { made?: TaskParts; loading?: Promise<TaskParts>; load(): Promise<TaskParts> } = {
    made: taskSetup?.createTasks(config, setup),
    load() {
      // A failed import is not kept: the next need tries again.
      parts.loading ??= import('./tasks/setup.ts')
        .then((m) => (parts.made = m.createTasks(config, setup)))
        .catch((err: unknown) => {
          parts.loading = undefined;
          throw err;
        });
      return parts.loading;
    },
  };
  if (parts.made) parts.loading = Promise.resolve(parts.made);
  return parts;
}

/** What runs tools: their state, cache, events, artifacts, limits and tasks. */
function createRuntime(definition: ServerDefinition, config: Readonly<KitConfig>, { table, redis, log, requestStateKeys, bus, artifacts, pending, tasks }: RuntimeParts) {
  return createToolRuntime(definition, {
    state: new StateStore(table, config.stateTtlSeconds, config.sessionTtlSeconds, new Quota(table, 'state handles', config.caps.handlesPerDay, DAY, 'pass the handles you have back instead of starting new ones')),
    log,
    requestStateKeys,
    requestStateTtlSeconds: config.requestStateTtlSeconds,
    cache: new ToolCache(definition.name, redis, log),
    bus,
    artifacts,
    offloadBytes: config.offloadBytes,
    toolTimeoutMs: config.toolTimeoutMs,
    pending,
    tasks,
    taskTimeoutMs: config.tasks.timeoutMs,
  });
}

/** The key that seals request state (MRTR): the configured one, else a random per-process key, with a warning. */
function requestStateKeyOf(config: Readonly<KitConfig>, log: KitLogger): string {
  if (config.requestStateKey) return config.requestStateKey;
  log.warn('MCP_REQUEST_STATE_KEY is not set: using a random per-process key, so MRTR retries must return to this process');
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
}

/** Says at start what runs without Redis: a warning where that weakens a deployed stage, else a note. */
function warnWithoutRedis(config: Readonly<KitConfig>, log: KitLogger, streamsOff: boolean, features: ReturnType<typeof describeFeatures>): void {
  const rateLimitOff = !config.rateLimit.explicit && config.stage !== 'local';
  const streams = streamsOff
    ? 'and notification streams (subscriptions/listen, GET) are refused: with one request per environment no event would reach them'
    : 'and open streams are capped per instance only';
  (rateLimitOff || streamsOff ? log.warn : log.info).call(log, `UPSTASH_REDIS_REST_URL is not set: ${rateLimitOff ? 'rate limiting is off, ' : ''}tool cache and events stay in this process, ${streams}`, { features });
}

interface AdmissionParts {
  table: Table;
  redis: Redis | undefined;
  artifacts: ArtifactStore;
  pending: PendingWork;
  log: KitLogger;
  requestStateKeys: readonly string[];
}

/** What the app admits, limits and records a request with: authentication, rate limit, stream slots, access log, metrics, health probes. */
function createAdmission(definition: ServerDefinition, config: Readonly<KitConfig>, { table, redis, artifacts, pending, log, requestStateKeys }: AdmissionParts) {
  const oauth = config.auth.oauth;
  // Each verifier's module loads on its first call: a cold start that serves no such credential never parses it.
  const authenticator = createAuthenticator({
    auth: config.auth,
    path: config.path,
    publicUrl: config.publicUrl,
    ...(oauth && { verifyJwt: loadedOnFirstCall(async () => (await import('./auth/jwt.ts')).createJwtVerifier(oauth)) }),
    ...(config.auth.methods.includes('apikey') && { verifyApiKey: loadedOnFirstCall(() => apiKeyVerifier(table, config.auth.apiKeyCacheSeconds)) }),
    ...(config.trustedGateways.length > 0 && {
      verifyAssertion: loadedOnFirstCall(async () =>
        (await import('./auth/gateway-assertion.ts')).createAssertionVerifier(config.trustedGateways, requestStateKeys, oauth?.clockSkewSeconds ?? 30),
      ),
    }),
  });
  const probes = {
    dynamodb: () => table.get('HEALTH#readiness', 'META'),
    s3: () => artifacts.probe(),
    ...(redis && { redis: () => redis.ping() }),
  };
  return {
    authenticator,
    probes,
    rateLimiter: config.rateLimit.enabled && redis ? createRateLimiter(redis, definition.name, { ...config.rateLimit, timeoutMs: config.redisTimeoutMs }, log) : undefined,
    accessLog: createAccessLog(config, definition.name),
    toolMetrics: config.metrics ? createToolMetrics(definition.name, config.stage, definition.tools.map((t) => t.name)) : undefined,
    streamSlots: redis
      ? createStreamSlots({ redis, server: definition.name, max: config.caps.serverStreams, perPrincipal: config.caps.openStreams, streamMaxSeconds: config.streamMaxSeconds, pending, log })
      : undefined,
  };
}

/**
 * The function `make` resolves to, made on the first call (its module imported then) and called
 * directly after: the code stays out of what a cold start parses, and the warm path is one call.
 */
function loadedOnFirstCall<A extends unknown[], R>(make: () => Promise<(...args: A) => Promise<R>>): (...args: A) => Promise<R> {
  let made: ((...args: A) => Promise<R>) | undefined;
  let making: Promise<(...args: A) => Promise<R>> | undefined;
  return (...args) => {
    if (made) return made(...args);
    // A failed import is not kept: the next call tries again.
    making ??= make()
      .then((f) => (made = f))
      .catch((err: unknown) => {
        making = undefined;
        throw err;
      });
    return making.then((f) => f(...args));
  };
}

/** The API key check, its store on the kit's table. */
async function apiKeyVerifier(table: Table, cacheSeconds: number) {
  const store = new (await import('./auth/api-keys.ts')).ApiKeyStore(table, { cacheSeconds });
  return (key: string) => store.verify(key);
}

/**
 * Lambda events that are not HTTP requests: a task's worker run, and Lambda's report that one
 * never succeeded (the on-failure destination). False for any other event.
 */
function createEventHandler(loadTasks: () => Promise<TaskService>, log: KitLogger) {
  return async function handleEvent(event: unknown): Promise<boolean> {
    if (isTaskEvent(event)) await (await loadTasks()).run(event.mcpKitTask.taskId, event.mcpKitTask.run);
    else if (isTaskFailure(event)) {
      const { requestContext, responsePayload } = event;
      const { taskId, nested } = failedTask(event);
      const why = responsePayload?.errorMessage ? `: ${responsePayload.errorType ?? 'Error'}: ${responsePayload.errorMessage}` : '';
      const failing = loadTasks().then((tasks) => tasks.fail(taskId, `The task's worker did not succeed (${requestContext.condition}${why})`));
      // A record about a record that could not be handled either ends here, logged: throwing
      // would have Lambda report it again, and the task reads as failed once it goes stale.
      if (nested) await failing.catch((error: unknown) => log.error('could not record that a task failed', { taskId, error: error instanceof Error ? error.message : String(error) }));
      else await failing;
    } else return false;
    return true;
  };
}

/** The kit's tracer: the adapter's exporter, else OTLP when an endpoint is set, else JSON lines on stdout. */
function createTracer(service: string, config: Readonly<KitConfig>, log: KitLogger, exporter?: SpanExporter): Tracer {
  const endpoint = config.otlpTracesEndpoint;
  return { service, exporter: exporter ?? (endpoint ? otlpExporter(endpoint, service, (m, d) => log.warn(m, d)) : jsonLinesExporter()) };
}

