// Embedded emulators for whatever endpoint the environment does not already point at: DynamoDB
// (dynalite), S3 (s3rver) and Redis (redis-server behind a local Upstash REST endpoint).
// `npm run emulators` runs only these and prints the variables that point servers at them, so
// several server processes can share one local data plane.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, type KitConfig } from '../shared/config.ts';
import { createDynamoClient } from '../shared/store/table.ts';
import { ensureTable, startDynamo } from './dynamo.ts';
import { startRedis } from './redis.ts';
import { startS3Emulator } from './s3.ts';

type Env = Record<string, string | undefined>;

/** Local data lives here (git-ignored); `MCP_LOCAL_DATA_DIR` moves it. */
const dataRoot = (env: Env) => resolve(env.MCP_LOCAL_DATA_DIR ?? '.local/data');

export interface RunningEmulators {
  /** Variables that point a server at the emulators started here. */
  env: Record<string, string>;
  /** Creates the table when the DynamoDB endpoint is an emulator (never on real AWS). */
  prepare(config: KitConfig): Promise<void>;
  describe(): string;
  stop(): Promise<void>;
}

/** A random secret for local use (Redis token, request-state key), base64url. */
export const randomSecret = (bytes = 32) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url');

export class LocalDataInUseError extends Error {
  override name = 'LocalDataInUseError';
}

/**
 * One process at a time may own the local data folder (the embedded databases lock their files);
 * a second one gets told what to do instead of a database error.
 */
async function claimDataDir(root: string): Promise<() => Promise<void>> {
  await mkdir(root, { recursive: true });
  const pidFile = join(root, 'owner.pid');
  const owner = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (owner && owner !== process.pid) {
    let alive = true;
    try {
      process.kill(owner, 0);
    } catch {
      alive = false;
    }
    if (alive) {
      throw new LocalDataInUseError(
        `local data in ${relative(process.cwd(), root)} is in use by process ${owner} (another npm start or npm run emulators). ` +
          'Stop it, or share its emulators: source .local/emulators.env && npm start',
      );
    }
  }
  await writeFile(pidFile, String(process.pid));
  return () => rm(pidFile, { force: true });
}

export async function startEmulators(env: Env): Promise<RunningEmulators> {
  const root = dataRoot(env);
  const out: Record<string, string> = {};
  const stops: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  const dir = async (name: string) => {
    const path = join(root, name);
    await mkdir(path, { recursive: true });
    return path;
  };

  const dynamoSet = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
  const s3Set = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (!dynamoSet || !s3Set || !env.UPSTASH_REDIS_REST_URL) stops.push(await claimDataDir(root));
  if (!dynamoSet) {
    const dynamo = await startDynamo({ dataDir: await dir('dynamodb') });
    out.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    stops.push(dynamo.stop);
    notes.push(`DynamoDB (dynalite) ${dynamo.endpoint}`);
  } else notes.push(`DynamoDB ${dynamoSet}`);

  if (!s3Set) {
    const s3 = await startS3Emulator({ dataDir: await dir('s3'), bucket: env.MCP_BUCKET_NAME ?? 'mcp-kit-artifacts' });
    out.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    stops.push(s3.stop);
    notes.push(`S3 (s3rver) ${s3.endpoint}`);
  } else notes.push(`S3 ${s3Set}`);

  if (!env.UPSTASH_REDIS_REST_URL) {
    const token = env.UPSTASH_REDIS_REST_TOKEN ?? randomSecret(24);
    const redis = await startRedis({ dataDir: await dir('redis'), token });
    if (redis) {
      out.UPSTASH_REDIS_REST_URL = redis.url;
      out.UPSTASH_REDIS_REST_TOKEN = redis.token;
      stops.push(redis.stop);
      notes.push(`Redis (redis-server via Upstash REST) ${redis.url}`);
    } else notes.push('Redis: redis-server not installed, using in-process cache and events');
  } else notes.push(`Redis ${env.UPSTASH_REDIS_REST_URL}`);

  // Emulators accept any credentials; the SDKs still want some to sign with.
  if (Object.keys(out).length && !env.AWS_ACCESS_KEY_ID) {
    out.AWS_ACCESS_KEY_ID = 'S3RVER';
    out.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  }
  out.AWS_REGION = env.AWS_REGION ?? 'us-east-1';

  return {
    env: out,
    async prepare(config) {
      if (config.dynamoEndpoint) await ensureTable(await createDynamoClient(config), config.tableName);
    },
    describe: () => notes.join('; '),
    async stop() {
      await Promise.allSettled(stops.map((s) => s()));
    },
  };
}

async function main() {
  const emulators = await startEmulators(process.env);
  // Servers sharing the emulators must also share the MRTR signing key.
  const env = { ...emulators.env, MCP_REQUEST_STATE_KEY: process.env.MCP_REQUEST_STATE_KEY ?? randomSecret() };
  await emulators.prepare(loadConfig({ ...process.env, ...env }));
  const lines = Object.entries(env).map(([k, v]) => `export ${k}=${v}`);
  const file = join(dataRoot(process.env), '..', 'emulators.env');
  await writeFile(file, `${lines.join('\n')}\n`);
  process.stdout.write(
    `# ${emulators.describe()}\n# Point servers at these emulators (PORT picks each server's port), e.g.\n#   source ${relative(process.cwd(), file)} && PORT=3001 npm start\n${lines.join('\n')}\n`,
  );
  const stop = async () => {
    await emulators.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
