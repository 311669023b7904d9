// Rate limits per principal, and optionally per principal and tool, with @upstash/ratelimit
// (sliding window in Redis). When Redis is unavailable requests pass or are refused with 503,
// as configured; over the limit the caller gets 429 with Retry-After and a JSON-RPC error.
// The limiter package loads with the first request it counts.
import type { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis';
import type { KitConfig } from '../config.ts';
import type { KitLogger } from '../log.ts';
import { throttledWarning } from '../redis.ts';
import { HttpProtocolError, SERVER_ERROR } from '../protocol/errors.ts';

export interface RateLimiter {
  /** Throws HttpProtocolError (429, or 503 when failing closed) when the call must not proceed. */
  check(principalId: string, tool: string | undefined, id: string | number | null): Promise<void>;
}

export function createRateLimiter(redis: Redis, namespace: string, config: KitConfig['rateLimit'] & { timeoutMs: number }, log: KitLogger): RateLimiter {
  const common = { redis, timeout: config.timeoutMs, analytics: false, ephemeralCache: new Map<string, number>() };
  const window = `${config.windowSeconds} s` as const;
  let loading: Promise<{ perPrincipal: Ratelimit; perTool?: Ratelimit }> | undefined;
  const limiters = () =>
    (loading ??= import('@upstash/ratelimit').then((module) => {
      // A CommonJS package: bundled, its exports arrive as `default`.
      const { Ratelimit } = 'Ratelimit' in module ? module : (module as { default: typeof module }).default;
      return {
        perPrincipal: new Ratelimit({ ...common, prefix: `mcp:rl:${namespace}`, limiter: Ratelimit.slidingWindow(config.requests, window) }),
        ...(config.toolRequests !== undefined && {
          perTool: new Ratelimit({
            ...common,
            ephemeralCache: new Map(),
            prefix: `mcp:rl:${namespace}:tool`,
            limiter: Ratelimit.slidingWindow(config.toolRequests, window),
          }),
        }),
      };
    }));
  const per = config.windowSeconds === 60 ? 'per minute' : `per ${config.windowSeconds} s`;
  const warn = throttledWarning(log, `rate limiter unavailable; failing ${config.failOpen ? 'open' : 'closed'}`);

  const unavailable = (error: unknown, id: string | number | null) => {
    warn(error);
    if (!config.failOpen) {
      throw new HttpProtocolError(503, SERVER_ERROR, 'Service Unavailable: rate limiting is unavailable; retry shortly', { 'retry-after': '1' }, id);
    }
  };

  async function apply(limiter: Ratelimit, identifier: string, what: string, limit: number, id: string | number | null) {
    let result: Awaited<ReturnType<Ratelimit['limit']>>;
    try {
      result = await limiter.limit(identifier);
    } catch (err) {
      return unavailable(err, id);
    }
    if (result.reason === 'timeout') return unavailable(new Error('timed out'), id);
    if (result.success) return;
    const retryAfter = Math.max(1, Math.ceil((result.reset - Date.now()) / 1000));
    throw new HttpProtocolError(
      429,
      SERVER_ERROR,
      `Rate limit exceeded: at most ${limit} ${what} ${per}; retry after ${retryAfter} s`,
      { 'retry-after': String(retryAfter) },
      id,
    );
  }

  return {
    async check(principalId, tool, id) {
      const { perPrincipal, perTool } = await limiters();
      if (perTool && tool !== undefined) {
        // Checked together, so the Redis client sends both in one round trip; a call refused by the
        // principal's limit may still use up one of the tool's tokens.
        await Promise.all([
          apply(perPrincipal, principalId, 'requests', config.requests, id),
          apply(perTool, `${principalId}:${tool}`, `calls of ${tool}`, config.toolRequests!, id),
        ]);
      } else await apply(perPrincipal, principalId, 'requests', config.requests, id);
    },
  };
}
