// Change events across instances over a Redis stream: publish delivers locally at once and appends
// to the stream; other instances poll it, only while they have listeners, with one poller per
// instance however many listeners it holds. Once QUIET_READS reads in a row found nothing, the
// interval doubles from pollMs up to pollMaxMs, and it falls back to pollMs as soon as a read finds
// entries or this instance publishes: an idle listener costs about 1/pollMaxMs Redis commands a
// second, not 1/pollMs. Delivery latency ≈ pollMs while events flow (events up to QUIET_READS ×
// pollMs apart keep the fast pace), at most pollMaxMs after a quiet spell;
// at most once; an event older than the retained length (maxLen) is lost to a slow poller. A first
// listener reads from its subscription's moment by this instance's clock (a stream id is the Redis
// server's milliseconds), not from wherever the stream's end is once a first read returns: an event
// appended in between (a change right after `subscriptions/listen` answered) reached no one. Left
// is the two clocks' skew, milliseconds between NTP-synced hosts.
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
  return (
    KINDS.has(kind as string) &&
    (kind !== 'resource_updated' || typeof uri === 'string') &&
    (params === undefined || (typeof params === 'object' && params !== null))
  );
}

/**
 * This instance's reads of the stream: the cursor, the pace and the one timer. Delivers what other
 * instances appended; polls only while `listening()` says someone here listens.
 */
class StreamReader {
  /** Last stream id seen, or (before any) the moment the first listener came: `<ms>-0` reads from that millisecond on. */
  private cursor = '0-0';
  /** Bumped on going idle, so a poll started in an earlier active period leaves no trace. */
  private epoch = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The next wait between reads: pollMs after activity, doubling while reads find nothing. */
  private interval: number;
  /** Reads in a row that found nothing. */
  private emptyReads = 0;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private readonly warnPoll: (error: unknown) => void;
  private readonly warnMalformed: (error: unknown) => void;

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly pace: { pollMs: number; pollMaxMs: number },
    private readonly origin: string,
    private readonly deliver: (event: ServerEvent) => void,
    private readonly listening: () => boolean,
    log: KitLogger,
  ) {
    this.interval = pace.pollMs;
    this.warnPoll = throttledWarning(log, 'event bus: reading Redis failed; retrying');
    this.warnMalformed = throttledWarning(log, 'event bus: skipped a malformed stream entry');
  }

  /** Reads what is new; resolves to the number of entries found. */
  private async poll(): Promise<number> {
    const started = this.epoch;
    const entries = await this.redis.xrange<Entry>(this.stream, `(${this.cursor}`, '+');
    let found = 0;
    for (const id in entries) {
      if (started !== this.epoch) return found;
      found++;
      this.cursor = id;
      const { o, e } = entries[id]!;
      if (o === this.origin) continue;
      if (isServerEvent(e)) this.deliver(e);
      else this.warnMalformed(new Error(`entry ${id} in ${this.stream}`));
    }
    return found;
  }

  schedule(delayMs: number): void {
    if (this.stopped || this.timer !== undefined || this.inFlight !== undefined || !this.listening()) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    const read = this.poll();
    this.inFlight = read.then(
      () => {},
      () => {},
    );
    try {
      const found = await read;
      this.emptyReads = found > 0 ? 0 : this.emptyReads + 1;
      this.interval = this.emptyReads < QUIET_READS ? this.pace.pollMs : Math.min(this.interval * 2, this.pace.pollMaxMs);
    } catch (error) {
      this.warnPoll(error);
    }
    this.inFlight = undefined;
    this.schedule(this.interval);
  }

  /** The first listener after none: read from this moment (entries of an earlier millisecond are older), at the fast pace. */
  start(): void {
    this.cursor = `${Date.now() - 1}-${Number.MAX_SAFE_INTEGER}`;
    [this.interval, this.emptyReads] = [this.pace.pollMs, 0];
  }

  /** Something happened here: others are likely to answer soon, so read at the fast pace again. */
  quicken(): void {
    this.emptyReads = 0;
    if (this.interval === this.pace.pollMs) return;
    this.interval = this.pace.pollMs;
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(this.pace.pollMs);
  }

  /** The last listener left: a poll of this active period leaves no trace; the next one starts afresh. */
  idle(): void {
    this.epoch++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** No more reads; resolves when the one in flight has ended. */
  stop(): Promise<void> | undefined {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.inFlight;
  }
}

export function createRedisEventBus({ redis, stream, pollMs, pollMaxMs = pollMs, log, maxLen = 1000 }: RedisEventBusOptions): RedisEventBus {
  // A UUID never parses as JSON, so the client's field parsing leaves it a string.
  const origin = crypto.randomUUID();
  const trim = { type: 'MAXLEN', threshold: maxLen, comparison: '~' } as const;
  const listeners = new Set<Listener>();
  const writes = new Set<Promise<void>>();
  const warnListener = throttledWarning(log, 'event listener failed');
  const warnPublish = throttledWarning(log, 'event bus: append to Redis failed; other instances miss the event');
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
  const reader = new StreamReader(redis, stream, { pollMs, pollMaxMs }, origin, deliver, () => listeners.size > 0, log);

  return {
    publish(event) {
      deliver(event);
      if (closed) return;
      reader.quicken();
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
      if (listeners.size === 0) reader.start();
      listeners.add(listener);
      reader.schedule(0);
      let live = true;
      return () => {
        if (!live) return;
        live = false;
        listeners.delete(listener);
        if (listeners.size === 0) reader.idle();
      };
    },

    async flush() {
      await Promise.allSettled(writes);
    },

    async close() {
      closed = true;
      listeners.clear();
      await Promise.allSettled([reader.stop(), ...writes]);
    },
  };
}
