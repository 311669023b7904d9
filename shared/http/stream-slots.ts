// The caps on open notification streams (legacy GET, `subscriptions/listen`), counted in Redis
// across every instance: per caller (MCP_STREAMS_PER_PRINCIPAL) and server-wide
// (MCP_MAX_OPEN_STREAMS). On Lambda each open stream holds an execution environment until the
// stream cap, and an environment serves one request, so only a count shared by all environments
// binds: without it one caller's listeners take the concurrency every other caller's calls need.
// A slot is a member of two sorted sets (the server's, the caller's) scored by its lease's end (the
// stream cap plus a margin), so a slot whose instance died without releasing it frees itself.
// Costs two Redis commands a stream: one script claims against both caps, one releases. While
// Redis is unreachable a claim is refused (fail closed: on Lambda a count per instance never binds),
// or with `failOpen` (a server process) the stream goes uncounted here (stream-quota.ts still
// bounds each caller per instance). Without Redis on Lambda the kit serves no stream at all (kit.ts), and elsewhere
// counts them per instance.
import type { Redis } from '@upstash/redis';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import { throttledWarning } from '../redis.ts';

/**
 * Drops expired leases, then claims a slot if the caller holds fewer than its cap and the server
 * fewer than its own (0: no server-wide cap). 1 = claimed; refused, {-1 (the caller's cap) or 0
 * (the server's), the end of the oldest lease that cap counts}.
 */
const CLAIM = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local function refuse(code, key)
  return {code, redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return refuse(-1, KEYS[2]) end
local max = tonumber(ARGV[2])
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return refuse(0, KEYS[1]) end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[i], ARGV[6])
end
return 1`;

const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`;

/** How long a lease outlives the stream cap: a stream still closing is never counted out. */
const LEASE_MARGIN_SECONDS = 60;
/** When to try again after a claim Redis could not count: an outage of the store is mostly brief. */
const UNREACHABLE_RETRY_SECONDS = 5;

export interface StreamSlotsOptions {
  redis: Redis;
  /** Names the server: every instance of one server shares its slots. */
  server: string;
  /** Most streams open at once, server-wide; 0 counts them without a server-wide cap. */
  max: number;
  /** Most streams one caller may hold open at once, server-wide. */
  perPrincipal: number;
  /** Longest a stream stays open (MCP_STREAM_MAX_SECONDS); a lease outlives it by a minute. */
  streamMaxSeconds: number;
  /** While Redis is unreachable: claim uncounted (true) or refuse (false). MCP_STREAM_CAPS_FAIL_OPEN. */
  failOpen?: boolean;
  /** Releases run after the response; on Lambda the invocation waits for them. */
  pending: PendingWork;
  log: KitLogger;
}

/**
 * A claimed slot and its release, or which cap refused it and, when streams have a cap on their
 * length, when the oldest stream that cap counts reaches it (a slot frees then at the latest);
 * `unreachable`: Redis could not count the claim (failing closed).
 */
export type StreamClaim = { release: () => void } | { refused: 'principal' | 'server' | 'unreachable'; retryAfterSeconds?: number };

export interface StreamSlots {
  readonly max: number;
  readonly perPrincipal: number;
  claim(principalId: string): Promise<StreamClaim>;
}

/** The server's set and one caller's; the hash tag keeps both in one slot of a clustered Redis. */
export function streamSlotKeys(server: string, principalId: string): [string, string] {
  return [`mcp:streams:{${server}}`, `mcp:streams:{${server}}:${principalId}`];
}

export function createStreamSlots({ redis, server, max, perPrincipal, streamMaxSeconds, failOpen = false, pending, log }: StreamSlotsOptions): StreamSlots {
  // A stream without a cap is still leased for the longest a Lambda invocation can run.
  const leaseMs = ((streamMaxSeconds > 0 ? streamMaxSeconds : 900) + LEASE_MARGIN_SECONDS) * 1000;
  const retryAfter = (oldestLeaseEnd: unknown, now: number) =>
    streamMaxSeconds > 0 ? Math.max(1, Math.ceil((Number(oldestLeaseEnd) - now) / 1000) - LEASE_MARGIN_SECONDS) : undefined;
  const warn = throttledWarning(
    log,
    failOpen
      ? 'stream slots: Redis unavailable; streams are counted per instance only meanwhile'
      : 'stream slots: Redis unavailable; new streams are refused meanwhile',
  );
  return {
    max,
    perPrincipal,
    async claim(principalId) {
      const keys = streamSlotKeys(server, principalId);
      const member = crypto.randomUUID();
      const now = Date.now();
      try {
        const claimed = await redis.eval<unknown[], 1 | [number, unknown]>(CLAIM, keys, [now, max, perPrincipal, now + leaseMs, member, leaseMs]);
        if (claimed !== 1) return { refused: claimed[0] === -1 ? 'principal' : 'server', retryAfterSeconds: retryAfter(claimed[1], now) };
      } catch (error) {
        warn(error);
        return failOpen ? { release: () => {} } : { refused: 'unreachable', retryAfterSeconds: UNREACHABLE_RETRY_SECONDS };
      }
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          pending.track(redis.eval(RELEASE, keys, [member]).catch(warn));
        },
      };
    },
  };
}
