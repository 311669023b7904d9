// `npm run backup` and `npm run restore` as users run them (child processes), on the emulators:
// a session's notes backed up to a file come back in a new table that a server then serves the
// same session from; a table that holds items is not overwritten unless asked (--merge, which
// puts the backup's items back over later changes). On AWS the scripts call DynamoDB's own
// recovery; AWS itself is the one thing modelled, by a stand-in that records what it was asked.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';
import { cleanEnv, startProcess } from './processes.ts';

const TIMEOUT = { timeout: 60_000 };

async function script(verb: 'backup' | 'restore', args: string[], env: Record<string, string>) {
  const child = startProcess(process.execPath, ['--import', 'tsx', 'scripts/backup.ts', verb, ...args], { env: cleanEnv(env) });
  const code = await child.exited;
  return { code, output: child.output() };
}

interface Session {
  sessionId: string;
  protocolVersion: string;
}

async function connect(url: string, session?: Session) {
  const transport = new LegacyTransport(new URL(url), session && { sessionId: session.sessionId });
  const client = new LegacyClient({ name: 'backup-test', version: '1.0.0' });
  await client.connect(transport);
  if (session) transport.setProtocolVersion(session.protocolVersion);
  return { client, session: { sessionId: transport.sessionId!, protocolVersion: transport.protocolVersion ?? session!.protocolVersion } };
}

const listed = async (client: LegacyClient) => ((await client.callTool({ name: 'note_list', arguments: {} })).content as { text: string }[])[0]!.text;

describe('npm run backup / npm run restore on the emulators', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let folder: string;
  let env: Record<string, string>;

  before(async () => {
    dynamo = await startTestDynamo();
    env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' };
    server = await startInProcess(notes, env);
    folder = await mkdtemp(join(tmpdir(), 'mcp-kit-backup-'));
  });
  after(async () => {
    await server?.stop();
    await dynamo?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  test('round trip: a backup restored into a new table serves the same session and notes', TIMEOUT, async () => {
    const { client, session } = await connect(server.url);
    await client.callTool({ name: 'note_add', arguments: { text: 'kept by the backup' } });
    const file = join(folder, 'table.jsonl');
    const backup = await script('backup', ['--out', file], env);
    assert.equal(backup.code, 0, backup.output);
    assert.match(backup.output, new RegExp(`Backed up \\d+ items of table "mcp-kit" to ${file}\\. Restore: npm run restore -- --in ${file}`));
    assert.match((await readFile(file, 'utf8')).split('\n')[0]!, /"format":"serverless-mcp-kit\/table-backup@1"/);

    // Changed after the backup: the restore must not bring this back.
    await client.callTool({ name: 'note_add', arguments: { text: 'written after the backup' } });
    await client.close();

    const restore = await script('restore', ['--in', file, '--table', 'mcp-kit-restored'], env);
    assert.equal(restore.code, 0, restore.output);
    assert.match(restore.output, /Restored \d+ items from .* into table "mcp-kit-restored"\./);

    const restored = await startInProcess(notes, { ...env, MCP_TABLE_NAME: 'mcp-kit-restored' });
    try {
      const resumed = await connect(restored.url, session);
      assert.equal(await listed(resumed.client), '1. kept by the backup');
      await resumed.client.close();
    } finally {
      await restored.stop();
    }
  });

  test('refuses to write into a table that holds items unless --merge, which puts the backup back over later changes', TIMEOUT, async () => {
    const { client, session } = await connect(server.url);
    await client.callTool({ name: 'note_add', arguments: { text: 'first' } });
    const file = join(folder, 'merge.jsonl');
    assert.equal((await script('backup', ['--out', file], env)).code, 0);
    await client.callTool({ name: 'note_add', arguments: { text: 'second' } });
    await client.close();

    const refused = await script('restore', ['--in', file], env);
    assert.equal(refused.code, 1);
    assert.match(
      refused.output,
      /restore: table "mcp-kit" already holds items\. Restore into a new table \(--table mcp-kit-restored, then serve from it: MCP_TABLE_NAME=mcp-kit-restored locally, -c restoredTableName=… on AWS\), or pass --merge/,
    );

    const merged = await script('restore', ['--in', file, '--merge'], env);
    assert.equal(merged.code, 0, merged.output);
    // A new server: the first one's session cache may hold the later state for a moment.
    const fresh = await startInProcess(notes, env);
    try {
      const resumed = await connect(fresh.url, session);
      assert.equal(await listed(resumed.client), '1. first');
      await resumed.client.close();
    } finally {
      await fresh.stop();
    }
  });

  test('bad input gets a message and exit code, not a stack trace', TIMEOUT, async () => {
    const missing = await script('restore', ['--in', join(folder, 'nope.jsonl')], env);
    assert.equal(missing.code, 1);
    assert.match(missing.output, /^restore: no such file: .*nope\.jsonl \(npm run backup writes to \.local\/backups\/ unless given --out\)\n$/);
    const noSource = await script('restore', [], env);
    assert.equal(noSource.code, 2);
    assert.match(noSource.output, /restore needs one source: --in <file>, --point-in-time <time\|latest> or --backup-arn <arn>/);
    const badTime = await script('restore', ['--point-in-time', 'yesterday', '--target', 'x'], env);
    assert.equal(badTime.code, 2);
    assert.match(badTime.output, /--point-in-time: expected an ISO time \(2026-12-07T10:00:00Z\) or "latest", got "yesterday"/);
    const noTarget = await script('restore', ['--point-in-time', 'latest'], env);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.output, /a restore in AWS makes a new table: name it with --target <new table>/);
  });
});

/** DynamoDB's control plane as far as the scripts use it, recording each call (target, body). */
async function standInForAws(): Promise<{ endpoint: string; calls: [string, Record<string, unknown>][]; server: Server }> {
  const calls: [string, Record<string, unknown>][] = [];
  const answers: Record<string, unknown> = {
    RestoreTableToPointInTime: { TableDescription: { TableStatus: 'CREATING' } },
    RestoreTableFromBackup: { TableDescription: { TableStatus: 'CREATING' } },
    DescribeTable: { Table: { TableName: 'restored', TableStatus: 'ACTIVE', ItemCount: 42 } },
    UpdateTimeToLive: { TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } },
    UpdateContinuousBackups: { ContinuousBackupsDescription: { ContinuousBackupsStatus: 'ENABLED' } },
    CreateBackup: {
      BackupDetails: { BackupArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/mcp-kit/backup/01', BackupName: 'b', BackupStatus: 'CREATING' },
    },
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']).split('.')[1]!;
      calls.push([target, JSON.parse(body) as Record<string, unknown>]);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(answers[target] ?? {}));
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls, server };
}

test('on AWS: point-in-time and backup restores make a new table with TTL and recovery on, and say how to serve from it', TIMEOUT, async () => {
  const aws = await standInForAws();
  try {
    const env = { AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint, AWS_REGION: 'eu-west-1' };
    const pitr = await script('restore', ['--point-in-time', '2026-12-07T10:00:00Z', '--target', 'mcp-kit-restored', '--table', 'McpKit-dev-Table'], env);
    assert.equal(pitr.code, 0, pitr.output);
    assert.match(pitr.output, /Serve the stage from it: npm run deploy -- -c stage=<stage> -c restoredTableName=mcp-kit-restored/);
    assert.deepEqual(
      aws.calls.map(([target]) => target).filter((t, i, all) => all.indexOf(t) === i),
      ['RestoreTableToPointInTime', 'DescribeTable', 'UpdateTimeToLive', 'UpdateContinuousBackups'],
    );
    assert.deepEqual(aws.calls[0]![1], {
      SourceTableName: 'McpKit-dev-Table',
      TargetTableName: 'mcp-kit-restored',
      RestoreDateTime: Date.parse('2026-12-07T10:00:00Z') / 1000,
    });
    assert.deepEqual(aws.calls.find(([t]) => t === 'UpdateTimeToLive')![1], {
      TableName: 'mcp-kit-restored',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    assert.deepEqual(aws.calls.find(([t]) => t === 'UpdateContinuousBackups')![1], {
      TableName: 'mcp-kit-restored',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });

    aws.calls.length = 0;
    const onDemand = await script('backup', ['--on-demand'], env);
    assert.equal(onDemand.code, 0, onDemand.output);
    assert.equal(aws.calls[0]![0], 'CreateBackup');
    assert.match(String((aws.calls[0]![1] as Record<string, unknown>).BackupName), /^mcp-kit-\d{4}-\d\d-\d\dT/);
    const arn = /--backup-arn (\S+)/.exec(onDemand.output)![1]!;
    const fromBackup = await script('restore', ['--backup-arn', arn, '--target', 'mcp-kit-from-backup'], env);
    assert.equal(fromBackup.code, 0, fromBackup.output);
    assert.deepEqual(aws.calls.find(([t]) => t === 'RestoreTableFromBackup')![1], { BackupArn: arn, TargetTableName: 'mcp-kit-from-backup' });
  } finally {
    aws.server.close();
  }
});
