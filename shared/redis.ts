// The Redis client (Upstash REST, connectionless: fits Lambda) with a hard per-call timeout and
// at most one quick retry, so a slow or absent Redis costs a request milliseconds, not seconds.
// Callers decide what a failure means (cache miss, rate limit open or closed, events delayed).
import { Redis } from '@upstash/redis';
import type { KitLogger } from './log.ts';

export interface RedisOptions {
  url: string;
  token: string;
  /** Per-call timeout. */
  timeoutMs: number;
}

export function createRedis({ url, token, timeoutMs }: RedisOptions): Redis {
  return new Redis({
    url,
    token,
    signal: () => AbortSignal.timeout(timeoutMs),
    retry: { retries: 1, backoff: () => 20 },
    enableTelemetry: false,
  });
}

/**
 * Logs a failure of one kind at most once per interval, so an outage does not flood the logs:
 * the first failure is logged at once, later ones are counted into the next line.
 */
export function throttledWarning(log: KitLogger, message: string, intervalMs = 30_000) {
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
