// API keys for machine callers: minted here, stored only as a SHA-256 hash (`APIKEY#<hex>` /
// `META`) with owner, scopes and optional expiry, verified by hash lookup with a short in-process
// cache whose lifetime (`cacheSeconds`, ≤ 60 by configuration) bounds how long a key revoked
// through another instance keeps working here. A key stands for the principal `apikey:<owner>`.
// Reading the key off a request (Bearer or `x-api-key`) and answering 401/403 belong to the HTTP
// layer, not to this module. Creating and revoking a key writes an audit line when given a log.
// node:crypto is taken on first use (`process.getBuiltinModule`), not imported: a cold start
// whose first call hashes nothing does not load it.
import type { KitLogger } from '../log.ts';
import { API_KEY_PREFIX, API_KEY_PRINCIPAL_PREFIX, apiKeyPrincipal, apiKeyPrincipalId, checkPrincipalId, type Principal } from '../principal.ts';
import { nowSeconds, type Item, type Table } from '../store/table.ts';

/** The prefix, then 32 random bytes in base64url (43 characters, no padding). */
const KEY_PATTERN = /^mcpk_[A-Za-z0-9_-]{43}$/;
const ID_LENGTH = 12;
const ID_PATTERN = /^[0-9a-f]{12}$/;
/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
const CONTROL = /[\x00-\x1F\x7F]/;
const MAX_TEXT = 200;
const MAX_TTL_DAYS = 36_500;
const DAY_SECONDS = 86_400;
const MAX_CACHED = 10_000;
const SK = 'META';
const PK_PREFIX = 'APIKEY#';

/** Input to `create` or `revoke` was malformed; `field` names the offending input. */
export class ApiKeyInputError extends Error {
  override name = 'ApiKeyInputError';
  constructor(
    readonly field: 'principalId' | 'scopes' | 'ttlDays' | 'name' | 'idOrKey',
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** A key id (12 hex characters of the hash) matched more than one key; revoke by the full key instead. */
export class AmbiguousApiKeyIdError extends Error {
  override name = 'AmbiguousApiKeyIdError';
  constructor(
    readonly id: string,
    readonly matches: readonly ApiKeyRecord[],
  ) {
    super(
      `key id ${id} matches ${matches.length} keys (${matches.map((m) => `principal ${apiKeyPrincipalId(m.principalId)}${m.name ? ` "${m.name}"` : ''}`).join(', ')}); revoke with the full key instead`,
    );
  }
}

/** What is stored about a key, minus its hash. */
export interface ApiKeyRecord {
  /** First 12 hex characters of the key's SHA-256: what `list` shows and `revoke` accepts. */
  id: string;
  /** The key's owner: callers presenting the key are the principal `apikey:<owner>`. */
  principalId: string;
  scopes: string[];
  /** A label for people (what the key is for). */
  name?: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds; absent for a key that does not expire. */
  expiresAt?: number;
}

export interface CreateApiKeyInput {
  /** The owner, without the `apikey:` prefix; all of one owner's keys are one principal. */
  principalId: string;
  scopes?: readonly string[];
  /** Lifetime in whole days. @default no expiry */
  ttlDays?: number;
  name?: string;
}

export interface ApiKeyStoreOptions {
  /**
   * How long a lookup (found or not) is trusted in this process: the bound on how long a key
   * revoked through another instance still works here. 0 disables the cache.
   */
  cacheSeconds: number;
  /** Where `apikey.created` and `apikey.revoked` audit lines go, with `actor`: who asked. @default - no audit lines */
  audit?: { log: KitLogger; actor: string };
}

const hashOf = (key: string) => process.getBuiltinModule('node:crypto').createHash('sha256').update(key).digest('hex');
const pk = (hash: string) => `${PK_PREFIX}${hash}`;

/** The id `list` shows for a key: safe to log, since it cannot be turned back into the key. */
export const apiKeyId = (key: string) => hashOf(key).slice(0, ID_LENGTH);

function checkText(field: 'principalId' | 'name', value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new ApiKeyInputError(field, 'must be a non-empty string');
  if (value.length > MAX_TEXT) throw new ApiKeyInputError(field, `must be at most ${MAX_TEXT} characters, got ${value.length}`);
  if (CONTROL.test(value)) throw new ApiKeyInputError(field, 'must not contain control characters');
  if (value.trim() !== value) throw new ApiKeyInputError(field, 'must not start or end with whitespace');
  return value;
}

function checkInput(input: CreateApiKeyInput) {
  const principalId = checkText('principalId', input.principalId);
  // An owner copied from a log already carries the prefix; `apikey:apikey:…` would be a new principal.
  if (principalId.startsWith(API_KEY_PRINCIPAL_PREFIX)) {
    throw new ApiKeyInputError(
      'principalId',
      `give the owner without the "${API_KEY_PRINCIPAL_PREFIX}" prefix, which the kit adds: ${principalId.slice(API_KEY_PRINCIPAL_PREFIX.length)}`,
    );
  }
  try {
    checkPrincipalId(apiKeyPrincipalId(principalId));
  } catch (err) {
    throw new ApiKeyInputError('principalId', `is too long: ${(err as Error).message}`);
  }
  const scopes = [...new Set(input.scopes ?? [])];
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new ApiKeyInputError('scopes', `${JSON.stringify(scope)} is not a scope token (printable ASCII without spaces, quotes or backslashes)`);
    }
  }
  const { ttlDays } = input;
  if (ttlDays !== undefined && !(Number.isInteger(ttlDays) && ttlDays > 0 && ttlDays <= MAX_TTL_DAYS)) {
    throw new ApiKeyInputError('ttlDays', `must be a whole number of days from 1 to ${MAX_TTL_DAYS}, got ${ttlDays}; omit it for a key that does not expire`);
  }
  const name = input.name === undefined ? undefined : checkText('name', input.name);
  return { principalId, scopes, ttlDays, name };
}

function toItem(hash: string, r: ApiKeyRecord): Item {
  return {
    pk: { S: pk(hash) },
    sk: { S: SK },
    principalId: { S: r.principalId },
    scopes: { L: r.scopes.map((s) => ({ S: s })) },
    ...(r.name !== undefined && { name: { S: r.name } }),
    createdAt: { N: String(r.createdAt) },
    ...(r.expiresAt !== undefined && { expiresAt: { N: String(r.expiresAt) } }),
  };
}

function fromItem(item: Item): ApiKeyRecord {
  return {
    id: item.pk!.S!.slice(PK_PREFIX.length, PK_PREFIX.length + ID_LENGTH),
    principalId: item.principalId!.S!,
    scopes: (item.scopes?.L ?? []).map((s) => s.S!),
    ...(item.name?.S !== undefined && { name: item.name.S }),
    createdAt: Number(item.createdAt!.N),
    ...(item.expiresAt?.N !== undefined && { expiresAt: Number(item.expiresAt.N) }),
  };
}

export class ApiKeyStore {
  /**
   * Keyed by hash, insertion-ordered so the oldest entry is evicted first. `principal` undefined
   * caches "no such key": a client retrying a revoked key costs one read per period. A flood of
   * random keys can push good entries out, which costs reads, never correctness.
   */
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly cacheMs: number;

  constructor(
    private readonly table: Table,
    private readonly options: ApiKeyStoreOptions,
  ) {
    this.cacheMs = options.cacheSeconds * 1000;
  }

  /** Mints a key. The returned `key` is the only copy there will ever be: show it once. */
  async create(input: CreateApiKeyInput): Promise<{ key: string; id: string; record: ApiKeyRecord }> {
    const { principalId, scopes, ttlDays, name } = checkInput(input);
    const key = API_KEY_PREFIX + process.getBuiltinModule('node:crypto').randomBytes(32).toString('base64url');
    const hash = hashOf(key);
    const createdAt = nowSeconds();
    const record: ApiKeyRecord = {
      id: hash.slice(0, ID_LENGTH),
      principalId,
      scopes,
      ...(name !== undefined && { name }),
      createdAt,
      ...(ttlDays !== undefined && { expiresAt: createdAt + ttlDays * DAY_SECONDS }),
    };
    // 256 random bits cannot collide in practice; a failed condition means something is badly wrong.
    if (!(await this.table.put(toItem(hash, record), 'attribute_not_exists(pk)'))) throw new Error('API key hash collision');
    this.audit('apikey.created', record);
    return { key, id: record.id, record };
  }

  /**
   * The principal a key stands for, or undefined for a malformed, unknown, expired or revoked key.
   * A malformed key costs no I/O. The table is read by the key's hash, so nothing compares the
   * presented secret with a stored one. Table failures are thrown, never cached.
   */
  async verify(key: string): Promise<Principal | undefined> {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return undefined;
    const hash = hashOf(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.until > now) return cached.principal;
    if (cached) this.cache.delete(hash);
    const item = await this.table.get(pk(hash), SK, true);
    const record = item && fromItem(item);
    const principal = record && apiKeyPrincipal(record.principalId, record.scopes);
    // A found key is trusted no longer than it lives.
    this.remember(hash, principal, Math.min(now + this.cacheMs, (record?.expiresAt ?? Infinity) * 1000));
    return principal;
  }

  /** Live keys, oldest first. Scans the table: an administrative operation, not a request path. */
  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    for await (const item of this.table.scan(PK_PREFIX)) records.push(fromItem(item));
    return records.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /**
   * Deletes a key given in full or by its 12-character id. False when no live key matched. Takes
   * effect at once in this process, and within `cacheSeconds` everywhere else.
   */
  async revoke(idOrKey: string): Promise<boolean> {
    const hash = await this.resolve(idOrKey);
    if (hash === undefined) return false;
    const item = this.options.audit && (await this.table.get(pk(hash), SK, true));
    const deleted = await this.table.delete(pk(hash), SK);
    this.cache.delete(hash);
    if (deleted) this.audit('apikey.revoked', item ? fromItem(item) : { id: hash.slice(0, ID_LENGTH) });
    return deleted;
  }

  private audit(event: 'apikey.created' | 'apikey.revoked', record: Pick<ApiKeyRecord, 'id'> & Partial<ApiKeyRecord>) {
    const { audit } = this.options;
    if (!audit) return;
    const { id, principalId, scopes, expiresAt } = record;
    audit.log.audit(event, {
      actor: audit.actor,
      keyId: id,
      ...(principalId !== undefined && { keyPrincipal: apiKeyPrincipalId(principalId), scopes }),
      ...(expiresAt !== undefined && { expiresAt: new Date(expiresAt * 1000).toISOString() }),
    });
  }

  private async resolve(idOrKey: string): Promise<string | undefined> {
    const value = idOrKey.trim();
    if (value.startsWith(API_KEY_PREFIX)) {
      if (!KEY_PATTERN.test(value))
        throw new ApiKeyInputError('idOrKey', `not a well-formed key: expected ${API_KEY_PREFIX} followed by 43 base64url characters`);
      return hashOf(value);
    }
    const id = value.toLowerCase();
    if (!ID_PATTERN.test(id))
      throw new ApiKeyInputError(
        'idOrKey',
        `expected a key (${API_KEY_PREFIX}…) or a ${ID_LENGTH}-character key id as shown by list, got ${JSON.stringify(value)}`,
      );
    const matches: Item[] = [];
    for await (const item of this.table.scan(pk(id))) matches.push(item);
    if (matches.length > 1) throw new AmbiguousApiKeyIdError(id, matches.map(fromItem));
    return matches[0]?.pk?.S?.slice(PK_PREFIX.length);
  }

  private remember(hash: string, principal: Principal | undefined, until: number) {
    if (until <= Date.now()) return;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hash, { principal, until });
  }
}
