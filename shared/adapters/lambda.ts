/// <reference types="aws-lambda" />
// The Lambda adapter shared by every server under functions/: resolves secrets once per cold
// start (secrets.ts), builds the kit, and streams responses as Hono's `streamHandle` does (lambda-stream.ts;
// API Gateway REST with response streaming; buffered under SAM local, which cannot stream). Start-up work begins
// at import so it overlaps Lambda's init phase. An invocation ends only after the work its
// response did not wait for: Lambda freezes the environment as soon as the handler returns.
// With MCP_TRACING on, spans go to the X-Ray daemon Lambda runs under active tracing (xray.ts),
// or to an OTLP endpoint when one is configured; Lambda's own trace parents each request's span.
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { loadConfig } from '../config.ts';
import { INTERNAL_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from '../http/errors.ts';
import { createKit } from '../kit.ts';
import { resolveDefinition, type ServerModule } from '../server/define.ts';
import { isTaskEvent, isTaskFailure } from '../tasks/dispatch.ts';
import type { KitOptions } from '../kit.ts';
import { streamResponses } from './lambda-stream.ts';

type Env = Record<string, string | undefined>;

/** Longest an invocation waits, after its response, for work still running (shared/pending-work.ts). */
const SETTLE_MS = 5_000;

/**
 * What the kit traces with on Lambda: the invocation's `_X_AMZN_TRACE_ID` (read at each request:
 * the runtime sets it per invocation) and, unless OTLP is configured, the X-Ray daemon.
 */
async function lambdaTracing(env: Env): Promise<Pick<KitOptions, 'ambientTrace' | 'traceExporter'>> {
  const ambientTrace = () => process.env._X_AMZN_TRACE_ID;
  const daemon = env.AWS_XRAY_DAEMON_ADDRESS;
  const otlp = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!daemon || otlp || !/^(true|1)$/i.test(env.MCP_TRACING ?? '')) return { ambientTrace };
  const { xrayExporter } = await import('./xray.ts');
  return { ambientTrace, traceExporter: xrayExporter(daemon) };
}

/** The environment with its secrets filled in; secrets.ts (and node:crypto, which signs) loaded only when there are secrets to read. */
export const withSecrets = async (env: Env): Promise<Env> => (env.MCP_SECRETS_ARN?.trim() ? (await import('./secrets.ts')).resolveSecrets(env) : env);

export function lambdaHandler(server: ServerModule, env: Env = process.env) {
  let kit: ReturnType<typeof createKit> | undefined;
  // An environment serves one request at a time unless Lambda says otherwise (Managed Instances set
  // AWS_LAMBDA_MAX_CONCURRENCY): the kit then refuses notification streams it could not feed.
  const oneRequestPerInstance = !(Number(env.AWS_LAMBDA_MAX_CONCURRENCY) > 1);
  const start = () =>
    withSecrets(env).then(
      async (resolved) =>
        (kit = createKit(await resolveDefinition(server, resolved), loadConfig(resolved), { oneRequestPerInstance, ...(await lambdaTracing(resolved)) })),
    );
  let ready = start();
  // Keep an init failure from surfacing as an unhandled rejection before the first request.
  ready.catch(() => {});
  /** The kit, started; a failed start is retried by the next invocation, so a fixed secret heals warm instances. */
  async function started(): Promise<ReturnType<typeof createKit>> {
    if (kit) return kit;
    try {
      await ready.catch(() => (ready = start()));
      return kit!;
    } catch (err) {
      // Logged with its cause (the setting to fix); a caller learns only that the server is misconfigured.
      console.error(JSON.stringify({ level: 'ERROR', message: 'server start-up failed', error: err instanceof Error ? err.message : String(err) }));
      throw err;
    }
  }
  const app = {
    fetch: async (request: Request, bindings: unknown) => {
      let running;
      try {
        running = await started();
      } catch {
        return jsonRpcErrorResponse(503, INTERNAL_ERROR, 'Service Unavailable: the server could not start; its logs name the setting to fix', null, {
          'retry-after': '5',
        });
      }
      return running.app.fetch(request, bindings as never);
    },
  } as unknown as Hono;
  const settle = () => kit?.settle(SETTLE_MS).catch(() => {});
  // `sam local start-api` cannot relay a streamed response; SAM sets AWS_SAM_LOCAL.
  if (env.AWS_SAM_LOCAL === 'true') {
    const buffered = handle(app);
    return async (event: never, context: never) => {
      const result = await buffered(event, context);
      await settle();
      return result;
    };
  }
  const streamed = streamResponses(app);
  return awslambda.streamifyResponse(async (event, stream, context) => {
    // A task's worker run, or Lambda reporting one that never succeeded: not an HTTP request.
    // Thrown errors reach Lambda, which retries the run and then reports it to the destination.
    if (isTaskEvent(event) || isTaskFailure(event)) {
      await (await started()).handleEvent(event);
      stream.end();
    } else await streamed(event, stream, context);
    await settle();
  });
}
