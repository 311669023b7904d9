// A circuit breaker for one server: closed (calls go through), open (calls fail at once, for
// `cooldownMs`), half-open (one trial call decides). It counts consecutive failures; what counts as
// a failure is the caller's decision (the resilient client counts an unreachable server, a server
// error and a timeout, never a JSON-RPC error or a refusal). State lives in this process: each
// Lambda environment learns on its own.

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before it lets one trial through. @default 30000 */
  cooldownMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private failures = 0;
  private openedAt: number | undefined;
  private trialRunning = false;
  private lastFailure: string | undefined;

  constructor(
    options: BreakerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.threshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    if (!(Number.isInteger(this.threshold) && this.threshold >= 1))
      throw new RangeError(`breaker failureThreshold must be a whole number ≥ 1, got ${this.threshold}`);
    if (!(Number.isFinite(this.cooldownMs) && this.cooldownMs >= 0)) throw new RangeError(`breaker cooldownMs must be ≥ 0, got ${this.cooldownMs}`);
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /**
   * Asks to send one call. Returns undefined when it may go (in half-open, only the one trial),
   * else how long until the circuit lets a trial through.
   */
  admit(): { retryAfterMs: number; lastFailure: string | undefined } | undefined {
    const state = this.state;
    if (state === 'closed') return undefined;
    if (state === 'half-open' && !this.trialRunning) {
      this.trialRunning = true;
      return undefined;
    }
    const retryAfterMs = Math.max(0, this.openedAt! + this.cooldownMs - this.now());
    return { retryAfterMs, lastFailure: this.lastFailure };
  }

  succeeded(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialRunning = false;
  }

  failed(reason: string): void {
    this.lastFailure = reason;
    this.failures++;
    // A failed trial opens the circuit again for a full cooldown.
    if (this.trialRunning || this.failures >= this.threshold) this.openedAt = this.now();
    this.trialRunning = false;
  }

  /** A call admitted as the trial ended without a verdict (refused, cancelled): let another try. */
  released(): void {
    this.trialRunning = false;
  }

  snapshot() {
    return { state: this.state, consecutiveFailures: this.failures, ...(this.lastFailure !== undefined && { lastFailure: this.lastFailure }) };
  }
}
