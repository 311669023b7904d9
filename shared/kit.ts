// Assembles one MCP server from its definition and the configuration: stores, event bus, SDK
// instance factory and the Hono app. The adapters (functions/, local/) call this and nothing else.
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
import { ApiKeyStore } from './auth/api-keys.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createAssertionVerifier } from './auth/gateway-assertion.ts';
import { createJwtVerifier } from './auth/jwt.ts';
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
import { createTasks } from './tasks/setup.ts';
import { failedTask, isTaskEvent, isTaskFailure } from './tasks/dispatch.ts';
import { startTaskWorkers, type TaskWorkerOptions, type TaskWorkers } from './tasks/workers.ts';
import { backlogReporter } from './tasks/backlog.ts';
import { taskRuntimeOf } from './server/define.ts';
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

/** How long a stream's slot claim waits for Redis (at least; MCP_REDIS_TIMEOUT_MS when longer). */
const STREAM_CLAIM_TIMEOUT_MS = 2000;

/** Why notification streams are refused: on Lambda without Redis they would hold an environment for nothing. */
const STREAMS_NEED_REDIS =
  'on Lambda without Redis no change notification would reach the stream (each execution environment serves one request, and events stay in the one that raised them); list again when you need a fresh list. Streams need UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN set on the server';

export function createKit(definition: ServerDefinition, config: Readonly<KitConfig>, options: KitOptions = {}) {
  const log = options.log ?? createLogger(config, definition.name);
  const tracer = config.tracing ? createTracer(definition.name, config, log, options.traceExporter) : undefined;
  const table = new Table(async () => options.dynamo ?? createDynamoClient(config), config.tableName);
  const requestStateKeys = [requestStateKeyOf(config, log), ...config.previousRequestStateKeys];
  const redis = config.redis && createRedis({ ...config.redis, timeoutMs: config.redisTimeoutMs });
  const streamsOff = !redis && options.oneRequestPerInstance ? STREAMS_NEED_REDIS : undefined;
  const features = describeFeatures(config, Boolean(redis), Boolean(streamsOff));
  if (!redis) warnWithoutRedis(config, log, Boolean(streamsOff), features);
  const { bus, redisBus } = eventBusOf(definition, config, options.bus, redis || undefined, log);
  const artifacts = new ArtifactStore(() => createS3Client(config), config.bucketName, { defaultTtlSeconds: config.artifactTtlSeconds });
  const pending = definition.pending ?? new PendingWork();
  const relay = options.relay ?? createRelay(redis ? redisRelayStore(redis, definition.name) : tableRelayStore(table, definition.name), log);
  const { service: tasks, queue: taskQueue } = createTasks(config, {
    server: definition.name,
    version: definition.version,
    table,
    relay,
    artifacts,
    log,
    pending,
    tracer,
    execute: (run) => runtime.executeTask(run),
  });
  const runtime = createRuntime(definition, config, { table, redis: redis || undefined, log, requestStateKeys, bus, artifacts, pending, tasks });
  const oneRequestPerInstance = options.oneRequestPerInstance ?? false;
  const admission = createAdmission(definition, config, { table, redis: redis || undefined, artifacts, pending, log, requestStateKeys, oneRequestPerInstance });
  const sessionQuota = new Quota(table, 'sessions', config.caps.sessionsPerDay, DAY, 'reuse a session, end the ones you no longer use with DELETE');
  const sessions = new SessionStore(table, config.sessionTtlSeconds, config.sessionCacheMs, redis || undefined, sessionQuota);
  const taskWorkers: TaskWorkers[] = [];
  const openStreams = new OpenStreams(config.caps.instanceStreams);
  const { app, close } = createApp({
    ...admission,
    openStreams,
    config,
    runtime,
    tasks: runtime.hasTasks ? tasks : undefined,
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
    handleEvent: createEventHandler(tasks, log),
    /**
     * Runs queued container tasks in this process until `stop()`: for a long-lived process (a
     * container) beside its HTTP server. Does nothing when MCP_CONTAINER_TASKS is off or no tool
     * declares `runtime: 'container'` (such tasks then run where they are created). `close()`
     * stops them first (their runs finish for up to `drainMs`, the rest go back to the queue).
     */
    startTaskWorkers: taskWorkersStarter(definition, config, { tasks, taskQueue, log, started: taskWorkers }),
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
    settle: settler(pending, redisBus, tracer, log),
    async close() {
      await Promise.all(taskWorkers.map((w) => w.stop()));
      tasks.close();
      await close();
      await redisBus?.close();
    },
  };
}

/** Change events: the adapter's bus, else Redis streams when Redis is configured (cross-instance), else in-process. */
function eventBusOf(definition: ServerDefinition, config: Readonly<KitConfig>, given: ServerEventBus | undefined, redis: Redis | undefined, log: KitLogger) {
  const redisBus =
    !given && redis
      ? createRedisEventBus({ redis, stream: `mcp:events:${definition.name}`, pollMs: config.eventPollMs, pollMaxMs: config.eventPollMaxMs, log })
      : undefined;
  const bus = given ?? redisBus ?? new MemoryEventBus((error) => log.warn('event listener failed', { error: error.message }));
  return { bus, redisBus };
}

/** The kit's `settle`: waits at most `maxMs` for work a response did not wait for, then flushes events and spans. */
function settler(pending: PendingWork, redisBus: ReturnType<typeof createRedisEventBus> | undefined, tracer: Tracer | undefined, log: KitLogger) {
  return async (maxMs: number) => {
    const [done] = await Promise.all([pending.settled(maxMs), redisBus?.flush()]);
    await tracer?.exporter.flush?.();
    if (!done) log.warn('work still running when the invocation ends; it is frozen with the environment', { running: pending.size, waitedMs: maxMs });
  };
}

/** The kit's `startTaskWorkers`: starts container task workers and keeps them in `started` for close(). */
function taskWorkersStarter(
  definition: ServerDefinition,
  config: Readonly<KitConfig>,
  parts: { tasks: ReturnType<typeof createTasks>['service']; taskQueue: ReturnType<typeof createTasks>['queue']; log: KitLogger; started: TaskWorkers[] },
) {
  const { tasks, taskQueue, log, started } = parts;
  return (workerOptions?: TaskWorkerOptions): TaskWorkers => {
    const tools = new Set(definition.tools.filter((t) => taskRuntimeOf(t) === 'container').map((t) => t.name));
    if (!taskQueue || tools.size === 0) {
      log.info('task workers not started: MCP_CONTAINER_TASKS is off or no tool declares runtime: container');
      return { running: 0, stop: async () => {} };
    }
    // The backlog lines are written whatever MCP_METRICS says: the container tier's alarm and autoscaling read them.
    const workerParts = { tasks, queue: taskQueue, maxAttempts: config.tasks.maxAttempts, tools, log };
    const workers = startTaskWorkers(workerParts, { onPoll: backlogReporter(definition.name, config.stage), ...workerOptions });
    started.push(workers);
    return workers;
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
  tasks: ReturnType<typeof createTasks>['service'];
}

/** What runs tools: their state, cache, events, artifacts, limits and tasks. */
function createRuntime(
  definition: ServerDefinition,
  config: Readonly<KitConfig>,
  { table, redis, log, requestStateKeys, bus, artifacts, pending, tasks }: RuntimeParts,
) {
  return createToolRuntime(definition, {
    state: new StateStore(
      table,
      config.stateTtlSeconds,
      config.sessionTtlSeconds,
      new Quota(table, 'state handles', config.caps.handlesPerDay, DAY, 'pass the handles you have back instead of starting new ones'),
    ),
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
  (rateLimitOff || streamsOff ? log.warn : log.info).call(
    log,
    `UPSTASH_REDIS_REST_URL is not set: ${rateLimitOff ? 'rate limiting is off, ' : ''}tool cache and events stay in this process, ${streams}`,
    { features },
  );
}

interface AdmissionParts {
  table: Table;
  redis: Redis | undefined;
  artifacts: ArtifactStore;
  pending: PendingWork;
  log: KitLogger;
  requestStateKeys: readonly string[];
  /** KitOptions.oneRequestPerInstance: a count of streams kept in the instance never binds. */
  oneRequestPerInstance: boolean;
}

/** What the app admits, limits and records a request with: authentication, rate limit, stream slots, access log, metrics, health probes. */
function createAdmission(
  definition: ServerDefinition,
  config: Readonly<KitConfig>,
  { table, redis, artifacts, pending, log, requestStateKeys, oneRequestPerInstance }: AdmissionParts,
) {
  const apiKeys = config.auth.methods.includes('apikey') ? new ApiKeyStore(table, { cacheSeconds: config.auth.apiKeyCacheSeconds }) : undefined;
  const authenticator = createAuthenticator({
    auth: config.auth,
    path: config.path,
    publicUrl: config.publicUrl,
    ...(config.auth.oauth && { verifyJwt: createJwtVerifier(config.auth.oauth) }),
    ...(apiKeys && { verifyApiKey: (key: string) => apiKeys.verify(key) }),
    ...(config.trustedGateways.length > 0 && {
      verifyAssertion: createAssertionVerifier(config.trustedGateways, requestStateKeys, config.auth.oauth?.clockSkewSeconds ?? 30),
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
    rateLimiter:
      config.rateLimit.enabled && redis ? createRateLimiter(redis, definition.name, { ...config.rateLimit, timeoutMs: config.redisTimeoutMs }, log) : undefined,
    accessLog: createAccessLog(config, definition.name),
    toolMetrics: config.metrics
      ? createToolMetrics(
          definition.name,
          config.stage,
          definition.tools.map((t) => t.name),
        )
      : undefined,
    streamSlots: config.redis
      ? createStreamSlots({
          // A claim Redis does not answer refuses the stream on Lambda: a stream, open for minutes,
          // may wait longer for it than a call waits for the cache or the rate limit.
          redis: createRedis({ ...config.redis, timeoutMs: Math.max(config.redisTimeoutMs, STREAM_CLAIM_TIMEOUT_MS) }),
          server: definition.name,
          max: config.caps.serverStreams,
          perPrincipal: config.caps.openStreams,
          streamMaxSeconds: config.streamMaxSeconds,
          // A server process falls back on its own count, which binds there; on Lambda it would not.
          failOpen: config.caps.streamsFailOpen || !oneRequestPerInstance,
          pending,
          log,
        })
      : undefined,
  };
}

/**
 * Lambda events that are not HTTP requests: a task's worker run, and Lambda's report that one
 * never succeeded (the on-failure destination). False for any other event.
 */
function createEventHandler(tasks: ReturnType<typeof createTasks>['service'], log: KitLogger) {
  return async function handleEvent(event: unknown): Promise<boolean> {
    if (isTaskEvent(event)) await tasks.run(event.mcpKitTask.taskId, event.mcpKitTask.run);
    else if (isTaskFailure(event)) {
      const { requestContext, responsePayload } = event;
      const { taskId, nested } = failedTask(event);
      const why = responsePayload?.errorMessage ? `: ${responsePayload.errorType ?? 'Error'}: ${responsePayload.errorMessage}` : '';
      const failing = tasks.fail(taskId, `The task's worker did not succeed (${requestContext.condition}${why})`);
      // A record about a record that could not be handled either ends here, logged: throwing
      // would have Lambda report it again, and the task reads as failed once it goes stale.
      if (nested)
        await failing.catch((error: unknown) =>
          log.error('could not record that a task failed', { taskId, error: error instanceof Error ? error.message : String(error) }),
        );
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
