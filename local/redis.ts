// Local Redis: a redis-server child on a loopback port, persisting (AOF) under dataDir, behind an
// Upstash REST endpoint so @upstash/redis runs unchanged. Absent redis-server, callers fall back.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';
import { RespConnection, RespPool } from './resp.ts';
import { createUpstashRestHandler } from './upstash-rest.ts';

export interface LocalRedisOptions {
  /** Folder for redis-server's append-only file and `redis.log`. */
  dataDir: string;
  /** Token the REST endpoint requires (`UPSTASH_REDIS_REST_TOKEN`). */
  token: string;
  /** Loopback port of the REST endpoint. @default 0 (an ephemeral port) */
  port?: number;
}

export interface LocalRedis {
  /** `http://127.0.0.1:<port>`, for `UPSTASH_REDIS_REST_URL`. */
  url: string;
  token: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Resolves once redis-server answers PING (it answers LOADING while replaying its AOF). */
async function waitUntilReady(child: ChildProcess, port: number, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited during start-up (code ${child.exitCode ?? child.signalCode}); see ${logFile}`);
    }
    const connection = await RespConnection.open(port).catch(() => undefined);
    const [pong] = (await connection?.send([['PING']]).catch(() => undefined)) ?? [];
    connection?.close();
    if (pong === 'PONG') return;
    await sleep(20);
  }
  throw new Error(`redis-server not ready after ${READY_TIMEOUT_MS} ms; see ${logFile}`);
}

/** Starts redis-server and its REST front, or returns undefined when redis-server is not on PATH. */
export async function startRedis({ dataDir, token, port = 0 }: LocalRedisOptions): Promise<LocalRedis | undefined> {
  const binary = findOnPath('redis-server');
  if (!binary) return undefined;
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const redisPort = await freePort();
  const child = spawn(
    binary,
    ['--bind', '127.0.0.1', '--port', String(redisPort), '--dir', dir, '--logfile', 'redis.log', '--appendonly', 'yes', '--save', '', '--daemonize', 'no'],
    { cwd: dir, stdio: 'ignore' },
  );
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Without this an exiting parent would leave redis-server running and holding the data folder.
  const stopOnExit = () => child.kill();
  process.once('exit', stopOnExit);
  const pool = new RespPool(redisPort);
  const server = createServer(createUpstashRestHandler({ token, redis: pool }));

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.off('exit', stopOnExit);
      const closed = new Promise((done) => server.close(done));
      server.closeAllConnections();
      pool.close();
      child.kill();
      await Promise.all([closed, child.pid === undefined ? undefined : exited]);
    })());

  try {
    await once(child, 'spawn');
    await waitUntilReady(child, redisPort, join(dir, 'redis.log'));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token, stop };
}
