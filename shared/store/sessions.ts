// Legacy (2025-era) sessions in DynamoDB, so any instance can serve any request of any session.
// A short in-process cache keeps the hot path off the table; `sessionCacheMs` bounds how long a
// session deleted or changed (its log level) through another instance may still be honoured here.
// With Redis, a deletion or change also leaves a mark that an instance reads before it trusts its
// copy (one GET, auto-pipelined), so every instance refuses a deleted session and sees a new log
// level at once, whichever instance the next request lands on.
import type { ClientCapabilities, Implementation, LoggingLevel } from '@modelcontextprotocol/server';
import type { Redis } from '@upstash/redis';
import type { Quota } from './quota.ts';
import { nowSeconds, type Item, type Table } from './table.ts';

export interface SessionRecord {
  id: string;
  protocolVersion: string;
  clientInfo: Implementation;
  clientCapabilities: ClientCapabilities;
  logLevel?: LoggingLevel;
  principalId: string;
  /** Whose daily quota it counts against, when not its principal's: an anonymous caller's address (principal.ts). */
  countedAs?: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

const pk = (id: string) => `SESSION#${id}`;
const SK = 'META';
const MAX_CACHED = 10_000;
/** The mark of a deleted session; a changed one's mark is a counter. */
const GONE = 'gone';
/** What newSessionId mints. Anything else is unknown without a table read (a 10 KB id would also exceed DynamoDB's key size). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** 32 random bytes, base64url: unguessable, header-safe, and visible ASCII as the spec requires. */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Buffer.from(bytes).toString('base64url');
}

function toItem(s: SessionRecord): Item {
  return {
    pk: { S: pk(s.id) },
    sk: { S: SK },
    protocolVersion: { S: s.protocolVersion },
    clientInfo: { S: JSON.stringify(s.clientInfo) },
    clientCapabilities: { S: JSON.stringify(s.clientCapabilities) },
    ...(s.logLevel && { logLevel: { S: s.logLevel } }),
    principalId: { S: s.principalId },
    ...(s.countedAs && { countedAs: { S: s.countedAs } }),
    createdAt: { N: String(s.createdAt) },
    lastSeenAt: { N: String(s.lastSeenAt) },
    expiresAt: { N: String(s.expiresAt) },
  };
}

function fromItem(id: string, item: Item): SessionRecord {
  return {
    id,
    protocolVersion: item.protocolVersion!.S!,
    clientInfo: JSON.parse(item.clientInfo!.S!),
    clientCapabilities: JSON.parse(item.clientCapabilities!.S!),
    logLevel: item.logLevel?.S as LoggingLevel | undefined,
    principalId: item.principalId!.S!,
    ...(item.countedAs?.S && { countedAs: item.countedAs.S }),
    createdAt: Number(item.createdAt!.N),
    lastSeenAt: Number(item.lastSeenAt!.N),
    expiresAt: Number(item.expiresAt!.N),
  };
}

export class SessionStore {
  /** `mark`: the session's mark in Redis when the copy was read (undefined: none was set). */
  private readonly cache = new Map<string, { record: SessionRecord; until: number; mark?: string }>();
  /** Sliding expiry is written at most this often, not on every request. */
  private readonly touchEverySeconds: number;

  constructor(
    private readonly table: Table,
    private readonly ttlSeconds: number,
    private readonly cacheMs: number,
    private readonly redis?: Redis,
    /** Sessions a principal may start per window. */
    private readonly quota?: Quota,
  ) {
    this.touchEverySeconds = Math.min(300, Math.floor(ttlSeconds / 10));
  }

  private markKey = (id: string) => `mcp:session-mark:${id}`;
  /** A mark outlives every other instance's cached copy; those re-read the table after it. */
  private get markSeconds() {
    return Math.ceil(this.cacheMs / 1000) + 5;
  }

  async create(init: Omit<SessionRecord, 'id' | 'createdAt' | 'lastSeenAt' | 'expiresAt'>): Promise<SessionRecord> {
    await this.quota?.take(init.countedAs ?? init.principalId);
    const now = nowSeconds();
    const record: SessionRecord = { ...init, id: newSessionId(), createdAt: now, lastSeenAt: now, expiresAt: now + this.ttlSeconds };
    const created = await this.table.put(toItem(record), 'attribute_not_exists(pk)');
    // 256 random bits cannot collide in practice; a failed condition means something is badly wrong.
    if (!created) throw new Error('session id collision');
    this.remember(record);
    return record;
  }

  /** The live session with this id, or undefined when unknown, expired or deleted. */
  async get(id: string): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const cached = this.cache.get(id);
    const now = Date.now();
    let mark: string | undefined;
    if (cached && cached.until > now && cached.record.expiresAt > now / 1000) {
      if (!this.redis) return cached.record;
      // Redis unreachable: the cache bound still holds, as without Redis.
      mark = (await this.redis.get<string | number>(this.markKey(id)).catch(() => null))?.toString();
      if (mark === undefined || mark === cached.mark) return cached.record;
      if (mark === GONE) {
        this.cache.delete(id);
        return undefined;
      }
    }
    if (cached) this.cache.delete(id);
    const item = await this.table.get(pk(id), SK, true);
    if (!item) return undefined;
    const record = fromItem(id, item);
    this.remember(record, mark);
    return record;
  }

  /** Slides the expiry forward; cheap to call on every request (writes only every few minutes). */
  async touch(record: SessionRecord): Promise<void> {
    const now = nowSeconds();
    if (now - record.lastSeenAt < this.touchEverySeconds) return;
    record.lastSeenAt = now;
    record.expiresAt = now + this.ttlSeconds;
    await this.table.update(pk(record.id), SK, 'SET lastSeenAt = :now, expiresAt = :exp', 'attribute_exists(pk) AND expiresAt > :now', {
      ':now': { N: String(now) },
      ':exp': { N: String(record.expiresAt) },
    });
  }

  async setLogLevel(record: SessionRecord, level: LoggingLevel): Promise<void> {
    record.logLevel = level;
    await this.table.update(pk(record.id), SK, 'SET logLevel = :l', 'attribute_exists(pk)', { ':l': { S: level } });
    if (!this.redis) return;
    // Other instances' copies lack the level: a new mark sends them back to the table.
    const key = this.markKey(record.id);
    await Promise.all([this.redis.incr(key), this.redis.expire(key, this.markSeconds)]).catch(() => undefined);
  }

  /** Terminates a session; the principal may start another in its place. False when it was already gone. */
  async delete(record: Pick<SessionRecord, 'id' | 'principalId' | 'countedAs'>): Promise<boolean> {
    const { id } = record;
    this.cache.delete(id);
    if (this.redis) await this.redis.set(this.markKey(id), GONE, { ex: this.markSeconds }).catch(() => undefined);
    const deleted = await this.table.delete(pk(id), SK);
    if (deleted) await this.quota?.give(record.countedAs ?? record.principalId);
    return deleted;
  }

  /** Sessions held in this instance's cache (memory is bounded by live entries). */
  get cached(): number {
    return this.cache.size;
  }

  private remember(record: SessionRecord, mark?: string) {
    if (this.cacheMs <= 0) return;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    const now = Date.now();
    // Entries expire in insertion order (one lifetime for all): drop the expired ones in front, so
    // the cache holds only sessions seen within the last cacheMs, not every session ever seen.
    for (const [id, entry] of this.cache) {
      if (entry.until > now) break;
      this.cache.delete(id);
    }
    this.cache.delete(record.id);
    this.cache.set(record.id, { record, until: now + this.cacheMs, ...(mark !== undefined && { mark }) });
  }
}
