// Tool state in DynamoDB (`STATE#<scope>` / `<key>`), scoped to a legacy session or to a
// server-minted handle that a modern (stateless) client carries between calls. Every write is
// conditional; expired items read as absent; a handle belongs to the principal that minted it.
import type { Quota } from './quota.ts';
import { newSessionId } from './sessions.ts';
import { nowSeconds, type Table } from './table.ts';

export class StateConflictError extends Error {
  override name = 'StateConflictError';
}

export class StateHandleError extends Error {
  override name = 'StateHandleError';
}

export interface PutOptions {
  /** Write only if the stored version equals this; 0 means "only if absent". */
  ifVersion?: number;
  /** Item lifetime; defaults to the scope's lifetime. */
  ttlSeconds?: number;
}

export interface Versioned<T> {
  value: T;
  version: number;
}

export interface StateScope {
  /**
   * The handle a modern client passes back to reach this state again, minted on first write.
   * Undefined for a legacy session's own scope and before anything was written.
   */
  readonly handle: string | undefined;
  get<T = unknown>(key: string): Promise<T | undefined>;
  getVersioned<T = unknown>(key: string): Promise<Versioned<T> | undefined>;
  /** Stores a JSON value; returns its new version. Throws StateConflictError when `ifVersion` does not match. */
  put(key: string, value: unknown, options?: PutOptions): Promise<number>;
  /**
   * Removes a key; false when it was not there. With `ifVersion`, only that version is removed;
   * another one throws StateConflictError.
   */
  delete(key: string, options?: { ifVersion?: number }): Promise<boolean>;
  /**
   * Reads the key, applies `fn` to its value (undefined when absent) and writes the result only if
   * the key did not change in between; on a concurrent write it reads again and retries, at most
   * UPDATE_ATTEMPTS times, then throws StateConflictError. Returns the value written and its version.
   */
  update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<Versioned<T>>;
}

/** How many times `update` reads and writes before giving up on a key written concurrently. */
export const UPDATE_ATTEMPTS = 5;

const META = '#HANDLE';
const statePk = (scope: string) => `STATE#${scope}`;
const HANDLE_PATTERN = /^h_[A-Za-z0-9_-]{43}$/;

class DynamoStateScope implements StateScope {
  constructor(
    private readonly table: Table,
    private scope: string | undefined,
    private readonly ttlSeconds: number,
    readonly handle: string | undefined,
    private readonly mint?: () => Promise<string>,
  ) {}

  private async writableScope(): Promise<string> {
    if (this.scope === undefined) {
      const handle = await this.mint!();
      this.scope = handle;
      (this as { handle: string | undefined }).handle = handle;
    }
    return this.scope;
  }

  async getVersioned<T>(key: string): Promise<Versioned<T> | undefined> {
    if (this.scope === undefined) return undefined;
    const item = await this.table.get(statePk(this.scope), checkKey(key), true);
    if (!item) return undefined;
    return { value: JSON.parse(item.value!.S!) as T, version: Number(item.version!.N) };
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.getVersioned<T>(key))?.value;
  }

  async put(key: string, value: unknown, options: PutOptions = {}): Promise<number> {
    const scope = await this.writableScope();
    const now = nowSeconds();
    const current = options.ifVersion;
    // A key written afresh (or recreated after a delete) starts from the clock, so a version never
    // comes back: state pinned to an old version (a confirmation, say) cannot match a new item.
    const version = current === undefined || current === 0 ? freshVersion() : current + 1;
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`state value for "${key}" is not JSON-serializable`);
    const item = {
      pk: { S: statePk(scope) },
      sk: { S: checkKey(key) },
      value: { S: json },
      version: { N: String(version) },
      expiresAt: { N: String(now + (options.ttlSeconds ?? this.ttlSeconds)) },
    };
    const ok =
      current === undefined
        ? await this.table.put(item)
        : current === 0
          ? await this.table.put(item, 'attribute_not_exists(pk) OR expiresAt <= :now', { ':now': { N: String(now) } })
          : await this.table.put(item, 'version = :v AND expiresAt > :now', { ':v': { N: String(current) }, ':now': { N: String(now) } });
    if (!ok) throw new StateConflictError(`state "${key}" changed since version ${current}; read it again and retry`);
    return version;
  }

  async delete(key: string, options: { ifVersion?: number } = {}): Promise<boolean> {
    if (this.scope === undefined) return false;
    if (options.ifVersion === undefined) return this.table.delete(statePk(this.scope), checkKey(key));
    const removed = await this.table.deleteIf(statePk(this.scope), checkKey(key), 'version = :v AND expiresAt > :now', {
      ':v': { N: String(options.ifVersion) },
      ':now': { N: String(nowSeconds()) },
    });
    if (!removed) throw new StateConflictError(`state "${key}" changed since version ${options.ifVersion}; read it again and retry`);
    return true;
  }

  async update<T>(key: string, fn: (current: T | undefined) => T): Promise<Versioned<T>> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.getVersioned<T>(key);
      const value = fn(current?.value);
      try {
        return { value, version: await this.put(key, value, { ifVersion: current?.version ?? 0 }) };
      } catch (err) {
        if (!(err instanceof StateConflictError)) throw err;
        if (attempt >= UPDATE_ATTEMPTS) {
          throw new StateConflictError(
            `state "${key}" kept changing: ${UPDATE_ATTEMPTS} attempts to update it each lost to a concurrent write; try again later`,
          );
        }
      }
    }
  }
}

/** Microseconds since the epoch, plus noise: below 2^53 until the year 2255. */
const freshVersion = () => Date.now() * 1000 + Math.floor(Math.random() * 1000);

function checkKey(key: string): string {
  if (key.length === 0 || key.length > 512 || key === META) throw new TypeError(`invalid state key "${key}"`);
  return key;
}

export class StateStore {
  constructor(
    private readonly table: Table,
    private readonly handleTtlSeconds: number,
    private readonly sessionTtlSeconds: number,
    /** Handles a principal may mint per window. */
    private readonly quota?: Quota,
  ) {}

  /** The scope of a legacy session: lives as long as the session does. */
  forSession(sessionId: string): StateScope {
    return new DynamoStateScope(this.table, `S.${sessionId}`, this.sessionTtlSeconds, undefined);
  }

  /**
   * Records `id` once: true the first time, false while an earlier record of it lives. For
   * single-use tokens (confirmations); the record expires after `ttlSeconds`.
   */
  async claimOnce(id: string, ttlSeconds: number): Promise<boolean> {
    const now = nowSeconds();
    return this.table.put(
      { pk: { S: `ONCE#${id}` }, sk: { S: META }, expiresAt: { N: String(now + ttlSeconds) } },
      'attribute_not_exists(pk) OR expiresAt <= :now',
      { ':now': { N: String(now) } },
    );
  }

  /**
   * A new handle scope for `principalId`; nothing is written until the first `put`. The mint
   * counts against the quota of `countedAs` (an anonymous caller's address, principal.ts).
   */
  newHandle(principalId: string, countedAs = principalId): StateScope {
    return new DynamoStateScope(this.table, undefined, this.handleTtlSeconds, undefined, () => this.mint(principalId, countedAs));
  }

  /** Opens a handle minted earlier by the same principal; unknown, expired and foreign handles all fail alike. */
  async open(handle: string, principalId: string): Promise<StateScope> {
    const meta = HANDLE_PATTERN.test(handle) ? await this.table.get(statePk(handle), META, true) : undefined;
    if (!meta || meta.principalId?.S !== principalId) {
      throw new StateHandleError(`unknown or expired state handle "${handle.slice(0, 64)}"; omit it to start over`);
    }
    return new DynamoStateScope(this.table, handle, this.handleTtlSeconds, handle);
  }

  private async mint(principalId: string, countedAs: string): Promise<string> {
    await this.quota?.take(countedAs);
    const handle = `h_${newSessionId()}`;
    const now = nowSeconds();
    const created = await this.table.put(
      {
        pk: { S: statePk(handle) },
        sk: { S: META },
        principalId: { S: principalId },
        createdAt: { N: String(now) },
        expiresAt: { N: String(now + this.handleTtlSeconds) },
      },
      'attribute_not_exists(pk)',
    );
    if (!created) throw new Error('state handle collision');
    return handle;
  }
}
