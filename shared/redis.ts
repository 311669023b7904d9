// The Redis client (Upstash REST, connectionless: fits Lambda) with a hard per-call timeout and
// at most one quick retry, so a slow or absent Redis costs a request milliseconds, not seconds.
// Callers decide what a failure means (cache miss, rate limit open or closed, events delayed).
// The client package loads on the first command, so a server without Redis never loads it.
import type { Redis } from '@upstash/redis';
import type { KitLogger } from './log.ts';
import { traced } from './trace.ts';

export interface RedisOptions {
  url: string;
  token: string;
  /** Per-call timeout. */
  timeoutMs: number;
}

/** Builders whose commands are recorded as they are chained and sent by `exec()`. */
const BUILDERS = new Set(['pipeline', 'multi']);

/**
 * A client that stands in for `Redis` until its first command: every method returns what the real
 * client's returns once it is loaded (builders record their chain and replay it on `exec()`).
 */
function deferred(load: () => Promise<Redis>): Redis {
  const builder = (kind: string) => {
    const chain: [string, unknown[]][] = [];
    const recorder: Record<string, unknown> = new Proxy(
      {},
      {
        get: (_target, step: string) =>
          step === 'exec'
            ? async () => {
                let real = ((await load()) as unknown as Record<string, () => Record<string, (...a: unknown[]) => unknown>>)[kind]!();
                for (const [name, args] of chain) real = real[name]!(...args) as typeof real;
                return traced(`Redis ${kind}`, 'client', { 'db.system': 'redis', 'db.operation.batch.size': chain.length }, () =>
                  (real as unknown as { exec(): Promise<unknown> }).exec(),
                );
              }
            : (...args: unknown[]) => (chain.push([step, args]), recorder),
      },
    );
    return recorder;
  };
  return new Proxy({} as Redis, {
    get: (_target, name: string) =>
      BUILDERS.has(name)
        ? () => builder(name)
        : (...args: unknown[]) =>
            traced(`Redis ${name}`, 'client', { 'db.system': 'redis' }, async () =>
              ((await load()) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args),
            ),
  });
}

export function createRedis({ url, token, timeoutMs }: RedisOptions): Redis {
  let loading: Promise<Redis> | undefined;
  return deferred(
    () =>
      (loading ??= import('@upstash/redis').then(
        ({ Redis }) =>
          new Redis({
            url,
            token,
            signal: () => AbortSignal.timeout(timeoutMs),
            retry: { retries: 1, backoff: () => 20 },
            enableTelemetry: false,
          }),
      )),
  );
}

/**
 * Logs a failure of one kind at most once per interval, so an outage does not flood the logs:
 * the first failure is logged at once, later ones are counted into the next line.
 */
export function throttledWarning(log: Pick<KitLogger, 'warn'>, message: string, intervalMs = 30_000) {
  let last = 0;
  let suppressed = 0;
  return (error: unknown) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    log.warn(message, { error: error instanceof Error ? error.message : String(error), suppressedSinceLast: suppressed });
    last = now;
    suppressed = 0;
  };
}
