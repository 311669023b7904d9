// List results a server answered, kept for the `ttlMs` it gave with them (or a default, for servers
// that give none, as 2025-era ones do), at most 24 hours, and dropped when the server says the list
// changed. Entries are keyed by method, or by method and partition (`<method>\n<partition>`) for a
// client whose partitions are different identities, so `cacheScope: private` entries are reused
// only by the identity they were answered to. A hit is served before anything would go out: it costs nothing, and tells the
// circuit breaker nothing about the server's health.

/** The spec lets a server ask for at most this much (and the SDK's own cache caps it the same). */
const MAX_TTL_MS = 86_400_000;
/** Entries kept at most (lists of many partitions): the oldest goes first. */
const MAX_ENTRIES = 1_000;

export class ListCache {
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();

  constructor(
    private readonly defaultTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A fresh copy of the cached result, while it is fresh. */
  get<T>(method: string): T | undefined {
    const entry = this.entries.get(method);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(method);
      return undefined;
    }
    return structuredClone(entry.value) as T;
  }

  put(method: string, result: { ttlMs?: unknown }): void {
    const ttlMs = Math.min(typeof result.ttlMs === 'number' ? result.ttlMs : this.defaultTtlMs, MAX_TTL_MS);
    if (ttlMs <= 0) return;
    this.entries.delete(method);
    this.entries.set(method, { value: structuredClone(result), expiresAt: this.now() + ttlMs });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops the methods' entries, for every partition. */
  evict(...methods: string[]): void {
    for (const key of this.entries.keys()) if (methods.some((m) => key === m || key.startsWith(`${m}\n`))) this.entries.delete(key);
  }
}
