// Change events across instances over a Redis stream: publish delivers locally at once and appends
// to the stream; other instances poll it, only while they have listeners, with one poller per
// instance however many listeners it holds. Once QUIET_READS reads in a row found nothing, the
// interval doubles from pollMs up to pollMaxMs, and it falls back to pollMs as soon as a read finds
// entries or this instance publishes: an idle listener costs about 1/pollMaxMs Redis commands a
// second, not 1/pollMs. Delivery latency ≈ pollMs while events flow (events up to QUIET_READS ×
// pollMs apart keep the fast pace), at most pollMaxMs after a quiet spell;
// at most once; an event older than the retained length (maxLen) is lost to a slow poller.
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import type { Redis } from '@upstash/redis';
import type { KitLogger } from '../log.ts';
import { throttledWarning } from '../redis.ts';

export interface RedisEventBusOptions {
  redis: Redis;
  /** Stream key; every instance of one server uses the same key. */
  stream: string;
  /** Interval between reads of the stream while this instance has listeners and events flow. */
  pollMs: number;
  /** Longest interval, reached by doubling while reads find nothing. @default pollMs (no backoff) */
  pollMaxMs?: number;
  log: KitLogger;
  /** Approximate number of events the stream retains. @default 1000 */
  maxLen?: number;
}

export type RedisEventBus = ServerEventBus & {
  /** Waits for the appends of events published so far (on Lambda, before the invocation ends). */
  flush(): Promise<void>;
  /** Stops polling, drops listeners and waits for in-flight Redis calls; later publishes stay local. */
  close(): Promise<void>;
};

type Listener = (event: ServerEvent) => void;
/** A stream entry as @upstash/redis returns it: fields JSON-parsed where they parse. */
type Entry = { o?: unknown; e?: unknown };

/** Empty reads in a row before the interval starts to grow: events a few seconds apart keep the fast pace. */
const QUIET_READS = 3;

const KINDS = new Set(['tools_list_changed', 'prompts_list_changed', 'resources_list_changed', 'resource_updated']);

function isServerEvent(value: unknown): value is ServerEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, uri, params } = value as Record<string, unknown>;
  return KINDS.has(kind as string)
    && (kind !== 'resource_updated' || typeof uri === 'string')
    && (params === undefined || (typeof params === 'object' && params !== null));
}

export function createRedisEventBus({ redis, stream, pollMs, pollMaxMs = pollMs, log, maxLen = 1000 }: RedisEventBusOptions): RedisEventBus {
  // A UUID never parses as JSON, so the client's field parsing leaves it a string.
  const origin = crypto.randomUUID();
  const trim = { type: 'MAXLEN', threshold: maxLen, comparison: '~' } as const;
  const listeners = new Set<Listener>();
  const writes = new Set<Promise<void>>();
  const warnListener = throttledWarning(log, 'event listener failed');
  const warnPublish = throttledWarning(log, 'event bus: append to Redis failed; other instances miss the event');
  const warnPoll = throttledWarning(log, 'event bus: reading Redis failed; retrying');
  const warnMalformed = throttledWarning(log, 'event bus: skipped a malformed stream entry');

  /** Last stream id seen; undefined until the stream's end is read after becoming active. */
  let cursor: string | undefined;
  /** Bumped on going idle, so a poll started in an earlier active period leaves no trace. */
  let epoch = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The next wait between reads: pollMs after activity, doubling while reads find nothing. */
  let interval = pollMs;
  /** Reads in a row that found nothing. */
  let emptyReads = 0;
  let inFlight: Promise<void> | undefined;
  let closed = false;

  function deliver(event: ServerEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        warnListener(error);
      }
    }
  }

  /** Reads what is new; resolves to the number of entries found, undefined for the read of the stream's end. */
  async function poll(): Promise<number | undefined> {
    const started = epoch;
    if (cursor === undefined) {
      const last = await redis.xrevrange(stream, '+', '-', 1);
      if (started === epoch) cursor = Object.keys(last)[0] ?? '0-0';
      return undefined;
    }
    const entries = await redis.xrange<Entry>(stream, `(${cursor}`, '+');
    let found = 0;
    for (const id in entries) {
      if (started !== epoch) return found;
      found++;
      cursor = id;
      const { o, e } = entries[id]!;
      if (o === origin) continue;
      if (isServerEvent(e)) deliver(e);
      else warnMalformed(new Error(`entry ${id} in ${stream}`));
    }
    return found;
  }

  function schedule(delayMs: number): void {
    if (closed || timer !== undefined || inFlight !== undefined || listeners.size === 0) return;
    timer = setTimeout(tick, delayMs);
  }

  async function tick(): Promise<void> {
    timer = undefined;
    let failed = false;
    const read = poll();
    inFlight = read.then(() => {}, () => {});
    try {
      const found = await read;
      if (found !== undefined) {
        emptyReads = found > 0 ? 0 : emptyReads + 1;
        interval = emptyReads < QUIET_READS ? pollMs : Math.min(interval * 2, pollMaxMs);
      }
    } catch (error) {
      failed = true;
      warnPoll(error);
    }
    inFlight = undefined;
    // Reading the stream's end again at once only when a reset raced a poll that succeeded.
    schedule(cursor === undefined && !failed ? 0 : interval);
  }

  /** Something happened here: others are likely to answer soon, so read at the fast pace again. */
  function quicken(): void {
    emptyReads = 0;
    if (interval === pollMs) return;
    interval = pollMs;
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    schedule(pollMs);
  }

  return {
    publish(event) {
      deliver(event);
      if (closed) return;
      quicken();
      try {
        const write: Promise<void> = redis.xadd(stream, '*', { o: origin, e: JSON.stringify(event) }, { trim }).then(
          () => void writes.delete(write),
          (error: unknown) => {
            writes.delete(write);
            warnPublish(error);
          },
        );
        writes.add(write);
      } catch (error) {
        warnPublish(error);
      }
    },

    subscribe(listener) {
      if (closed) return () => {};
      if (listeners.size === 0) [interval, emptyReads] = [pollMs, 0];
      listeners.add(listener);
      schedule(0);
      let live = true;
      return () => {
        if (!live) return;
        live = false;
        listeners.delete(listener);
        if (listeners.size > 0) return;
        epoch++;
        cursor = undefined;
        clearTimeout(timer);
        timer = undefined;
      };
    },

    async flush() {
      await Promise.allSettled(writes);
    },

    async close() {
      closed = true;
      listeners.clear();
      clearTimeout(timer);
      timer = undefined;
      await Promise.allSettled([inFlight, ...writes]);
    },
  };
}
