// Hands a client message to the exchange that waits for it, on whatever instance that exchange
// runs. On Lambda each execution environment serves one request at a time, so a 2025-era
// client's reply to a server-to-client request, or its `notifications/cancelled`, always lands
// in another environment than the tool call it belongs to. The receiving instance drops the
// message into the exchange's box; the exchange, busy streaming its response and so never
// frozen, polls its box: quickly while it awaits a reply, slowly otherwise, not at all for calls
// that end before the first poll. Boxes live in Redis when it is configured, else in the table.
// Delivery is at most once; a message for an exchange that already ended expires unread.
import type { KitLogger } from '../log.ts';
import { throttledWarning } from '../redis.ts';

export interface RelayWatch {
  /** Polls at the fast interval while true (a reply is awaited), the slow one otherwise. */
  hurry(on: boolean): void;
  stop(): void;
}

export interface Relay {
  /** Where boxes live: `redis` or `table`. */
  readonly kind: 'redis' | 'table';
  /** Drops a message into a box; any instance may call it. */
  send(box: string, message: unknown): Promise<void>;
  /** Polls a box for as long as the exchange runs, handing each message to `deliver`. */
  watch(box: string, deliver: (message: unknown) => void): RelayWatch;
}

/** The two operations a store provides: append to a box, and take everything in it. */
export interface RelayStore {
  kind: Relay['kind'];
  push(box: string, message: unknown, ttlSeconds: number): Promise<void>;
  drain(box: string): Promise<unknown[]>;
}

export interface RelayTiming {
  /** Poll interval while a reply is awaited: the hand-over latency. @default 100 */
  fastMs?: number;
  /** Poll interval otherwise, and the delay of the first poll: the cancellation latency. @default 400 */
  slowMs?: number;
  /** How long an undelivered message is kept. @default 300 */
  ttlSeconds?: number;
}

export function createRelay(store: RelayStore, log: KitLogger, timing: RelayTiming = {}): Relay {
  const fastMs = timing.fastMs ?? 100;
  const slowMs = timing.slowMs ?? 400;
  const ttlSeconds = timing.ttlSeconds ?? 300;
  const warnPoll = throttledWarning(log, 'relay: reading a box failed; retrying');
  return {
    kind: store.kind,
    send: (box, message) => store.push(box, message, ttlSeconds),
    watch(box, deliver) {
      let fast = false;
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let polling = false;
      const schedule = (ms: number) => {
        clearTimeout(timer);
        if (!stopped && !polling) timer = setTimeout(poll, ms);
      };
      async function poll() {
        polling = true;
        try {
          for (const message of await store.drain(box)) if (!stopped) deliver(message);
        } catch (error) {
          warnPoll(error);
        } finally {
          polling = false;
        }
        schedule(fast ? fastMs : slowMs);
      }
      schedule(slowMs);
      return {
        hurry(on) {
          if (on === fast) return;
          fast = on;
          if (on) schedule(fastMs);
        },
        stop() {
          stopped = true;
          clearTimeout(timer);
        },
      };
    },
  };
}
