// `npm start`: runs an MCP server locally on embedded emulators, no AWS account needed.
// Usage: npm start [-- path/to/server.ts]   (default: functions/notes/server.ts)
// Under `npm run dev` (local/dev.ts) this file runs as a standby child: it loads the kit, waits
// for the word to serve (an IPC message naming what changed, which shortens the banner to one
// line) and is replaced on the next change; the emulators are the parent's, given in the environment.
import { ConfigError, loadConfig, type KitConfig } from '../shared/config.ts';
import { createKit } from '../shared/kit.ts';
import { resolveDefinition } from '../shared/server/define.ts';
import { developmentKey, devKeyFile, DEV_KEY_OWNER } from './dev-key.ts';
import { dataRoot, LocalDataInUseError, randomSecret, shown, startEmulators, type RunningEmulators } from './emulators.ts';
import { EntryError, loadEntry, resolveEntry } from './entry.ts';
import { exitOnStartFailure } from './start-failure.ts';
import { serveApp } from '../shared/adapters/node.ts';
import { VARIABLES } from '../shared/config/variables.ts';

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

class PortInUseError extends Error {}

/** The command that runs this file, as messages name it. */
const command = () => (devParent ? 'npm run dev' : 'npm start');

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

  const definition = await resolveDefinition(await loadEntry(entry, command()), env);
  const apiKey = await banneredKey(config, env);
  const kit = createKit(definition, config);
  const served = await serveApp(kit.app, { port, host, reusePort: devParent }).catch(async (err) => {
    await kit.close();
    throw (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new PortInUseError(`${host}:${port} is in use: set PORT to another port (PORT=0 picks a free one)`)
      : err;
  });
  return {
    definition,
    config,
    apiKey,
    keyFile: shown(devKeyFile(dataRoot(env))),
    url: `${served.url}${config.path}`,
    close: () => served.close().then(() => kit.close()),
  };
}

/**
 * With API keys on an emulated table, a development key for the banner's commands; none on real
 * AWS, where keys are made on purpose with `npm run keys`.
 */
async function banneredKey(config: KitConfig, env: Record<string, string | undefined>): Promise<string | undefined> {
  if (!config.auth.methods.includes('apikey') || !config.dynamoEndpoint) return undefined;
  return developmentKey(config, devKeyFile(dataRoot(env)));
}

function banner(server: Awaited<ReturnType<typeof serve>>, emulators: RunningEmulators): string[] {
  const { definition, url, apiKey, keyFile, config } = server;
  const auth = apiKey ? ` --header "Authorization: Bearer ${apiKey}"` : '';
  const keyLines = apiKey
    ? [
        `  API keys are on (MCP_AUTH_MODE=${config.auth.methods.join(',')}): development key for principal apikey:${DEV_KEY_OWNER}, kept in ${keyFile} for the next start:`,
        `    ${apiKey}`,
        `  More keys for this table: AWS_ENDPOINT_URL_DYNAMODB=${config.dynamoEndpoint} npm run keys -- create --principal <owner>`,
        '',
      ]
    : [];
  return [
    '',
    `  MCP server "${definition.name}" is serving at ${url}`,
    `  data: ${emulators.describe()}`,
    '',
    ...keyLines,
    '  Connect a client:',
    `    npm run inspect -- ${url} --transport http${auth} --method tools/list`,
    `    npm run smoke -- --url ${url}${apiKey ? ` --api-key ${apiKey}` : ''}`,
    `    or in a client config: { "mcpServers": { "${definition.name}": { "type": "http", "url": "${url}"${apiKey ? `, "headers": { "Authorization": "Bearer ${apiKey}" }` : ''} } } }`,
    '',
  ];
}

async function main(reloaded: string | undefined) {
  const host = process.env.HOST ?? VARIABLES.HOST.default;
  const port = process.env.PORT ? Number(process.env.PORT) : VARIABLES.PORT.default;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT', `expected a port number, got "${process.env.PORT}"`);
  const entry = resolveEntry(process.argv[2], command());

  const emulators = await startEmulators(process.env, { owner: 'npm start' });
  // A failed start releases the data folder at once rather than leaving a claim to go stale.
  const server = await serve(emulators, entry, host, port).catch(async (err) => {
    await emulators.stop();
    throw err;
  });
  const stop = async () => {
    await server.close();
    await emulators.stop();
    process.exit(0);
  };
  // Before the banner: whoever reads it may stop this process at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const lines = reloaded === undefined ? banner(server, emulators) : [`reloaded (${reloaded}): "${server.definition.name}" serving at ${server.url}`];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (devParent) process.send!({ serving: server.url });
}

const run = (reloaded: string | undefined) => main(reloaded).catch((err) => exitOnStartFailure(err, [LocalDataInUseError, PortInUseError, EntryError]));

/** Started by `npm run dev` with an IPC channel: a standby until told to serve. */
const devParent = process.env.MCP_DEV_STANDBY === '1' && process.send !== undefined;
if (devParent) {
  // What the first requests load lazily, loaded while nothing waits for it.
  await Promise.all([import('@modelcontextprotocol/server'), import('@aws-sdk/client-dynamodb'), import('@upstash/redis')]);
  process.once('message', (go: { reloaded?: string }) => void run(go.reloaded));
  // The parent is gone (killed, say): nothing will stop this one otherwise.
  process.once('disconnect', () => process.exit(0));
  process.send!({ standby: true });
} else void run(undefined);
