// `npm run keys -- create|list|revoke`: manages API keys in the kit's table. Configuration comes
// from the environment exactly as for the server (`loadConfig`), so the same command works on the
// local emulators (`source .local/emulators.env`) and on AWS with the usual credentials;
// `--table` and `--region` override it, so a deployment's output can give one command to paste.
// `create` prints the key alone on stdout, once; everything meant for people goes to stderr, and
// so do the audit lines of `create` and `revoke` (`apikey.created`, `apikey.revoked`, actor
// `cli:<os user>@<host>`): this runs on an operator's machine, not where the server logs.
// Exit codes: 0 done, 1 failed (configuration, table, no such key), 2 bad usage.
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { AmbiguousApiKeyIdError, ApiKeyInputError, ApiKeyStore, apiKeyId, type ApiKeyRecord } from '../shared/auth/api-keys.ts';
import { API_KEY_PREFIX } from '../shared/principal.ts';
import { ConfigError, loadConfig, type KitConfig } from '../shared/config.ts';
import { createLogger } from '../shared/log.ts';
import { apiKeyPrincipalId } from '../shared/principal.ts';
import { Table, createDynamoClient } from '../shared/store/table.ts';

const USAGE = `usage: npm run keys -- <command> [options] [--table <name>] [--region <region>]

commands:
  create --principal <owner> [--scopes a,b] [--ttl-days N] [--name text]
                    mint a key for an owner (callers with it are the principal apikey:<owner>);
                    prints the key once, on stdout
  list              live keys: id, principal, scopes, name, created, expires
  revoke <id|key>   delete a key, by the id list shows or by the key itself

Configuration comes from the environment, as for the server: MCP_TABLE_NAME (default mcp-kit),
AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB for an emulator; --table and --region override the first two.
Locally:
  source .local/emulators.env && npm run keys -- list
On AWS, with your usual AWS credentials (the data-plane stack's TableName output):
  npm run keys -- list --table <TableName> --region <region>
Servers stop accepting a revoked key within MCP_APIKEY_CACHE_SECONDS (default 30, at most 60).`;

/** Without an endpoint the CLI talks to AWS; a user who meant the local server gets told how to reach it. */
const NO_ENDPOINT_HINT =
  'No AWS credentials, and no AWS_ENDPOINT_URL_DYNAMODB: this command went to AWS. For a deployed table, sign in to AWS first. ' +
  'For the table of a local server: MCP_AUTH_MODE=apikey npm start prints a development key and the command for more keys ' +
  '(AWS_ENDPOINT_URL_DYNAMODB=<its DynamoDB> npm run keys -- …); with npm run emulators, source .local/emulators.env first.';

/** A failure already explained to the user; carries the exit code. */
class KeysFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: 0 | 1 | 2,
  ) {
    super(message);
  }
}

const usage = (problem: string) => new KeysFailure(`${problem}\n\n${USAGE}`, 2);

type Command = (
  | { name: 'create'; principalId: string; scopes: string[]; ttlDays?: number; label?: string }
  | { name: 'list' }
  | { name: 'revoke'; target: string }
) & { table?: string; region?: string };

const CREATE_OPTIONS = ['principal', 'scopes', 'ttl-days', 'name'] as const;
/** Where each store input comes from on the command line, for error messages. */
const FLAG_OF: Record<ApiKeyInputError['field'], string> = {
  principalId: '--principal',
  scopes: '--scopes',
  ttlDays: '--ttl-days',
  name: '--name',
  idOrKey: 'revoke',
};

function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        principal: { type: 'string' },
        scopes: { type: 'string', multiple: true },
        'ttl-days': { type: 'string' },
        name: { type: 'string' },
        table: { type: 'string' },
        region: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new KeysFailure(USAGE, 0);
  const [name, ...rest] = positionals;
  if (name === undefined) throw usage('missing command');
  const where = { table: values.table, region: values.region };
  if (name !== 'create') {
    const misplaced = CREATE_OPTIONS.find((option) => values[option] !== undefined);
    if (misplaced) throw usage(`--${misplaced} belongs to create, not ${name}`);
  }
  switch (name) {
    case 'create': {
      if (rest.length) throw usage(`create takes options only, got ${rest.join(' ')}`);
      if (values.principal === undefined) throw usage('create needs --principal <owner>');
      const ttl = values['ttl-days'];
      if (ttl !== undefined && !/^\d+$/.test(ttl)) throw usage(`--ttl-days: expected a whole number of days, got "${ttl}"`);
      return {
        name,
        ...where,
        principalId: values.principal,
        scopes: (values.scopes ?? [])
          .flatMap((s) => s.split(','))
          .map((s) => s.trim())
          .filter(Boolean),
        ...(ttl !== undefined && { ttlDays: Number(ttl) }),
        ...(values.name !== undefined && { label: values.name }),
      };
    }
    case 'list':
      if (rest.length) throw usage(`list takes no arguments, got ${rest.join(' ')}`);
      return { name, ...where };
    case 'revoke':
      if (rest.length !== 1) throw usage('revoke needs exactly one key id or key');
      return { name, ...where, target: rest[0]! };
    default:
      throw usage(`unknown command "${name}"`);
  }
}

const when = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function table(records: ApiKeyRecord[]): string {
  const rows = [
    ['ID', 'PRINCIPAL', 'SCOPES', 'NAME', 'CREATED', 'EXPIRES'],
    ...records.map((r) => [
      r.id,
      apiKeyPrincipalId(r.principalId),
      r.scopes.join(',') || '-',
      r.name ?? '-',
      when(r.createdAt),
      r.expiresAt === undefined ? 'never' : when(r.expiresAt),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function run(command: Command, store: ApiKeyStore): Promise<void> {
  switch (command.name) {
    case 'create': {
      const { key, record } = await store.create({
        principalId: command.principalId,
        scopes: command.scopes,
        ttlDays: command.ttlDays,
        name: command.label,
      });
      process.stdout.write(`${key}\n`);
      const scopes = record.scopes.length ? `scopes ${record.scopes.join(' ')}` : 'no scopes';
      const expiry = record.expiresAt === undefined ? 'does not expire' : `expires ${when(record.expiresAt)}`;
      console.error(
        `Created API key ${record.id} for principal ${apiKeyPrincipalId(record.principalId)} (${scopes}; ${expiry}).\n` +
          'Store the key above now: it is not shown again and cannot be recovered, only its hash is kept.\n' +
          'Callers send it as "Authorization: Bearer <key>" or "x-api-key: <key>".',
      );
      return;
    }
    case 'list': {
      const records = await store.list();
      console.log(records.length ? table(records) : 'no API keys');
      return;
    }
    case 'revoke': {
      // Never echo a full key back to the terminal: name it by its id.
      const id = command.target.startsWith(API_KEY_PREFIX) ? apiKeyId(command.target.trim()) : command.target.trim().toLowerCase();
      if (!(await store.revoke(command.target))) throw new KeysFailure(`no live API key with id ${id}`, 1);
      console.log(`Revoked API key ${id}. Servers stop accepting it within their MCP_APIKEY_CACHE_SECONDS.`);
      return;
    }
  }
}

function explain(error: unknown, config: KitConfig): KeysFailure {
  if (error instanceof KeysFailure) return error;
  if (error instanceof ApiKeyInputError) return usage(`${FLAG_OF[error.field]}: ${error.problem}`);
  if (error instanceof AmbiguousApiKeyIdError) return new KeysFailure(error.message, 1);
  const where = `table "${config.tableName}" ${config.dynamoEndpoint ? `at ${config.dynamoEndpoint}` : `in ${config.region}`}`;
  // The table wraps AWS errors (DependencyUnavailableError): the innermost one says what is wrong.
  let cause = error as Error;
  while (cause.cause instanceof Error) cause = cause.cause;
  const { name, message } = cause;
  const hint =
    name === 'ResourceNotFoundException'
      ? ' (pass --table, or set MCP_TABLE_NAME, to the table of your deployment: the stack output TableName)'
      : name === 'CredentialsProviderError' && !config.dynamoEndpoint
        ? `\n${NO_ENDPOINT_HINT}`
        : '';
  return new KeysFailure(`${where}: ${name}: ${message}${hint}`, 1);
}

function report(failure: KeysFailure): number {
  if (failure.exitCode === 0) console.log(failure.message);
  else console.error(`keys: ${failure.message}`);
  return failure.exitCode;
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  let config: KitConfig;
  try {
    command = parseCommand(argv);
    config = loadConfig({
      ...process.env,
      ...(command.table !== undefined && { MCP_TABLE_NAME: command.table }),
      ...(command.region !== undefined && { AWS_REGION: command.region }),
    });
  } catch (error) {
    if (error instanceof ConfigError) return report(new KeysFailure(`configuration error: ${error.message}`, 1));
    if (error instanceof KeysFailure) return report(error);
    throw error;
  }
  const client = createDynamoClient(config);
  try {
    const log = createLogger(config, 'mcp-kit-keys', (line) => void process.stderr.write(line));
    const audit = { log, actor: `cli:${userInfo().username}@${hostname()}` };
    await run(command, new ApiKeyStore(new Table(() => client, config.tableName), { cacheSeconds: 0, audit }));
    return 0;
  } catch (error) {
    return report(explain(error, config));
  } finally {
    (await client).destroy();
  }
}

process.exitCode = await main(process.argv.slice(2));
