// Rate limiting: what @upstash/ratelimit adds to a call that it lets through. The kit's echo bundle
// with Redis configured in every row, rate limiting off, on per principal, and on per principal
// and per tool, with limits no run can reach.
import type { Budget } from '../budget.ts';
import type { Built } from '../build.ts';
import { TIMING_COLUMNS, timingValues, type Section } from '../report.ts';
import { runRounds, type InvokeVariant, type RoundsPlan } from '../rounds.ts';

export type RateLimitPlan = RoundsPlan;

const NEVER_REACHED = '1000000000';

export const RATE_LIMIT_ROW_IDS = ['off', 'on', 'on-tool'];

function variants(redisEnv: Record<string, string>): InvokeVariant[] {
  const on = { ...redisEnv, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: NEVER_REACHED, MCP_RATE_LIMIT_WINDOW_SECONDS: '60' };
  return [
    { id: 'off', label: 'rate limiting off', target: 'kit', env: { ...redisEnv, MCP_RATE_LIMIT_ENABLED: 'false' } },
    { id: 'on', label: 'on, per principal', target: 'kit', env: on },
    { id: 'on-tool', label: 'on, per principal and per tool', target: 'kit', env: { ...on, MCP_RATE_LIMIT_TOOL_REQUESTS: NEVER_REACHED } },
  ];
}

/** `redisEnv`: UPSTASH_REDIS_REST_URL and _TOKEN of a Redis on loopback. */
export async function measureRateLimit(built: Built, plan: RateLimitPlan, budget: Budget, redisEnv: Record<string, string>): Promise<Section> {
  const { rounds, results } = await runRounds(built, variants(redisEnv), plan, budget);
  return {
    id: 'ratelimit',
    title: 'Rate limiting overhead per call, in-process Lambda invoke',
    method:
      "The kit's echo bundle as in the warm table (LOG_LEVEL=INFO), the same `echo` call, Redis configured in every row " +
      '(redis-server behind the local Upstash REST endpoint on loopback, served from the runner process). ' +
      `"On" is \`MCP_RATE_LIMIT_ENABLED=true\`, a sliding window of ${Number(NEVER_REACHED).toLocaleString('en-US')} requests per 60 s, which no run reaches, ` +
      'so every call is let through and every answer is checked; "per tool" adds `MCP_RATE_LIMIT_TOOL_REQUESTS` (a second limiter, checked after the first). ' +
      'The Redis column counts HTTP requests the bundle sent to Redis per timed call. ' +
      'A deployed Upstash adds its network latency to each of those requests.',
    iterations: `${plan.warmupCalls} warm-up calls per row, then ${rounds} interleaved rounds × ${plan.callsPerRound} calls`,
    columns: [...TIMING_COLUMNS, { key: 'redis', header: 'Redis requests / call', unit: 'per-call' }],
    rows: results.map(({ variant, micros: s, redisRequestsPerCall }) => ({
      id: variant.id,
      label: variant.label,
      values: { ...timingValues(s), redis: redisRequestsPerCall },
    })),
  };
}
