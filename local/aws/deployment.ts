// The deployed path, modelled on loopback: CloudFront (the URL clients use) → API Gateway REST
// (its own port, under /<stage>) → the Lambda model running the function bundle. Composes the
// three models with the construct's numbers; `npm run start:aws` and the tests start it here.
// With `canary`, two versions run behind the `live` alias (local/aws/alias.ts), as during a release.
// With `containers`, CloudFront's viewer-request function (infra/edge/route-streams.js, evaluated
// as is) sends notification streams to a second origin: the container tier (local/aws/containers.ts).
// Secrets are deployed as the construct deploys them (local/aws/data-plane-secrets.ts): the function
// and the containers read them at start from the Secrets Manager model, never from their environment;
// the containers sign with the task role's credentials from ECS's endpoint (local/aws/task-credentials.ts).
import { containerEnvironment, type ContainerEnvironmentOptions } from '../../infra/endpoint/settings.ts';
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AWS_LIMITS, CLOUDFRONT_ERROR_CACHING, PATH_DEFAULTS } from '../../infra/deployed-path.ts';
import { ConfigError } from '../../shared/config.ts';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import { createRestApi } from './api-gateway.ts';
import { buildFunction } from './build.ts';
import { createDistribution, loadViewerRequestFunction, type OriginResponseHandler, type ViewerResponseFunction } from './cloudfront.ts';
import { createContainerTier, type ContainerService } from './containers.ts';
import { deployDataPlaneSecrets } from './data-plane-secrets.ts';
import type { SecretsManagerModel } from './secrets-manager.ts';
import { startTaskCredentials } from './task-credentials.ts';
import { startInvokeApi, type InvokeApi, type InvokeApiOptions } from './invoke-api.ts';
import { LambdaAlias } from './alias.ts';
import { LambdaModel } from './lambda.ts';
import { XrayModel } from './xray.ts';

export const EDGE_FUNCTION = new URL('../../infra/edge/restore-www-authenticate.mjs', import.meta.url);
/** With containers: the viewer-request function that routes streams, and the origin-response function that answers for an absent container. */
export const ROUTE_STREAMS_FUNCTION = new URL('../../infra/edge/route-streams.js', import.meta.url);
export const CONTAINER_EDGE_FUNCTION = new URL('../../infra/edge/stream-unavailable.mjs', import.meta.url);
/** The container origin's id in the distribution (route-streams.js selects it). */
export const CONTAINER_ORIGIN_ID = 'containers';
export type ContainerOptions = ContainerEnvironmentOptions;

export interface AwsModelOptions {
  /** A Lambda entry (`handler.ts`) or a server definition (`server.ts`). */
  entry: string;
  /**
   * The function's environment: what the construct sets, plus local endpoints and secrets. The
   * secrets' values (the data plane's secret's and the origin secret's keys) move into the Secrets
   * Manager model; the function gets MCP_SECRETS_ARN instead.
   */
  environment: Record<string, string>;
  stage?: string;
  mcpPath?: string;
  /** CloudFront's port and host (the URL clients use). @default 0, 127.0.0.1 */
  port?: number;
  host?: string;
  /** Most execution environments at once. @default 10 */
  concurrency?: number;
  /** Idle environments are reclaimed after this. @default 10 minutes */
  idleReclaimMs?: number;
  timeoutSeconds?: number;
  memorySizeMb?: number;
  /** CloudFront origin response timeout. @default PATH_DEFAULTS.originReadTimeoutSeconds */
  originReadTimeoutMs?: number;
  /** API Gateway's idle cut for streams. @default AWS_LIMITS.restStreamIdleSeconds */
  streamIdleTimeoutMs?: number;
  /** Error caching TTL for every status the distribution sets. @default PATH_DEFAULTS.errorCachingSeconds (as deployed) */
  errorCachingSeconds?: number;
  /**
   * A distribution built wrong, one cause at a time (what `npm run verify` must catch): one that
   * buffers whole answers, or one without the origin header the function checks. @default {}
   */
  brokenCloudFront?: { bufferResponses?: boolean; omitOriginHeader?: boolean };
  /**
   * Edge functions on the distribution. @default the construct's: the origin-response function
   * that restores WWW-Authenticate
   */
  edge?: { originResponse?: OriginResponseHandler; viewerResponse?: ViewerResponseFunction };
  log?: (line: string) => void;
  /** Seeds Lambda's pick among idle environments. @default MCP_AWS_SEED, else a random one (logged) */
  seed?: number;
  /** The asynchronous invocation queue (task workers): how much faster its waits run, what share it delivers twice, throttling to inject. */
  asyncQueue?: Pick<InvokeApiOptions, 'timeScale' | 'duplicateShare' | 'throttledAttempts' | 'maxEventAgeSeconds'>;
  /**
   * A release being shifted in: version 2, from `entry` (default the same one) with `environment`
   * added, gets `weight` of the requests while version 1 (the options above) serves the rest; its
   * function errors roll it back at `rollbackOnErrors`. @default - one version, `$LATEST`
   */
  canary?: { entry?: string; environment?: Record<string, string>; weight: number; rollbackOnErrors?: number; promoteAfterMs?: number };
  /** The container tier for notification streams (MCP_AWS_CONTAINERS=true). @default - none: streams run on Lambda */
  containers?: ContainerOptions;
  /**
   * X-Ray as the construct turns it on (its `tracing` prop): API Gateway's and Lambda's segments
   * and a daemon stand-in the kit sends its spans to (local/aws/xray.ts), with `MCP_TRACING=true`
   * unless the environment says otherwise; `file` also gets each segment as a JSON line.
   * `false` turns all of it off. @default true
   */
  tracing?: boolean | { file?: string };
}

export interface AwsModel {
  /** The MCP URL as clients reach it (through the modelled CloudFront). */
  url: string;
  /** CloudFront's base URL. */
  baseUrl: string;
  /** The MCP URL on the modelled API Gateway stage, bypassing CloudFront. */
  apiUrl: string;
  /** What CloudFront adds to every origin request: the origin header, when the function checks it. */
  originHeaders: Record<string, string>;
  /** The Secrets Manager model the function and the containers read their secrets from, and the two secrets' ARNs. */
  secrets: { secretsManager: SecretsManagerModel; arns: { secret: string; originSecret: string } };
  /** The function; with `canary`, version 1 (the one the alias is on). */
  lambda: LambdaModel;
  /** With `canary`: version 2 and the alias shifting requests between the two. */
  release?: { lambda: LambdaModel; alias: LambdaAlias };
  /** The Lambda Invoke API the function reaches for asynchronous invocations (task workers). */
  invokeApi: InvokeApi;
  /** With tracing on: the segments API Gateway, Lambda and the function recorded. */
  xray?: XrayModel;
  bundleBytes: number;
  /** With `containers`: the ECS service model, its ALB's URL, and what its bundle loads at start. */
  containers?: { service: ContainerService; albUrl: string; bundleBytes: number };
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { address, port: bound, family } = server.address() as AddressInfo;
      resolve(`http://${family === 'IPv6' ? `[${address}]` : address}:${bound}`);
    });
  });
}

/** `MCP_AWS_SEED` when set, else a fresh seed. */
function seedFrom(raw: string | undefined): number {
  if (raw === undefined || raw === '') return randomInt(2 ** 31);
  if (!/^\d+$/.test(raw)) throw new ConfigError('MCP_AWS_SEED', `expected a whole number, got "${raw}"`);
  return Number(raw);
}

/** Version 2 of the function and the alias that shifts requests to it from version 1. */
async function startRelease(
  canary: NonNullable<AwsModelOptions['canary']>,
  functionOptions: Omit<ConstructorParameters<typeof LambdaModel>[0], 'bundle' | 'environment'>,
  primary: LambdaModel,
  environment: Record<string, string>,
  log: (line: string) => void,
): Promise<{ lambda: LambdaModel; alias: LambdaAlias }> {
  const bundle = canary.entry ? (await buildFunction(canary.entry)).bundle : primary.options.bundle;
  const lambda = new LambdaModel({ ...functionOptions, bundle, environment, functionVersion: '2' });
  const alias = new LambdaAlias({
    primary: { version: '1', lambda: primary },
    canary: { version: '2', lambda, weight: canary.weight },
    rollbackOnErrors: canary.rollbackOnErrors,
    promoteAfterMs: canary.promoteAfterMs,
    random: primary.random,
    log,
  });
  return { lambda, alias };
}

export async function startAwsModel(options: AwsModelOptions): Promise<AwsModel> {
  const stage = options.stage ?? 'dev';
  const mcpPath = options.mcpPath ?? '/mcp';
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const timeoutSeconds = options.timeoutSeconds ?? PATH_DEFAULTS.functionTimeoutSeconds;
  const built = await buildFunction(options.entry);
  // Filled in below with the URL clients use, as the construct sets it to the distribution's.
  const environment = { ...options.environment };
  const functionName = `mcp-local-${stage}`;
  const secrets = await deployDataPlaneSecrets(environment, functionName);
  const tracing = options.tracing ?? true;
  const xray = tracing ? await XrayModel.start(typeof tracing === 'object' ? tracing : {}) : undefined;
  if (xray) {
    environment.MCP_TRACING ??= 'true';
    environment.AWS_XRAY_DAEMON_ADDRESS = xray.address;
  }
  const functionOptions = {
    runtime: built.runtime,
    functionName,
    memoryMb: options.memorySizeMb ?? PATH_DEFAULTS.memorySizeMb,
    timeoutSeconds,
    concurrency: options.concurrency ?? 10,
    idleReclaimMs: options.idleReclaimMs ?? 600_000,
    initTimeoutMs: AWS_LIMITS.lambdaInitTimeoutSeconds * 1000,
    log,
    seed: options.seed ?? seedFrom(process.env.MCP_AWS_SEED),
    ...(xray && { xray }),
  };
  const lambda = new LambdaModel({ ...functionOptions, bundle: built.bundle, environment, ...(options.canary && { functionVersion: '1' }) });
  // Filled in last, from the first version's environment once it is complete.
  const releaseEnvironment: Record<string, string> = {};
  const release = options.canary && (await startRelease(options.canary, functionOptions, lambda, releaseEnvironment, log));
  const invoker = release?.alias ?? lambda;

  // Tasks hand work to an asynchronous invocation of the same function, through this endpoint.
  const invokeApi = await startInvokeApi({ lambda: invoker, log, random: lambda.random, ...options.asyncQueue });
  environment.AWS_ENDPOINT_URL_LAMBDA ??= invokeApi.url;

  const apiServer = createServer();
  const apiBase = await listen(apiServer, 0, '127.0.0.1');
  const apiHost = new URL(apiBase).host;
  apiServer.on(
    'request',
    createRestApi({
      lambda: invoker,
      stage,
      mcpPath,
      domainName: apiHost,
      idleTimeoutMs: options.streamIdleTimeoutMs ?? AWS_LIMITS.restStreamIdleSeconds * 1000,
      integrationTimeoutMs: Math.min(timeoutSeconds, AWS_LIMITS.restStreamMaxSeconds) * 1000,
      ...(xray && { xray }),
      log,
    }),
  );

  // The construct attaches the challenge-restoring function only when the endpoint has auth; with
  // containers, the one that also answers for an absent container, always.
  const withAuth = (environment.MCP_AUTH_MODE ?? 'none') !== 'none';
  const edgeFile = options.containers ? CONTAINER_EDGE_FUNCTION : withAuth ? EDGE_FUNCTION : undefined;
  const edge = options.edge ?? (edgeFile ? { originResponse: ((await import(edgeFile.href)) as { handler: OriginResponseHandler }).handler } : {});
  // Filled in once the function's environment is complete, before the tasks start.
  const tasksEnvironment: Record<string, string> = {};
  const tier = options.containers && (await createContainerTier(options.entry, tasksEnvironment, options.containers.tasks ?? 1, log));
  const ttl = options.errorCachingSeconds ?? PATH_DEFAULTS.errorCachingSeconds;
  // The construct's origin header: CloudFront reads MCP_ORIGIN_SECRET from the origin secret at deploy.
  const originHeaders: Record<string, string> = environment.MCP_ORIGIN_VERIFY === 'true' ? { [ORIGIN_VERIFY_HEADER]: secrets.originSecret } : {};
  const broken = options.brokenCloudFront ?? {};
  const cdnServer = createServer();
  cdnServer.on(
    'request',
    createDistribution({
      origin: `${apiBase}/${stage}`,
      originHost: apiHost,
      readTimeoutMs: options.originReadTimeoutMs ?? PATH_DEFAULTS.originReadTimeoutSeconds * 1000,
      errorCachingSeconds: Object.fromEntries(CLOUDFRONT_ERROR_CACHING.configurable.map((status) => [status, ttl])),
      edge,
      originHeaders: broken.omitOriginHeader ? {} : originHeaders,
      bufferResponses: broken.bufferResponses,
      ...(tier && {
        // A VPC origin: CloudFront → the private ALB, bypassing API Gateway.
        origins: { [CONTAINER_ORIGIN_ID]: { origin: tier.url, originHost: new URL(tier.url).host } },
        viewerRequest: await loadViewerRequestFunction(ROUTE_STREAMS_FUNCTION),
      }),
      log,
    }),
  );
  const baseUrl = await listen(cdnServer, options.port ?? 0, options.host ?? '127.0.0.1');
  // Environments start on first request, after this.
  environment.MCP_PUBLIC_URL ??= `${baseUrl}${mcpPath}`;
  Object.assign(releaseEnvironment, environment, options.canary?.environment);
  const taskCredentials = tier && (await startTaskCredentials(secrets.taskRole.credentials, secrets.taskRole.arn));
  if (tier) {
    // The task role's credentials come from ECS's endpoint, not the environment.
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _key, AWS_SESSION_TOKEN: _token, ...rest } = containerEnvironment(environment, options.containers!);
    Object.assign(tasksEnvironment, rest, taskCredentials!.environment);
    await tier.start().catch(async (error: unknown) => {
      await tier.stop();
      await Promise.all([lambda.stop(), release?.lambda.stop(), invokeApi.stop(), secrets.secretsManager.stop(), taskCredentials?.stop()]);
      cdnServer.close();
      apiServer.close();
      throw error;
    });
  }

  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `${baseUrl}${mcpPath}`,
    baseUrl,
    apiUrl: `${apiBase}/${stage}${mcpPath}`,
    originHeaders,
    secrets: { secretsManager: secrets.secretsManager, arns: secrets.arns },
    lambda,
    ...(release && { release }),
    bundleBytes: built.bytes,
    invokeApi,
    ...(tier && { containers: { service: tier.service, albUrl: tier.url, bundleBytes: tier.bundleBytes } }),
    ...(xray && { xray }),
    async stop() {
      await tier?.stop();
      await invokeApi.stop();
      release?.alias.stop();
      await Promise.all([lambda.stop(), release?.lambda.stop()]);
      await Promise.all([close(cdnServer), close(apiServer), secrets.secretsManager.stop(), taskCredentials?.stop()]);
      xray?.close();
    },
  };
}
