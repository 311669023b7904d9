// Embedded emulators for whatever endpoint the environment does not already point at: DynamoDB
// (dynalite), S3 (s3rver) and Redis (redis-server behind a local Upstash REST endpoint).
// `npm run emulators` runs only these and writes the variables that point servers at them, so
// several server processes can share one local data plane.
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type KitConfig } from '../shared/config.ts';
import { createDynamoClient } from '../shared/store/table.ts';
import { exitOnStartFailure } from './start-failure.ts';

type Env = Record<string, string | undefined>;

/** Local data lives here (git-ignored); `MCP_LOCAL_DATA_DIR` moves it. */
export const dataRoot = (env: Env) => resolve(env.MCP_LOCAL_DATA_DIR ?? '.local/data');

/** Where `npm run emulators` writes its variables, beside the data folder (`.local/emulators.env`). */
const envFile = (env: Env) => join(dataRoot(env), '..', 'emulators.env');

/** A path as a user would type it from here. */
export const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
};

export interface RunningEmulators {
  /** Variables that point a server at the emulators started here. */
  env: Record<string, string>;
  /** True when Redis is neither configured nor emulated: cache and events stay in each process. */
  redisOff: boolean;
  /** Creates the table when the DynamoDB endpoint is an emulator (never on real AWS). */
  prepare(config: KitConfig): Promise<void>;
  describe(): string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** The command that owns the data folder while running, named in the message a second one gets. */
  owner?: string;
  /** The owner shares its emulators through `emulators.env`, so a second one is told to use it. */
  shared?: boolean;
}

/** A random secret for local use (Redis token, request-state key), base64url. */
export const randomSecret = (bytes = 32) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url');

export class LocalDataInUseError extends Error {
  override name = 'LocalDataInUseError';
}

interface DataDirOwner {
  pid: number;
  command: string;
  shared: boolean;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(root: string, env: Env, owner: DataDirOwner): LocalDataInUseError {
  const by = `local data in ${shown(root)} is in use by ${owner.command} (process ${owner.pid}).`;
  if (owner.shared) return new LocalDataInUseError(`${by} Share its emulators: source ${shown(envFile(env))} && PORT=3001 npm start`);
  return new LocalDataInUseError(
    `${by} Stop it, or give this one its own folder and port (MCP_LOCAL_DATA_DIR=.local/data-2 PORT=3001 npm start), ` +
      'or run several servers on one data plane with npm run emulators (README, "Local emulation").',
  );
}

/**
 * One process at a time may own the local data folder (the embedded databases lock their files);
 * a second one gets told what to do instead of a database error. The claim is a hard link of a
 * complete file, so two processes starting together never both win or read a half-written one.
 */
async function claimDataDir(root: string, env: Env, owner: DataDirOwner): Promise<() => Promise<void>> {
  await mkdir(root, { recursive: true });
  const lock = join(root, 'owner.json');
  const draft = join(root, `owner.${process.pid}.json`);
  await writeFile(draft, JSON.stringify(owner));
  try {
    for (;;) {
      try {
        await link(draft, lock);
        return () => rm(lock, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = await readFile(lock, 'utf8')
        .then((text) => JSON.parse(text) as DataDirOwner)
        .catch(() => undefined);
      if (current && isAlive(current.pid)) throw inUse(root, env, current);
      // Left behind by a process that was killed before it could clean up.
      await rm(lock, { force: true });
    }
  } finally {
    await rm(draft, { force: true });
  }
}

function localRedisWanted(env: Env): boolean {
  const value = env.MCP_LOCAL_REDIS;
  if (value === undefined || value === '' || value === 'on') return true;
  if (value === 'off') return false;
  throw new ConfigError('MCP_LOCAL_REDIS', `expected "on" or "off", got "${value}"`);
}

export async function startEmulators(env: Env, options: EmulatorOptions = {}): Promise<RunningEmulators> {
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
  // MCP_LOCAL_REDIS=off comes from an emulators.env written without redis-server: the shared data
  // plane has no Redis, and this process must not claim the data folder to look for one.
  const redisWanted = !env.UPSTASH_REDIS_REST_URL && localRedisWanted(env);
  if (!dynamoSet || !s3Set || redisWanted) {
    const owner = { pid: process.pid, command: options.owner ?? shown(process.argv[1] ?? 'node'), shared: options.shared ?? false };
    stops.push(await claimDataDir(root, env, owner));
  }
  if (!dynamoSet) {
    // Each emulator is loaded only when started: a server on shared emulators (npm run dev's) starts sooner.
    const { startDynamo } = await import('./dynamo.ts');
    const dynamo = await startDynamo({ dataDir: await dir('dynamodb') });
    out.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    stops.push(dynamo.stop);
    notes.push(`DynamoDB (dynalite) ${dynamo.endpoint}`);
  } else notes.push(`DynamoDB ${dynamoSet}`);

  if (!s3Set) {
    const { startS3Emulator } = await import('./s3.ts');
    const s3 = await startS3Emulator({ dataDir: await dir('s3'), bucket: env.MCP_BUCKET_NAME ?? 'mcp-kit-artifacts' });
    out.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    stops.push(s3.stop);
    notes.push(`S3 (s3rver) ${s3.endpoint}`);
  } else notes.push(`S3 ${s3Set}`);

  let redisOff = false;
  if (env.UPSTASH_REDIS_REST_URL) notes.push(`Redis ${env.UPSTASH_REDIS_REST_URL}`);
  else if (!redisWanted) {
    redisOff = true;
    notes.push('Redis: off (MCP_LOCAL_REDIS=off): in-process cache and events');
  } else {
    const token = env.UPSTASH_REDIS_REST_TOKEN ?? randomSecret(24);
    const { startRedis } = await import('./redis.ts');
    const redis = await startRedis({ dataDir: await dir('redis'), token });
    if (redis) {
      out.UPSTASH_REDIS_REST_URL = redis.url;
      out.UPSTASH_REDIS_REST_TOKEN = redis.token;
      stops.push(redis.stop);
      notes.push(`Redis (redis-server via Upstash REST) ${redis.url}`);
    } else {
      redisOff = true;
      notes.push('Redis: off (redis-server not installed): in-process cache and events');
    }
  }

  // Emulators accept any credentials; the SDKs still want some to sign with.
  if (Object.keys(out).length && !env.AWS_ACCESS_KEY_ID) {
    out.AWS_ACCESS_KEY_ID = 'S3RVER';
    out.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  }
  out.AWS_REGION = env.AWS_REGION ?? 'us-east-1';

  return {
    env: out,
    redisOff,
    async prepare(config) {
      if (config.dynamoEndpoint) await (await import('./dynamo.ts')).ensureTable(await createDynamoClient(config), config.tableName);
    },
    describe: () => notes.join('; '),
    async stop() {
      await Promise.allSettled(stops.map((s) => s()));
    },
  };
}

async function main() {
  const emulators = await startEmulators(process.env, { owner: 'npm run emulators', shared: true });
  // Servers sharing the emulators must also share the MRTR signing key.
  const env: Record<string, string> = { ...emulators.env, MCP_REQUEST_STATE_KEY: process.env.MCP_REQUEST_STATE_KEY ?? randomSecret() };
  if (emulators.redisOff) env.MCP_LOCAL_REDIS = 'off';
  await emulators.prepare(loadConfig({ ...process.env, ...env }));
  const file = envFile(process.env);
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${v}`);
  const redisNote = emulators.redisOff ? ['# No Redis here: servers sharing these emulators keep cache and events in their own process.'] : [];
  const stop = async () => {
    // A stale file would point servers at ports nothing listens on any more.
    await rm(file, { force: true });
    await emulators.stop();
    process.exit(0);
  };
  // Before the file and the output: whoever reads them may stop this process at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await writeFile(file, `${[...redisNote, ...exports].join('\n')}\n`);
  process.stdout.write(
    [
      `# ${emulators.describe()}`,
      ...redisNote,
      "# Point servers at these emulators (PORT picks each server's port), e.g.",
      `#   source ${shown(file)} && PORT=3001 npm start`,
      ...exports,
      '',
    ].join('\n'),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => exitOnStartFailure(err, [LocalDataInUseError]));
}
