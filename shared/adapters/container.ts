// The container adapter: the same kit app as the function, in one long-lived process (an ECS
// Fargate task, or the container model of `npm run start:aws`) that serves many requests at once,
// notification streams above all. Secrets resolve as on Lambda; on SIGTERM (ECS stopping the task)
// or SIGINT the process stops accepting, ends every open stream with its final result, waits a
// bounded time for calls in flight, and exits 0. While its task workers hold runs, the ECS task is
// protected from scale-in (ecs-protection.ts).
import type { Hono } from 'hono';
import { ConfigError, loadConfig } from '../config.ts';
import { createKit } from '../kit.ts';
import { resolveDefinition, type ServerModule } from '../server/define.ts';
import { ORIGIN_VERIFY_HEADER } from '../http/origin-verify.ts';
import { PROTECTION_CLEAR_AFTER_MS, ecsTaskProtection } from './ecs-protection.ts';
import { resolveSecrets } from './lambda.ts';
import { serveApp } from './node.ts';

type Env = Record<string, string | undefined>;

/** The longest a stopping task waits for calls in flight: inside ECS's default stop timeout (30 s) and the construct's (120 s), after which it is killed. */
const DRAIN_MS = 25_000;
/** How long past the protection's clear a worker that was busy for its bound stays idle: time for ECS to stop the task it waited on. */
const REST_MS = PROTECTION_CLEAR_AFTER_MS + 60_000;
/** A container listens here unless PORT says otherwise (the task definition's container port). */
const DEFAULT_PORT = 8080;

/**
 * The kit app, with `GET /health` let through the origin header check: the load balancer's health
 * check cannot carry CloudFront's header, and the same answer is public through CloudFront anyway.
 */
function withHealthCheck(app: Hono, secret: string | undefined): Hono {
  if (!secret) return app;
  return {
    fetch: (request: Request, ...rest: unknown[]) => {
      if (request.method !== 'GET' || new URL(request.url).pathname !== '/health' || request.headers.has(ORIGIN_VERIFY_HEADER))
        return app.fetch(request, ...(rest as []));
      const headers = new Headers(request.headers);
      headers.set(ORIGIN_VERIFY_HEADER, secret);
      return app.fetch(new Request(request, { headers }), ...(rest as []));
    },
  } as Hono;
}

/** Starts the server; resolves once it listens. The process then runs until SIGTERM/SIGINT. */
export async function runContainer(definition: ServerModule, env: Env = process.env): Promise<void> {
  const resolved = await resolveSecrets(env);
  const config = loadConfig(resolved);
  // Many requests at once: streams are fed in this process, and the stream caps bind here.
  if (env.PORT && !(/^\d{1,5}$/.test(env.PORT) && Number(env.PORT) <= 65535)) throw new ConfigError('PORT', `expected a port number, got "${env.PORT}"`);
  const kit = createKit(await resolveDefinition(definition, resolved), config);
  // Queued container tasks (MCP_CONTAINER_TASKS) run here, the ECS task protected from scale-in
  // while they do; SIGTERM stops them taking new runs first.
  const protection = env.ECS_AGENT_URI ? ecsTaskProtection(env.ECS_AGENT_URI, kit.log) : undefined;
  // Busy at most twice a run's limit without a break (the configured one, else the longest TTL), then idle till the protection clears.
  const runLimitMs = (config.tasks.containerTimeoutSeconds || config.tasks.maxTtlSeconds) * 1000;
  const workers = kit.startTaskWorkers(protection && { onBusy: protection.busy, busyLimitMs: 2 * runLimitMs, restMs: REST_MS });
  const port = env.PORT ? Number(env.PORT) : DEFAULT_PORT;
  const served = await serveApp(withHealthCheck(kit.app, config.originSecrets[0]), { port, host: env.HOST ?? '0.0.0.0' });
  kit.log.info('container serving', { url: served.url, streamsPerTask: config.caps.instanceStreams });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // No new task run from here on (the runs held finish or go back to the queue while calls drain).
    const workersStopped = workers.stop();
    const ended = kit.drainStreams();
    const cut = await served.drain(DRAIN_MS);
    await kit.settle(DRAIN_MS);
    await workersStopped;
    // The protection's last word (cleared, once the runs are gone) before the process exits.
    protection?.stop();
    await protection?.settled();
    await kit.close();
    kit.log.info('container stopped', { signal, streamsEnded: ended, requestsCut: cut });
    process.exit(0);
  };
  const onSignal = (signal: string) => () =>
    stop(signal).catch((error: unknown) => {
      kit.log.error('container stop failed', { signal, error: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    });
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));
}
