// A real redis-server behind the local Upstash REST endpoint, for tests. Fails loudly when
// redis-server is missing (`npm test`'s pretest installs it where it can): a skipped Redis test
// would hide that.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type LocalRedis } from '../../local/redis.ts';

export interface TestRedis {
  url: string;
  token: string;
  env: { UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
  /** Stops redis-server and its REST endpoint, keeping the data. */
  stop(): Promise<void>;
  /** Starts it again on the same URL and data. */
  restart(): Promise<void>;
  /** Stops it and removes the data. */
  dispose(): Promise<void>;
}

/** The started redis-server, or a failure naming the command that provides it. */
export function redisRequired<T>(running: T | undefined): T {
  if (!running)
    throw new Error("redis-server is required for this test and is not on PATH: run `apt-get install redis-server` (npm test's pretest does it where it can)");
  return running;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-test-redis-'));
  const token = 'test-token';
  let running: LocalRedis | undefined = redisRequired(await startRedis({ dataDir, token }));
  const url = running.url;
  const port = Number(new URL(url).port);
  return {
    url,
    token,
    env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token },
    async stop() {
      await running?.stop();
      running = undefined;
    },
    async restart() {
      running = await startRedis({ dataDir, token, port });
    },
    async dispose() {
      await running?.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
