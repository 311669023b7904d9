// The 2025-era sessions a client (the gateway) holds with its upstreams, one per (upstream,
// partition), in DynamoDB: so every instance (on Lambda, every execution environment) resumes the
// session the first one opened instead of opening its own, and a caller's session state upstream
// is the same whichever instance serves her. Only the id and what the handshake negotiated are
// kept; the upstream owns the session and may forget it (the client then opens a new one here).
import type { ResumableSession, UpstreamSessionStore } from '../client/connection.ts';
import { nowSeconds, type Item, type Table } from './table.ts';

const SK = 'META';
/** Sessions whose last write this instance remembers, for touch; past it the oldest are forgotten (and written at their next touch). */
const MAX_REMEMBERED = 10_000;

function fromItem(item: Item): ResumableSession {
  return { id: item.sessionId!.S!, protocolVersion: item.protocolVersion!.S!, capabilities: JSON.parse(item.capabilities!.S!) };
}

export class DynamoUpstreamSessions implements UpstreamSessionStore {
  /** When this instance last read or wrote each session's item (seconds), by pk. */
  private readonly seen = new Map<string, number>();
  /** Sliding expiry is written at most this often, not after every call. */
  private readonly touchEverySeconds: number;

  /** `owner` names the client (the gateway), so two gateways on one table keep their sessions apart. */
  constructor(
    private readonly table: Table,
    private readonly owner: string,
    /** How long a session nobody uses stays recorded. */
    private readonly ttlSeconds: number,
  ) {
    this.touchEverySeconds = Math.min(300, Math.floor(ttlSeconds / 10));
  }

  private remember(pk: string, at: number) {
    this.seen.delete(pk);
    this.seen.set(pk, at);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
  }

  private pk(upstream: string, partition: string) {
    // Names and partitions are encoded, so no `#` in either can make two keys meet.
    return `UPSESSION#${[this.owner, upstream, partition].map(encodeURIComponent).join('#')}`;
  }

  async get(upstream: string, partition: string, consistent = false): Promise<ResumableSession | undefined> {
    const pk = this.pk(upstream, partition);
    const item = await this.table.get(pk, SK, consistent);
    if (!item) return undefined;
    // Written (put or touched) at expiresAt - ttl by whichever instance last did.
    this.remember(pk, Number(item.expiresAt!.N) - this.ttlSeconds);
    return fromItem(item);
  }

  /**
   * Records `session` when none is recorded or the recorded one is `replacing` (a session the
   * upstream forgot); false when another instance recorded a different one first.
   */
  async put(upstream: string, partition: string, session: ResumableSession, replacing?: string): Promise<boolean> {
    const pk = this.pk(upstream, partition);
    const item: Item = {
      pk: { S: pk },
      sk: { S: SK },
      sessionId: { S: session.id },
      protocolVersion: { S: session.protocolVersion },
      capabilities: { S: JSON.stringify(session.capabilities) },
      expiresAt: { N: String(nowSeconds() + this.ttlSeconds) },
    };
    const now = { ':now': { N: String(nowSeconds()) } };
    const written =
      replacing === undefined
        ? await this.table.put(item, 'attribute_not_exists(pk) OR expiresAt <= :now', now)
        : await this.table.put(item, 'attribute_not_exists(pk) OR expiresAt <= :now OR sessionId = :gone', { ...now, ':gone': { S: replacing } });
    if (written) this.remember(pk, nowSeconds());
    return written;
  }

  /** Slides the session's expiry while it is used here; writes at most every few minutes, and only while it is still the one recorded. */
  async touch(upstream: string, partition: string, sessionId: string): Promise<void> {
    const pk = this.pk(upstream, partition);
    const now = nowSeconds();
    if (now - (this.seen.get(pk) ?? 0) < this.touchEverySeconds) return;
    this.remember(pk, now);
    await this.table.update(pk, SK, 'SET expiresAt = :exp', 'sessionId = :id', { ':exp': { N: String(now + this.ttlSeconds) }, ':id': { S: sessionId } });
  }
}
