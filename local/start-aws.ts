// `npm run start:aws`: the deployed path on this machine. The server is bundled as the construct
// bundles it and runs in modelled Lambda execution environments (one request each, frozen
// between invocations) behind models of API Gateway REST and CloudFront, on the same embedded
// emulators `npm start` uses. What each model does, and what it does not, is in README.md.
// Usage: npm run start:aws [-- path/to/server.ts|handler.ts]   (default: functions/notes/handler.ts)
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../shared/config.ts';
import { basename, dirname } from 'node:path';
import { startAwsModel } from './aws/deployment.ts';
import { modelledEnvironment } from './aws/environment.ts';
import { LocalDataInUseError, randomSecret, startEmulators } from './emulators.ts';

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  return Number(raw);
}

async function main() {
  const entry = resolve(process.argv[2] ?? 'functions/notes/handler.ts');
  const env = process.env;
  const host = env.HOST ?? '127.0.0.1';
  const port = int(env, 'PORT', 3000);
  if (port > 65535) throw new ConfigError('PORT', `expected a port number, got "${env.PORT}"`);

  const concurrency = int(env, 'MCP_AWS_CONCURRENCY', 10);
  const emulators = await startEmulators(env);
  const environment = modelledEnvironment(basename(dirname(entry)), { ...env, ...emulators.env }, undefined, concurrency);
  environment.MCP_REQUEST_STATE_KEY ??= randomSecret();
  // What the data plane's origin secret holds when deployed: the value the modelled CloudFront sends.
  if (environment.MCP_ORIGIN_VERIFY === 'true') environment.MCP_ORIGIN_SECRET ??= randomSecret();
  const config = loadConfig(environment);
  await emulators.prepare(config);
  const model = await startAwsModel({
    entry,
    environment,
    stage: config.stage,
    mcpPath: config.path,
    port,
    host,
    concurrency,
    idleReclaimMs: int(env, 'MCP_AWS_IDLE_RECLAIM_SECONDS', 600) * 1000,
  });
  process.stdout.write(
    [
      '',
      `  MCP server is serving at ${model.url}  (modelled CloudFront → API Gateway → Lambda)`,
      `  API Gateway stage, bypassing CloudFront: ${model.apiUrl}${Object.keys(model.originHeaders).length ? '  (403 without CloudFront\'s origin header, as deployed)' : ''}`,
      `  code loaded at start: ${(model.bundleBytes / 1024).toFixed(0)} KiB (index.mjs and its static chunks); data: ${emulators.describe()}`,
      '',
      '  Connect a client:',
      `    npm run inspect -- ${model.url} --transport http --method tools/list`,
      `    npm run smoke -- --url ${model.url}`,
      `    npm run verify -- --url ${model.url} --api-url ${model.apiUrl}   (serving functions/echo: its tools are what verify calls)`,
      '',
    ].join('\n') + '\n',
  );

  const stop = async () => {
    await model.stop();
    await emulators.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  const known = err instanceof ConfigError ? `Configuration error: ${err.message}` : err instanceof LocalDataInUseError ? err.message : undefined;
  process.stderr.write(`${known ?? err?.stack ?? err}\n`);
  process.exit(1);
});
