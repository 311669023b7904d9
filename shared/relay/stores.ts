// Where relay boxes live: a Redis list per box (RPUSH with an expiry, LPOP to drain), or, without
// Redis, items of the kit table under `RELAY#<box>` (put, then query and delete to drain).
import type { Redis } from '@upstash/redis';
import { nowSeconds, type Table } from '../store/table.ts';
import type { RelayStore } from './relay.ts';

/** Most messages taken from a box in one read. */
const DRAIN_BATCH = 50;

export function redisRelayStore(redis: Redis, namespace: string): RelayStore {
  const key = (box: string) => `mcp:relay:${namespace}:${box}`;
  return {
    kind: 'redis',
    async push(box, message, ttlSeconds) {
      await redis.pipeline().rpush(key(box), JSON.stringify(message)).expire(key(box), ttlSeconds).exec();
    },
    async drain(box) {
      const taken = await redis.lpop<unknown[]>(key(box), DRAIN_BATCH);
      // The client parses JSON values it reads; a value it left alone is still our JSON text.
      return (taken ?? []).map((m) => (typeof m === 'string' ? JSON.parse(m) : m));
    },
  };
}

export function tableRelayStore(table: Table, namespace: string): RelayStore {
  const pk = (box: string) => `RELAY#${namespace}#${box}`;
  return {
    kind: 'table',
    async push(box, message, ttlSeconds) {
      const sk = `${Date.now().toString().padStart(15, '0')}#${crypto.randomUUID()}`;
      await table.put({ pk: { S: pk(box) }, sk: { S: sk }, message: { S: JSON.stringify(message) }, expiresAt: { N: String(nowSeconds() + ttlSeconds) } });
    },
    async drain(box) {
      const items = await table.query(pk(box));
      await Promise.all(items.map((item) => table.remove(pk(box), item.sk!.S!)));
      return items.map((item) => JSON.parse(item.message!.S!));
    },
  };
}
