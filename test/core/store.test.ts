// Sessions and tool state against a real DynamoDB emulator: conditional writes, expiry honoured
// on read (DynamoDB deletes expired items late), and handles bound to the principal that minted them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '../../shared/redis.ts';
import { SessionStore } from '../../shared/store/sessions.ts';
import { StateConflictError, StateHandleError, StateStore, UPDATE_ATTEMPTS } from '../../shared/store/state.ts';
import { Table, createDynamoClient, nowSeconds } from '../../shared/store/table.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { startTestDynamo } from '../helpers/server.ts';

describe('stores', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let table: Table;

  before(async () => {
    dynamo = await startTestDynamo();
    table = new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
  });
  after(() => dynamo.stop());

  it('reads an item whose expiresAt has passed as absent, and will not delete it', async () => {
    await table.put({ pk: { S: 'X#1' }, sk: { S: 'A' }, expiresAt: { N: String(nowSeconds() - 1) } });
    assert.equal(await table.get('X#1', 'A'), undefined);
    assert.equal(await table.delete('X#1', 'A'), false);
  });

  it('sessions: create, read, expire, delete', async () => {
    const sessions = new SessionStore(table, 3600, 0);
    const s = await sessions.create({
      protocolVersion: '2025-06-18',
      clientInfo: { name: 'c', version: '1' },
      clientCapabilities: { sampling: {} },
      principalId: 'p1',
    });
    assert.deepEqual((await sessions.get(s.id))?.clientCapabilities, { sampling: {} });
    await table.update(`SESSION#${s.id}`, 'META', 'SET expiresAt = :e', 'attribute_exists(pk)', { ':e': { N: String(nowSeconds() - 1) } });
    assert.equal(await sessions.get(s.id), undefined, 'an expired session reads as unknown');
    const t = await sessions.create({ protocolVersion: '2025-06-18', clientInfo: { name: 'c', version: '1' }, clientCapabilities: {}, principalId: 'p1' });
    assert.equal(await sessions.delete(t), true);
    assert.equal(await sessions.delete(t), false);
    assert.equal(await sessions.get(t.id), undefined);
  });

  it('sessions: the in-process cache serves within its bound and DELETE invalidates it', async () => {
    const sessions = new SessionStore(table, 3600, 60_000);
    const s = await sessions.create({ protocolVersion: '2025-06-18', clientInfo: { name: 'c', version: '1' }, clientCapabilities: {}, principalId: 'p' });
    await table.delete(`SESSION#${s.id}`, 'META'); // behind the cache's back, as another instance would
    assert.ok(await sessions.get(s.id), 'cached copy still honoured within sessionCacheMs');
    await sessions.delete(s);
    assert.equal(await sessions.get(s.id), undefined);
  });

  it('sessions with Redis: a deletion or a log level set through one instance holds at once on another that cached the session', async () => {
    const redis = await startTestRedis();
    try {
      const client = () => createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
      const a = new SessionStore(table, 3600, 60_000, client());
      const b = new SessionStore(table, 3600, 60_000, client());
      const s = await a.create({ protocolVersion: '2025-06-18', clientInfo: { name: 'c', version: '1' }, clientCapabilities: {}, principalId: 'p' });
      assert.equal((await b.get(s.id))?.logLevel, undefined, 'b caches the session');
      await a.setLogLevel((await a.get(s.id))!, 'debug');
      assert.equal((await b.get(s.id))?.logLevel, 'debug', 'b sees the new level on its next request');
      assert.equal((await b.get(s.id))?.logLevel, 'debug', 'and keeps the fresh copy');
      await a.delete(s);
      assert.equal(await b.get(s.id), undefined, 'b refuses the deleted session on its next request');
      // Control: without Redis, b's copy is honoured within its cache bound.
      const c = new SessionStore(table, 3600, 60_000);
      const t = await a.create({ protocolVersion: '2025-06-18', clientInfo: { name: 'c', version: '1' }, clientCapabilities: {}, principalId: 'p' });
      assert.ok(await c.get(t.id));
      await a.delete(t);
      assert.ok(await c.get(t.id), 'honoured until its copy lapses');
    } finally {
      await redis.dispose();
    }
  });

  it('state: versioned conditional writes refuse lost updates', async () => {
    const store = new StateStore(table, 3600, 3600);
    const scope = store.forSession('S1');
    const v1 = await scope.put('k', { n: 1 }, { ifVersion: 0 });
    await assert.rejects(scope.put('k', { n: 2 }, { ifVersion: 0 }), StateConflictError);
    const v2 = await scope.put('k', { n: 2 }, { ifVersion: v1 });
    await assert.rejects(scope.put('k', { n: 3 }, { ifVersion: v1 }), /changed since version/);
    assert.deepEqual(await scope.getVersioned('k'), { value: { n: 2 }, version: v2 });
    assert.equal(await scope.delete('k'), true);
    assert.equal(await scope.get('k'), undefined);
  });

  it('state: a handle is minted on first write and opens only for the principal that minted it', async () => {
    const store = new StateStore(table, 3600, 3600);
    const fresh = store.newHandle('alice');
    assert.equal(fresh.handle, undefined);
    assert.equal(await fresh.get('k'), undefined, 'reading an unminted handle costs nothing and finds nothing');
    await fresh.put('k', 'v');
    assert.match(fresh.handle!, /^h_[A-Za-z0-9_-]{43}$/);
    assert.equal(await (await store.open(fresh.handle!, 'alice')).get('k'), 'v');
    await assert.rejects(store.open(fresh.handle!, 'mallory'), StateHandleError);
    await assert.rejects(store.open('h_made_up', 'alice'), /unknown or expired state handle/);
  });

  it('state: update retries a write that lost to a concurrent one, so concurrent updates all land', async () => {
    const scope = new StateStore(table, 3600, 3600).forSession('S3');
    // Five writers at once: each conflict means another writer's write landed, so none needs more than five attempts.
    await Promise.all([1, 2, 3, 4, 5].map((n) => scope.update<number[]>('list', (current = []) => [...current, n])));
    assert.deepEqual((await scope.get<number[]>('list'))!.sort(), [1, 2, 3, 4, 5]);
    const updated = await scope.update<number[]>('list', (current = []) => [...current, 6]);
    assert.deepEqual(await scope.getVersioned('list'), updated);
  });

  it('state: update gives up with StateConflictError after UPDATE_ATTEMPTS writes lost to concurrent ones', async () => {
    // A table on which another writer changes the key between every read and conditional write.
    let interfere = true;
    const busy = Object.create(table) as Table;
    busy.put = async (item, condition, values, names) => {
      if (interfere && condition) await table.put({ ...item, version: { N: String(Number(item.version!.N) + 7) } });
      return table.put(item, condition, values, names);
    };
    const scope = new StateStore(busy, 3600, 3600).forSession('S4');
    let calls = 0;
    await assert.rejects(
      scope.update<number>('n', (n = 0) => (calls++, n + 1)),
      (err: Error) => err instanceof StateConflictError && /kept changing: 5 attempts/.test(err.message),
    );
    assert.equal(calls, UPDATE_ATTEMPTS);
    // Control: the same update without the other writer lands on its first attempt.
    interfere = false;
    calls = 0;
    const before = (await scope.get<number>('n'))!;
    assert.equal((await scope.update<number>('n', (n = 0) => (calls++, n + 1))).value, before + 1);
    assert.equal(calls, 1);
  });

  it('state: a value that is not JSON is refused with a clear error', async () => {
    const scope = new StateStore(table, 3600, 3600).forSession('S2');
    await assert.rejects(
      scope.put('fn', () => 1),
      /not JSON-serializable/,
    );
  });
});
