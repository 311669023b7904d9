// The caps on open notification streams (legacy GET streams, `subscriptions/listen`): per caller
// on this instance always, and per caller and server-wide across instances when Redis counts them
// (stream-slots.ts: the only count that binds on Lambda). Says when a slot frees when it refuses.
import { HttpProtocolError, SERVER_ERROR } from '../protocol/errors.ts';
import { OpenStreams, type HeldStream } from './open-streams.ts';
import type { StreamClaim, StreamSlots } from './stream-slots.ts';

/**
 * A stream a cap counted in Redis refused: 429 for the caller's own cap, 503 for the server's (or
 * for a Redis that could not count it), and when a slot frees at the latest (the oldest stream
 * that cap counts reaches the stream cap).
 */
function streamRefusal({ refused, retryAfterSeconds: wait }: Extract<StreamClaim, { refused: unknown }>, perPrincipal: number, max: number): HttpProtocolError {
  if (refused === 'unreachable') {
    return new HttpProtocolError(
      503,
      SERVER_ERROR,
      `Notification streams are refused for now: the stream limit store (Redis) is unreachable, so the caps on open streams cannot be counted; calls still work; retry after ${wait ?? 5} s`,
      { 'retry-after': String(wait ?? 5) },
    );
  }
  if (refused === 'principal') {
    const retry = wait === undefined ? 'then retry' : `or retry after ${wait} s, when your oldest reaches the stream cap`;
    return new HttpProtocolError(
      429,
      SERVER_ERROR,
      `Too many open notification streams: at most ${perPrincipal} per caller at once across this server (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, ${retry}`,
      { 'retry-after': String(wait ?? 5) },
    );
  }
  const retry = wait === undefined ? 'retry later' : `retry after ${wait} s, when the oldest reaches the stream cap`;
  return new HttpProtocolError(
    503,
    SERVER_ERROR,
    `Too many notification streams open on this server: at most ${max} at once (MCP_MAX_OPEN_STREAMS), so calls keep the capacity they need; ${retry}`,
    { 'retry-after': String(wait ?? 30) },
  );
}

/**
 * Counts an open stream against its caller's cap (throws when over it); resolves to its lease.
 * `limitKey` is whom the caller counts as (principal.ts `limitKeyOf`: an anonymous caller's address).
 */
export type HoldStream = (limitKey: string) => Promise<HeldStream>;

/**
 * `perPrincipal` is MCP_STREAMS_PER_PRINCIPAL; without `slots` streams are counted on this
 * instance only. `instance` holds this instance's own cap and ends its streams when it drains.
 */
export function createStreamQuota(perPrincipal: number, slots: StreamSlots | undefined, instance = new OpenStreams()): HoldStream {
  const streams = new Map<string, number>();
  return async function holdStream(limitKey) {
    const held = instance.admit();
    const open = streams.get(limitKey) ?? 0;
    if (open >= perPrincipal) {
      held.release();
      throw new HttpProtocolError(
        429,
        SERVER_ERROR,
        `Too many open notification streams: at most ${perPrincipal} per caller on one server instance (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, then retry`,
        { 'retry-after': '5' },
      );
    }
    streams.set(limitKey, open + 1);
    let released = false;
    const releaseHere = () => {
      if (released) return;
      released = true;
      const left = (streams.get(limitKey) ?? 1) - 1;
      if (left > 0) streams.set(limitKey, left);
      else streams.delete(limitKey);
    };
    // claim() never throws: an unreachable Redis refuses the stream, or (failing open) leaves it
    // counted on this instance only.
    const slot = slots ? await slots.claim(limitKey) : { release: () => {} };
    if ('refused' in slot) {
      releaseHere();
      held.release();
      throw streamRefusal(slot, perPrincipal, slots!.max);
    }
    return {
      onDrain: held.onDrain,
      release: () => {
        releaseHere();
        slot.release();
        held.release();
      },
    };
  };
}
