// The Hono app for one MCP server: `GET /health`, and the MCP endpoint serving both protocol eras.
// Web-standard only: adapters (Lambda, Node) hand it a Request and relay its Response.
// The MCP endpoint is a chain of steps, each one concern in its own module: security headers, the
// access log, the Host/Origin guard, the one error mapper (failure.ts), authentication
// (admission.ts); then one decision on what serves the request (classify.ts, mcp-endpoint.ts).
import { Hono, type Context } from 'hono';
import type { AuthConfig, KitConfig } from '../config.ts';
import type { AccessLog } from '../log.ts';
import type { ToolMetrics } from '../metrics.ts';
import { PRM_PATH, protectedResourceMetadata } from '../auth/authenticate.ts';
import type { KitFeatures } from '../features.ts';
import { SERVER_ERROR } from '../protocol/errors.ts';
import { jsonRpcErrorResponse } from './errors.ts';
import { createHealth, type Probe } from './health.ts';
import { accessLog, type KitEnv } from './access-log.ts';
import { allowLists, allowOrigin, guard, preflight, verifyOrigin } from './guard.ts';
import { refuseOrigin } from './host-origin.ts';
import { secure, secureStep, securityHeaders } from './security-headers.ts';
import { chain, type Step } from './steps.ts';
import { errorMapper } from './failure.ts';
import { McpEndpoint, type EndpointOptions } from './mcp-endpoint.ts';
import { inRequestTrace } from './request-trace.ts';

export { isLegacy } from './classify.ts';

export interface AppOptions extends EndpointOptions {
  config: EndpointOptions['config'] &
    Pick<KitConfig, 'path' | 'stage' | 'allowedHosts' | 'allowedOrigins'> & {
      auth: AuthConfig;
      /** @default [] (no origin header check) */
      originSecrets?: readonly string[];
    };
  accessLog: AccessLog;
  /** Per-tool metrics on `tools/call` access lines; absent when metrics are off. */
  toolMetrics?: ToolMetrics;
  /** Reported by `GET /health`. */
  features: KitFeatures;
  /** Dependency checks for `GET /health?ready`. */
  probes: Record<string, Probe>;
  /** The adapter's trace header for the current invocation (Lambda's `_X_AMZN_TRACE_ID`). */
  ambientTrace?: () => string | undefined;
}

export function createApp(options: AppOptions) {
  const { config, log, authenticator } = options;
  const { definition } = options.runtime;
  const { onError, mapErrors, lateError } = errorMapper(log);
  const endpoint = new McpEndpoint(options, lateError);

  const app = new Hono();
  const originCheck = verifyOrigin(config.originSecrets ?? []);
  if (originCheck) app.use('*', originCheck);

  const health = createHealth({ server: definition, features: options.features, probes: options.probes, reports: definition.readiness, log });
  const detail = definition.readinessDetail;
  /** The detailed readiness sections, for a caller whose credentials carry the definition's admin scope. */
  async function detailFor(request: Request) {
    if (!detail || (!request.headers.has('authorization') && !request.headers.has('x-api-key'))) return undefined;
    // Bad credentials get the public answer: the route itself needs none.
    const principal = await authenticator.authenticate(request).catch(() => undefined);
    return principal?.scopes.includes(detail.scope) ? detail.reports : undefined;
  }
  app.get('/health', securityHeaders, async (c) => health(c, c.req.query('ready') === undefined ? undefined : await detailFor(c.req.raw)));

  const { origins } = allowLists(config);
  if (origins) app.options('*', securityHeaders, preflight(origins));
  if (config.auth.oauth) {
    // RFC 9728: at the root, and path-inserted for the MCP path.
    const metadata = (c: Context) => {
      const refused = origins && refuseOrigin(c.req.raw, origins);
      if (refused) return refused;
      const response = c.json(protectedResourceMetadata(authenticator, c.req.raw, config.auth, definition.name));
      return origins ? allowOrigin(c.req.raw, response) : response;
    };
    app.get(PRM_PATH, securityHeaders, metadata);
    app.get(`${PRM_PATH}${config.path}`, securityHeaders, metadata);
  }
  app.notFound((c) =>
    secure(
      jsonRpcErrorResponse(
        404,
        SERVER_ERROR,
        `Not Found: ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}; this server serves MCP at ${config.path} and its health at GET /health`,
      ),
    ),
  );
  app.onError(onError);

  // The MCP endpoint: one handler, its steps composed once (steps.ts); its request id, note and
  // caller typed as context variables.
  const steps: Step<KitEnv>[] = [secureStep, accessLog(options.accessLog, options.toolMetrics), guard(config), mapErrors, endpoint.admission.authenticate];
  const mcp = new Hono<KitEnv>();
  const serve = chain(steps, (c) => endpoint.serve(c));
  // The request's span (request-trace.ts) holds every step, so the access line carries its trace.
  mcp.all('/', inRequestTrace({ tracer: options.tracer, ambient: options.ambientTrace }, config.path, serve));
  app.route(config.path, mcp);

  return { app, close: endpoint.sdkLanes.close };
}
