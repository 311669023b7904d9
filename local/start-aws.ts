// `npm run start:aws`: the deployed path on this machine. The server is bundled as the construct
// bundles it and runs in modelled Lambda execution environments (one request each, frozen
// between invocations) behind models of API Gateway REST and CloudFront, on the same embedded
// emulators `npm start` uses. What each model does, and what it does not, is in README.md.
// Usage: npm run start:aws [-- path/to/server.ts|handler.ts]   (default: functions/notes/handler.ts)
import { ConfigError, loadConfig, type KitConfig } from '../shared/config.ts';
import { basename, dirname, join } from 'node:path';
import { startAwsModel, type AwsModel } from './aws/deployment.ts';
import { modelledEnvironment } from './aws/environment.ts';
import { developmentKey, devKeyFile, DEV_KEY_OWNER } from './dev-key.ts';
import { dataRoot, LocalDataInUseError, randomSecret, startEmulators } from './emulators.ts';
import { EntryError, existingEntry } from './entry.ts';
import { exitOnStartFailure } from './start-failure.ts';

type Env = Record<string, string | undefined>;

/** What the container tier sets for its tasks, unless the caller's environment does. */
const CONTAINER_STREAM_SETTINGS = ['MCP_GET_STREAMS', 'MCP_CONTAINER_STREAMS', 'MCP_MAX_OPEN_STREAMS', 'MCP_STREAMS_PER_PRINCIPAL'];

function bool(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  return Number(raw);
}

/** What guards the endpoint, said up front: the model runs what deploys, rate limit included. */
function protection(config: KitConfig, apiKey: string | undefined): string[] {
  const auth = apiKey
    ? `  auth: API keys (MCP_AUTH_MODE=${config.auth.methods.join(',')}); development key for principal apikey:${DEV_KEY_OWNER}: ${apiKey}`
    : config.auth.methods.length
      ? `  auth: ${config.auth.methods.join(', ')} (MCP_AUTH_MODE=${config.auth.methods.join(',')})`
      : '  auth: none, so every client here is the one principal "anonymous" (the deployed stacks take API keys: MCP_AUTH_MODE=apikey npm run start:aws)';
  const { rateLimit } = config;
  const limit = rateLimit.enabled
    ? `  rate limit: on as deployed, ${rateLimit.requests} requests per ${rateLimit.windowSeconds} s per principal${apiKey || config.auth.methods.length ? '' : ', which all clients here share as "anonymous"'}; ` +
      'MCP_RATE_LIMIT_REQUESTS=<n> raises it, MCP_RATE_LIMIT_ENABLED=false turns it off'
    : `  rate limit: off (${rateLimit.explicit ? 'MCP_RATE_LIMIT_ENABLED=false' : 'no Redis'}); deployed stages with Redis limit each principal to ${rateLimit.requests} requests per ${rateLimit.windowSeconds} s`;
  return [auth, limit];
}

/** Where streams (and container tasks) run: the banner's containers line. */
function containersLine(model: AwsModel, containerTasks: boolean): string {
  if (!model.containers)
    return '  containers: off; notification streams run on Lambda and hold an environment each (MCP_AWS_CONTAINERS=true moves them to a container model)';
  const tasks = containerTasks ? "; queued tasks of tools declared task: { runtime: 'container' } run on the containers (MCP_CONTAINER_TASKS=true)" : '';
  return `  containers: on (MCP_AWS_CONTAINERS=true), ${model.containers.service.tasks.length} task(s) behind the ALB at ${model.containers.albUrl}: notification streams (POST subscriptions/listen, GET with Mcp-Session-Id) go CloudFront → VPC origin → ALB → container (infra/edge/route-streams.js); everything else → API Gateway → Lambda${tasks}`;
}

/**
 * `npm run verify` calls the echo server's tools (wait, announce): printed as a command only when
 * echo is served, since against any other server its first check fails.
 */
function verifyLine(entry: string, model: AwsModel, apiKey: string | undefined): string {
  if (basename(dirname(entry)) !== 'echo')
    return "    npm run verify checks this path with the echo server's tools: npm run start:aws -- functions/echo/server.ts prints its command";
  return `    npm run verify -- --url ${model.url} --api-url ${model.apiUrl}${apiKey ? ` --api-key ${apiKey}` : ''}   (the echo server's tools are what verify calls)`;
}

/** A listen stream with curl: what the containers hold (its log line starts with [task N]). */
function listenCommand(url: string, apiKey: string | undefined): string {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'curl', version: '1' },
  };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: meta } });
  const headers = [
    ...(apiKey ? [`Authorization: Bearer ${apiKey}`] : []),
    'content-type: application/json',
    'accept: application/json, text/event-stream',
    'mcp-protocol-version: 2026-07-28',
    'mcp-method: subscriptions/listen',
  ];
  return `    curl -N ${url} ${headers.map((h) => `-H '${h}'`).join(' ')} -d '${body}'   (a listen stream, held by a container: its log line starts with [task N]; Ctrl-C ends it)`;
}

async function main() {
  const entry = existingEntry(process.argv[2], 'functions/notes/handler.ts', 'npm run start:aws');
  const env = process.env;
  const host = env.HOST ?? '127.0.0.1';
  const port = int(env, 'PORT', 3000);
  if (port > 65535) throw new ConfigError('PORT', `expected a port number, got "${env.PORT}"`);

  const concurrency = int(env, 'MCP_AWS_CONCURRENCY', 10);
  const tasks = int(env, 'MCP_AWS_CONTAINER_TASKS', 1);
  if (tasks < 1) throw new ConfigError('MCP_AWS_CONTAINER_TASKS', 'expected at least 1 task');
  // A stream setting of the caller's own wins on the tasks too, as on the function.
  const own = Object.fromEntries(CONTAINER_STREAM_SETTINGS.filter((name) => env[name]).map((name) => [name, env[name]!]));
  const containers = bool(env, 'MCP_AWS_CONTAINERS')
    ? { tasks, environment: own, ...(own.MCP_CONTAINER_STREAMS && { streamsPerTask: int(env, 'MCP_CONTAINER_STREAMS', 0) }) }
    : undefined;
  const emulators = await startEmulators(env);
  const environment = modelledEnvironment(basename(dirname(entry)), { ...env, ...emulators.env }, undefined, concurrency);
  // What the data plane's secrets hold when deployed; the model moves them there (local/aws/data-plane-secrets.ts)
  // and the function and containers read them at start through MCP_SECRETS_ARN.
  environment.MCP_REQUEST_STATE_KEY ??= randomSecret();
  if (environment.MCP_ORIGIN_VERIFY === 'true') environment.MCP_ORIGIN_SECRET ??= randomSecret();
  const config = loadConfig(environment);
  await emulators.prepare(config);
  const traceFile = join(dataRoot(env), '..', 'xray-segments.jsonl');
  const apiKey = config.auth.methods.includes('apikey') && config.dynamoEndpoint ? await developmentKey(config, devKeyFile(dataRoot(env))) : undefined;
  const model = await startAwsModel({
    entry,
    environment,
    stage: config.stage,
    mcpPath: config.path,
    port,
    host,
    concurrency,
    idleReclaimMs: int(env, 'MCP_AWS_IDLE_RECLAIM_SECONDS', 600) * 1000,
    ...(containers && { containers }),
    // As deployed (the construct's `tracing`): X-Ray segments, here appended to a file beside the data.
    tracing: { file: traceFile },
  });
  const stop = async () => {
    await model.stop();
    await emulators.stop();
    process.exit(0);
  };
  // Before the banner: whoever reads it may stop this process at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write(
    [
      '',
      `  MCP server is serving at ${model.url}  (modelled CloudFront → API Gateway → Lambda)`,
      `  API Gateway stage, bypassing CloudFront: ${model.apiUrl}${Object.keys(model.originHeaders).length ? "  (403 without CloudFront's origin header, as deployed)" : ''}`,
      `  code loaded at start: ${(model.bundleBytes / 1024).toFixed(0)} KiB (index.mjs and its static chunks); data: ${emulators.describe()}`,
      `  secrets: read at each cold start from a Secrets Manager model at ${model.secrets.secretsManager.endpoint} (MCP_SECRETS_ARN: the data plane's secret and the origin secret, SigV4 checked), as deployed`,
      containersLine(model, environment.MCP_CONTAINER_TASKS === 'true'),
      ...protection(config, apiKey),
      `  traces: X-Ray segments (API Gateway, Lambda, the kit's spans), a JSON line each, in ${traceFile}; MCP_TRACING=false turns the kit's off`,
      '',
      '  Connect a client:',
      `    npm run inspect -- ${model.url} --transport http${apiKey ? ` --header "Authorization: Bearer ${apiKey}"` : ''} --method tools/list`,
      `    npm run smoke -- --url ${model.url}${apiKey ? ` --api-key ${apiKey}` : ''}`,
      verifyLine(entry, model, apiKey),
      ...(model.containers ? [listenCommand(model.url, apiKey)] : []),
      '',
      '',
    ].join('\n'),
  );
}

main().catch((err) => exitOnStartFailure(err, [LocalDataInUseError, EntryError]));
