// Test harness: real emulators and real HTTP servers on loopback, in this process or as child
// processes running `local/start.ts` exactly as `npm start` does.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { loadConfig } from '../../shared/config.ts';
import { createKit, type KitOptions } from '../../shared/kit.ts';
import type { ServerDefinition } from '../../shared/server/define.ts';
import { createDynamoClient } from '../../shared/store/table.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTable, startDynamo } from '../../local/dynamo.ts';
import { startS3Emulator } from '../../local/s3.ts';
import { serveApp } from '../../shared/adapters/node.ts';

export const QUIET = { LOG_LEVEL: 'ERROR' };

/** An in-memory dynalite with the kit table, for one test file. */
export async function startTestDynamo(tableName = 'mcp-kit') {
  const dynamo = await startDynamo();
  await ensureTable(await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), tableName);
  return dynamo;
}

/** s3rver in a temporary folder with the kit's default bucket, for one test file. */
export async function startTestS3(bucket = 'mcp-kit-artifacts') {
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-s3-'));
  const s3 = await startS3Emulator({ dataDir, bucket });
  return {
    endpoint: s3.endpoint,
    async stop() {
      await s3.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A kit server in this process, on an ephemeral loopback port. */
export async function startInProcess(definition: ServerDefinition, env: Record<string, string>, options: KitOptions = {}) {
  const config = loadConfig({ ...QUIET, AWS_REGION: 'us-east-1', ...env });
  const kit = createKit(definition, config, options);
  const served = await serveApp(kit.app, { port: 0, host: '127.0.0.1' });
  return {
    kit,
    url: `${served.url}${config.path}`,
    async stop() {
      await served.close();
      await kit.close();
    },
  };
}

export interface ChildServer {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** `npm start`'s entry in a child process; resolves once it prints the URL it serves. */
export async function startChild(env: Record<string, string>, entry = 'functions/notes/server.ts'): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', entry], {
    env: { ...process.env, ...QUIET, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
