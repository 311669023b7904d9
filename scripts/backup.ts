// `npm run backup` and `npm run restore`: the kit table's items to a file and back, anywhere (the
// local emulators have no point-in-time recovery or export), and on AWS the table's own recovery:
// an on-demand backup, or a restore to a new table from point-in-time recovery or a backup, which
// a stage then serves from (`-c restoredTableName=…`, docs/deploy.md "Backups and restore").
// Configuration comes from the environment as for the server and `npm run keys` (MCP_TABLE_NAME,
// AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB); --table and --region override it.
// Exit codes: 0 done, 1 failed, 2 bad usage.
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  BatchWriteItemCommand,
  CreateBackupCommand,
  DescribeTableCommand,
  RestoreTableFromBackupCommand,
  RestoreTableToPointInTimeCommand,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ConfigError, loadConfig, type KitConfig } from '../shared/config.ts';
import { createDynamoClient } from '../shared/store/table.ts';
import { ensureTable } from '../local/dynamo.ts';

const USAGE = `usage:
  npm run backup -- [--out <file>]                       the table's live items to a file (a scan: fine for small tables)
  npm run backup -- --on-demand                          (AWS) an on-demand backup of the table, kept until deleted
  npm run restore -- --in <file> [--merge]               a file's items into the table (--table names another; on the
                                                         emulators a missing table is created)
  npm run restore -- --point-in-time <ISO time|latest> --target <new table>
  npm run restore -- --backup-arn <arn> --target <new table>
                                                         (AWS) a new table from point-in-time recovery or a backup, with
                                                         TTL and point-in-time recovery turned on; then point the stage
                                                         at it: npm run deploy -- -c restoredTableName=<new table>
options: --table <name> --region <region> (default: MCP_TABLE_NAME, AWS_REGION)`;

/** First line of a backup file; the items follow, one DynamoDB-JSON item a line. */
const FORMAT = 'serverless-mcp-kit/table-backup@1';
const BATCH = 25;

type Item = Record<string, AttributeValue>;

class BackupFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: 0 | 1 | 2,
  ) {
    super(message);
  }
}

const usage = (problem: string) => new BackupFailure(`${problem}\n\n${USAGE}`, 2);

type Command =
  | { name: 'backup-file'; out?: string }
  | { name: 'backup-on-demand' }
  | { name: 'restore-file'; in: string; merge: boolean }
  | { name: 'restore-aws'; target: string; pointInTime?: string; backupArn?: string };

function parseCommand(verb: string | undefined, argv: string[]): { command: Command; table?: string; region?: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        'on-demand': { type: 'boolean' },
        in: { type: 'string' },
        merge: { type: 'boolean' },
        'point-in-time': { type: 'string' },
        'backup-arn': { type: 'string' },
        target: { type: 'string' },
        table: { type: 'string' },
        region: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw usage((error as Error).message);
  }
  if (values.help) throw new BackupFailure(USAGE, 0);
  const where = { table: values.table, region: values.region };
  if (verb === 'backup') {
    if (values['on-demand'] && values.out) throw usage('--on-demand makes a backup in AWS, not a file: give --out or --on-demand');
    return { ...where, command: values['on-demand'] ? { name: 'backup-on-demand' } : { name: 'backup-file', out: values.out } };
  }
  if (verb !== 'restore') throw usage(`unknown command "${verb}"`);
  const sources = [values.in, values['point-in-time'], values['backup-arn']].filter((v) => v !== undefined);
  if (sources.length !== 1) throw usage('restore needs one source: --in <file>, --point-in-time <time|latest> or --backup-arn <arn>');
  if (values.in !== undefined) {
    if (values.target) throw usage('--target is for restores in AWS; a file restores into --table (default MCP_TABLE_NAME)');
    return { ...where, command: { name: 'restore-file', in: values.in, merge: values.merge ?? false } };
  }
  if (!values.target) throw usage('a restore in AWS makes a new table: name it with --target <new table>');
  const pointInTime = values['point-in-time'];
  if (pointInTime !== undefined && pointInTime !== 'latest' && Number.isNaN(Date.parse(pointInTime))) {
    throw usage(`--point-in-time: expected an ISO time (2026-12-07T10:00:00Z) or "latest", got "${pointInTime}"`);
  }
  return { ...where, command: { name: 'restore-aws', target: values.target, pointInTime, backupArn: values['backup-arn'] } };
}

const live = (item: Item, now: number) => !(item.expiresAt?.N !== undefined && Number(item.expiresAt.N) <= now);

async function backupToFile(client: DynamoDBClient, table: string, out: string): Promise<string> {
  await mkdir(dirname(out), { recursive: true });
  const file = createWriteStream(out, { mode: 0o600 });
  file.write(`${JSON.stringify({ format: FORMAT, table, exportedAt: new Date().toISOString() })}\n`);
  const now = Math.floor(Date.now() / 1000);
  let count = 0;
  let startKey: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (!live(item, now)) continue;
      if (!file.write(`${JSON.stringify(item)}\n`)) await new Promise<void>((drained) => file.once('drain', () => drained()));
      count++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  file.end();
  await finished(file);
  return `Backed up ${count} items of table "${table}" to ${out}. Restore: npm run restore -- --in ${out} [--table <table>]`;
}

async function* itemsIn(path: string): AsyncGenerator<Item> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let header = true;
  for await (const line of lines) {
    if (!line.trim()) continue;
    const value = JSON.parse(line) as Item & { format?: string };
    if (header) {
      if (value.format !== FORMAT) throw new BackupFailure(`${path} is not a backup made by npm run backup (its first line names no ${FORMAT})`, 1);
      header = false;
      continue;
    }
    yield value;
  }
  if (header) throw new BackupFailure(`${path} is empty: not a backup made by npm run backup`, 1);
}

async function writeBatch(client: DynamoDBClient, table: string, items: Item[]): Promise<void> {
  let requests: { PutRequest: { Item: Item } }[] | undefined = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; requests?.length; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
    const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
    requests = answer.UnprocessedItems?.[table] as typeof requests;
  }
}

async function restoreFromFile(client: DynamoDBClient, config: KitConfig, path: string, merge: boolean): Promise<string> {
  if (!existsSync(path)) throw new BackupFailure(`no such file: ${path} (npm run backup writes to .local/backups/ unless given --out)`, 1);
  const table = config.tableName;
  // The emulators make a missing table; on AWS a new table comes from a restore there, or from the stack.
  if (config.dynamoEndpoint) await ensureTable(client, table);
  const probe = await client.send(new ScanCommand({ TableName: table, Limit: 1 }));
  if (probe.Count && !merge) {
    throw new BackupFailure(
      `table "${table}" already holds items. Restore into a new table (--table ${table}-restored, then serve from it: MCP_TABLE_NAME=${table}-restored ` +
        "locally, -c restoredTableName=… on AWS), or pass --merge to write the backup's items over those with the same keys.",
      1,
    );
  }
  let count = 0;
  let batch: Item[] = [];
  for await (const item of itemsIn(path)) {
    batch.push(item);
    if (batch.length === BATCH) {
      await writeBatch(client, table, batch);
      count += batch.length;
      batch = [];
    }
  }
  if (batch.length) await writeBatch(client, table, batch);
  count += batch.length;
  return `Restored ${count} items from ${path} into table "${table}".`;
}

async function backupOnDemand(client: DynamoDBClient, table: string): Promise<string> {
  const name = `${table}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const { BackupDetails } = await client.send(new CreateBackupCommand({ TableName: table, BackupName: name }));
  return `Created on-demand backup ${BackupDetails?.BackupArn} of table "${table}". Restore: npm run restore -- --backup-arn ${BackupDetails?.BackupArn} --target <new table>`;
}

/** A restored table has neither TTL nor point-in-time recovery (AWS does not copy them): both are turned on here. */
async function restoreInAws(client: DynamoDBClient, table: string, command: Extract<Command, { name: 'restore-aws' }>): Promise<string> {
  const { target, pointInTime, backupArn } = command;
  if (backupArn) await client.send(new RestoreTableFromBackupCommand({ BackupArn: backupArn, TargetTableName: target }));
  else {
    await client.send(
      new RestoreTableToPointInTimeCommand({
        SourceTableName: table,
        TargetTableName: target,
        ...(pointInTime === 'latest' ? { UseLatestRestorableTime: true } : { RestoreDateTime: new Date(pointInTime!) }),
      }),
    );
  }
  console.error(`Restoring into table "${target}"; waiting until it is active (large tables take a while)…`);
  await waitUntilTableExists({ client, maxWaitTime: 6 * 3600, minDelay: 5 }, { TableName: target });
  await client.send(new UpdateTimeToLiveCommand({ TableName: target, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }));
  await client.send(new UpdateContinuousBackupsCommand({ TableName: target, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  const { Table } = await client.send(new DescribeTableCommand({ TableName: target }));
  return (
    `Restored table "${target}" (${Table?.ItemCount ?? '?'} items as DynamoDB last counted) from ${backupArn ?? `table "${table}" at ${pointInTime}`}, ` +
    'with TTL on expiresAt and point-in-time recovery on.\n' +
    `Serve the stage from it: npm run deploy -- -c stage=<stage> -c restoredTableName=${target}`
  );
}

function explain(error: unknown, config: KitConfig): BackupFailure {
  if (error instanceof BackupFailure) return error;
  let cause = error as Error;
  while (cause.cause instanceof Error) cause = cause.cause;
  const where = `table "${config.tableName}" ${config.dynamoEndpoint ? `at ${config.dynamoEndpoint}` : `in ${config.region}`}`;
  const hint = cause.name === 'ResourceNotFoundException' ? ' (pass --table, or set MCP_TABLE_NAME: the data-plane stack output TableName)' : '';
  return new BackupFailure(`${where}: ${cause.name}: ${cause.message}${hint}`, 1);
}

async function main(verb: string | undefined, argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommand>;
  let config: KitConfig;
  try {
    parsed = parseCommand(verb, argv);
    config = loadConfig({
      ...process.env,
      ...(parsed.table !== undefined && { MCP_TABLE_NAME: parsed.table }),
      ...(parsed.region !== undefined && { AWS_REGION: parsed.region }),
    });
  } catch (error) {
    if (error instanceof ConfigError) return report(new BackupFailure(`configuration error: ${error.message}`, 1));
    if (error instanceof BackupFailure) return report(error);
    throw error;
  }
  const { command } = parsed;
  const client = await createDynamoClient(config);
  try {
    const table = config.tableName;
    const done =
      command.name === 'backup-file'
        ? await backupToFile(client, table, command.out ?? `.local/backups/${table}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`)
        : command.name === 'backup-on-demand'
          ? await backupOnDemand(client, table)
          : command.name === 'restore-file'
            ? await restoreFromFile(client, config, command.in, command.merge)
            : await restoreInAws(client, table, command);
    console.log(done);
    return 0;
  } catch (error) {
    return report(explain(error, config));
  } finally {
    client.destroy();
  }
}

function report(failure: BackupFailure): number {
  if (failure.exitCode === 0) console.log(failure.message);
  else console.error(`${process.argv[2] ?? 'backup'}: ${failure.message}`);
  return failure.exitCode;
}

process.exitCode = await main(process.argv[2], process.argv.slice(3));
