// When the resilient client sends a call again, and after how long: exponential backoff with full
// jitter (a random wait between 0 and base·2^attempt, capped), never shorter than a server's
// Retry-After. Whether a failure may be retried at all depends on the call: anything the server
// never received, and otherwise only calls that are safe to repeat (lists, reads, read-only or
// idempotent tools).
import { CircuitOpenError, type UpstreamError, UpstreamRateLimitedError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';

export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. @default 3 */
  attempts?: number;
  /** Backoff base: the cap on the first wait. @default 100 */
  baseDelayMs?: number;
  /** The cap on any one wait. @default 2000 */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller. @default 5000 */
  maxRetryAfterMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2_000, maxRetryAfterMs: 5_000, ...options };
  if (!(Number.isInteger(policy.attempts) && policy.attempts >= 1)) throw new RangeError(`retry attempts must be a whole number ≥ 1, got ${policy.attempts}`);
  return policy;
}

/** The wait before attempt `attempt + 1` (attempt counts from 0), or undefined: do not retry. */
export function retryDelay(policy: RetryPolicy, attempt: number, err: UpstreamError, safe: boolean, random: () => number = Math.random): number | undefined {
  if (attempt + 1 >= policy.attempts || err instanceof CircuitOpenError) return undefined;
  const retryable =
    (err instanceof UpstreamUnavailableError && (!err.reached || safe)) ||
    (safe && (err instanceof UpstreamTimeoutError || err instanceof UpstreamRateLimitedError));
  if (!retryable) return undefined;
  const jittered = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
  if (retryAfterMs === undefined) return jittered;
  if (retryAfterMs > policy.maxRetryAfterMs) return undefined;
  return Math.max(retryAfterMs, jittered);
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
