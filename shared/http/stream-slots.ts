// A server-wide cap on open notification streams (legacy GET, `subscriptions/listen`), counted in
// Redis across every instance: on Lambda each open stream holds an execution environment until the
// stream cap, so without a bound a crowd of listeners takes the account's concurrency from the
// calls. A slot is a member of a sorted set scored by its lease's end (the stream cap plus a
// margin), so a slot whose instance died without releasing it frees itself. Costs two Redis
// commands a stream (the claim, the release). Without Redis, or while it is unreachable, streams
// are not counted here (fail open; the per-caller cap per instance still holds).
import type { Redis } from '@upstash/redis';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import { throttledWarning } from '../redis.ts';

/** Drops expired leases, then claims a slot if fewer than the limit are held. 1 = claimed. */
const CLAIM = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export interface StreamSlotsOptions {
  redis: Redis;
  /** Names the server: every instance of one server shares its slots. */
  server: string;
  /** Most streams open at once, server-wide. */
  max: number;
  /** Longest a stream stays open (MCP_STREAM_MAX_SECONDS); a lease outlives it by a minute. */
  streamMaxSeconds: number;
  /** Releases run after the response; on Lambda the invocation waits for them. */
  pending: PendingWork;
  log: KitLogger;
}

export interface StreamSlots {
  readonly max: number;
  /** A release for a claimed slot, or undefined when all `max` are taken. */
  claim(): Promise<(() => void) | undefined>;
}

export function createStreamSlots({ redis, server, max, streamMaxSeconds, pending, log }: StreamSlotsOptions): StreamSlots {
  const key = `mcp:streams:${server}`;
  // A stream without a cap is still leased for the longest a Lambda invocation can run.
  const leaseMs = ((streamMaxSeconds > 0 ? streamMaxSeconds : 900) + 60) * 1000;
  const warn = throttledWarning(log, 'stream slots: Redis unavailable; streams are not counted server-wide meanwhile');
  return {
    max,
    async claim() {
      const member = crypto.randomUUID();
      const now = Date.now();
      try {
        const claimed = await redis.eval(CLAIM, [key], [now, max, now + leaseMs, member, leaseMs]);
        if (claimed !== 1) return undefined;
      } catch (error) {
        warn(error);
        return () => {};
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        pending.track(redis.zrem(key, member).catch(warn));
      };
    },
  };
}
