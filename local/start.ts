// `npm start`: runs an MCP server locally on embedded emulators, no AWS account needed.
// Usage: npm start [-- path/to/server.ts]   (default: functions/notes/server.ts)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../shared/config.ts';
import { createKit } from '../shared/kit.ts';
import { resolveDefinition, type ServerModule } from '../shared/server/define.ts';
import { LocalDataInUseError, randomSecret, startEmulators, type RunningEmulators } from './emulators.ts';
import { serveApp } from './serve.ts';

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

class PortInUseError extends Error {}

async function serve(emulators: RunningEmulators, entry: string, host: string, port: number) {
  const env = { ...process.env, ...emulators.env };
  // One local process may sign MRTR state with a key of its own; servers sharing emulators get a
  // shared one from .local/emulators.env.
  env.MCP_REQUEST_STATE_KEY ??= randomSecret();
  // DNS-rebinding protection on loopback: only local Host and Origin values are accepted.
  if (LOOPBACK.includes(host)) {
    env.MCP_ALLOWED_HOSTS ??= 'localhost,127.0.0.1,[::1]';
    env.MCP_ALLOWED_ORIGINS ??= 'localhost,127.0.0.1,[::1]';
    // A local `npm run gateway` on the same key speaks for its callers here with no setup: its
    // assertions are signed with the key derived from MCP_REQUEST_STATE_KEY.
    env.MCP_TRUSTED_GATEWAYS ??= JSON.stringify({ gateway: { fromRequestStateKey: true } });
  }
  const config = loadConfig(env);
  await emulators.prepare(config);

  const definition = await resolveDefinition(((await import(pathToFileURL(entry).href)) as { default: ServerModule }).default, env);
  const kit = createKit(definition, config);
  const served = await serveApp(kit.app, { port, host }).catch(async (err) => {
    await kit.close();
    throw (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new PortInUseError(`${host}:${port} is in use: set PORT to another port (PORT=0 picks a free one)`)
      : err;
  });
  return { definition, url: `${served.url}${config.path}`, close: () => served.close().then(() => kit.close()) };
}

async function main() {
  const entry = resolve(process.argv[2] ?? 'functions/notes/server.ts');
  const host = process.env.HOST ?? '127.0.0.1';
  const port = process.env.PORT ? Number(process.env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT', `expected a port number, got "${process.env.PORT}"`);

  const emulators = await startEmulators(process.env, { owner: 'npm start' });
  // A failed start releases the data folder at once rather than leaving a claim to go stale.
  const server = await serve(emulators, entry, host, port).catch(async (err) => {
    await emulators.stop();
    throw err;
  });
  const { definition, url } = server;
  process.stdout.write(
    [
      '',
      `  MCP server "${definition.name}" is serving at ${url}`,
      `  data: ${emulators.describe()}`,
      '',
      '  Connect a client:',
      `    npm run inspect -- ${url} --transport http --method tools/list`,
      `    npm run smoke -- --url ${url}`,
      `    or in a client config: { "mcpServers": { "${definition.name}": { "type": "http", "url": "${url}" } } }`,
      '',
    ].join('\n') + '\n',
  );

  const stop = async () => {
    await server.close();
    await emulators.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  const known =
    err instanceof ConfigError ? `Configuration error: ${err.message}`
    : err instanceof LocalDataInUseError || err instanceof PortInUseError ? err.message
    : undefined;
  process.stderr.write(`${known ?? err?.stack ?? err}\n`);
  process.exit(1);
});
