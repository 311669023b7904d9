// How many of something a principal may create per window (sessions, state handles), counted in
// the table: one conditional update per creation, refused past the limit. Fixed windows: at most
// twice the limit can land around a window's edge, which still bounds what a caller can pile up.
import { nowSeconds, type Table } from './table.ts';

/** A principal created as many of something as the window allows. */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  constructor(
    readonly what: string,
    readonly limit: number,
    readonly windowSeconds: number,
    readonly retryAfterSeconds: number,
    advice: string,
  ) {
    super(
      `Too many ${what}: at most ${limit} per caller per ${windowSeconds >= 3600 ? `${windowSeconds / 3600} h` : `${windowSeconds} s`}; ${advice}, or retry after ${retryAfterSeconds} s`,
    );
  }
}

export class Quota {
  constructor(
    private readonly table: Table,
    private readonly what: string,
    private readonly limit: number,
    private readonly windowSeconds: number,
    private readonly advice: string,
  ) {}

  private at(principalId: string) {
    const now = nowSeconds();
    const window = Math.floor(now / this.windowSeconds);
    const end = (window + 1) * this.windowSeconds;
    return { pk: `QUOTA#${this.what}#${principalId}`, sk: String(window), now, end };
  }

  /** Counts one more; throws QuotaExceededError past the limit. */
  async take(principalId: string): Promise<void> {
    const { pk, sk, now, end } = this.at(principalId);
    const counted = await this.table.update(pk, sk, 'ADD used :one SET expiresAt = :exp', 'attribute_not_exists(used) OR used < :limit', {
      ':one': { N: '1' },
      ':limit': { N: String(this.limit) },
      ':exp': { N: String(end + 60) },
    });
    if (!counted) throw new QuotaExceededError(this.what, this.limit, this.windowSeconds, Math.max(1, end - now), this.advice);
  }

  /** Gives one back (the thing was deleted within its window); never below zero. */
  async give(principalId: string): Promise<void> {
    const { pk, sk } = this.at(principalId);
    await this.table.update(pk, sk, 'ADD used :minus', 'used > :zero', { ':minus': { N: '-1' }, ':zero': { N: '0' } });
  }
}
