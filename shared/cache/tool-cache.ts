// Result cache for tools that declare themselves cacheable (read-only and idempotent): Redis
// when configured, else a small in-process map. A cache that fails is a miss, never an error.
// A result that links an artifact is stored only where everyone who can hit the entry may read it.
// node:crypto is taken on first use (`process.getBuiltinModule`), not imported: a cold start
// whose first call hashes nothing does not load it.
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Redis } from '@upstash/redis';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import { throttledWarning } from '../redis.ts';

export interface CachePolicy {
  /** How long a result stays cached. */
  ttlSeconds: number;
  /** `principal`: each caller has its own entries (default). `shared`: one entry for everyone. */
  scope?: 'principal' | 'shared';
}

interface Backend {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<unknown>;
}

const MAX_MEMORY_ENTRIES = 1_000;
/** Digests are base64url, so the scope is always the second-to-last `:` segment of a key. */
const SHARED = 'shared';

/**
 * Artifacts belong to the caller that made them (an offloaded result, or a tool's own
 * `ctx.artifacts.put`): anyone else reading the URI gets "not found" (shared/artifacts/address.ts).
 * A shared entry reaches other principals, so it may link none; a principal's entry reaches its
 * other sessions, so it may not link a session's (`artifact://s/`). The URI may sit in a link, in
 * text or in structured content: the serialized result is searched as a whole.
 */
function linksReadableByEveryHit(key: string, json: string): boolean {
  const shared = key.split(':').at(-2) === SHARED;
  return !json.includes(shared ? 'artifact://' : 'artifact://s/');
}

function memoryBackend(): Backend {
  const entries = new Map<string, { value: string; until: number }>();
  return {
    async get(key) {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (hit.until > Date.now()) return hit.value;
      entries.delete(key);
      return undefined;
    },
    async set(key, value, ttlSeconds) {
      if (entries.size >= MAX_MEMORY_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, until: Date.now() + ttlSeconds * 1000 });
    },
  };
}

function redisBackend(redis: Redis): Backend {
  return {
    // Stored as a string we serialize ourselves, so the client's JSON auto-parsing stays out of it.
    get: (key) => redis.get<string>(key).then((v) => (v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v))),
    set: (key, value, ttlSeconds) => redis.set(key, value, { ex: ttlSeconds }),
  };
}

/** JSON with object keys sorted at every depth: equal arguments give equal keys. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export class ToolCache {
  private readonly backend: Backend;
  private readonly warn: (error: unknown) => void;

  constructor(
    private readonly namespace: string,
    redis: Redis | undefined,
    private readonly log: Pick<KitLogger, 'debug' | 'warn'>,
  ) {
    this.backend = redis ? redisBackend(redis) : memoryBackend();
    this.warn = throttledWarning(log, 'tool cache unavailable; serving without it');
  }

  key(tool: string, args: unknown, policy: CachePolicy, principalId: string): string {
    const scope = policy.scope === 'shared' ? '*' : principalId;
    const digest = process
      .getBuiltinModule('node:crypto')
      .createHash('sha256')
      .update(`${tool}\0${scope}\0${canonicalJson(args)}`)
      .digest('base64url');
    return `mcp:cache:${this.namespace}:${policy.scope === 'shared' ? SHARED : 'principal'}:${digest}`;
  }

  async get(key: string): Promise<CallToolResult | undefined> {
    try {
      const raw = await this.backend.get(key);
      return raw ? (JSON.parse(raw) as CallToolResult) : undefined;
    } catch (err) {
      this.warn(err);
      return undefined;
    }
  }

  /** Stores a result unless it links artifacts another hit could not read; failures are logged, never thrown. */
  async set(key: string, result: CallToolResult, ttlSeconds: number): Promise<void> {
    const json = JSON.stringify(result);
    if (!linksReadableByEveryHit(key, json)) {
      this.log.debug('tool result not cached: it links an artifact only its caller may read', { key });
      return;
    }
    try {
      await this.backend.set(key, json, ttlSeconds);
    } catch (err) {
      this.warn(err);
    }
  }

  /** Stores a result without making the caller wait; `pending` tracks the write (see shared/pending-work.ts). */
  setInBackground(key: string, result: CallToolResult, ttlSeconds: number, pending: PendingWork): void {
    pending.track(this.set(key, result, ttlSeconds));
  }
}
