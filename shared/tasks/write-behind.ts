// A run's frequent writes to its task's items (progress messages, checkpoints), at most one per
// interval: the first goes at once, later ones wait for the interval to pass and only the last
// waiting value is written; `flush()` writes what still waits (the run ended or stops), so no
// value a run handed over is lost, unless `drop()` says it no longer matters. A checkpoint is
// billed on the whole task item, so the interval bounds what a tool that saves in a loop costs.

export interface WriteBehind<T> {
  /** Hands a value over; the promise is its write's when it goes at once, else settled at once. */
  offer(value: T): Promise<void>;
  /** Writes the waiting value now, if any, and waits for every write so far. */
  flush(): Promise<void>;
  /** Forgets the waiting value, if any: it is not written. */
  drop(): void;
  /** The error of a deferred write that failed since the last call, once. */
  takeFailure(): unknown;
}

export function writeBehind<T>(write: (value: T) => Promise<void>, everyMs: number): WriteBehind<T> {
  let last = Number.NEGATIVE_INFINITY;
  let waiting: { value: T } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown;
  /** A deferred write's failure is kept for takeFailure; an immediate one's goes to its caller. */
  const send = (value: T, deferred: boolean) => {
    last = Date.now();
    waiting = undefined;
    const sent = writing.then(() => write(value));
    writing = sent.catch((error: unknown) => void (deferred && (failure = error)));
    return sent;
  };
  const later = () => {
    timer = undefined;
    if (waiting) void send(waiting.value, true).catch(() => {});
  };
  return {
    offer(value) {
      if (Date.now() - last >= everyMs && !timer) return send(value, false);
      waiting = { value };
      timer ??= setTimeout(later, Math.max(0, last + everyMs - Date.now()));
      return Promise.resolve();
    },
    async flush() {
      clearTimeout(timer);
      timer = undefined;
      if (waiting) void send(waiting.value, true).catch(() => {});
      await writing;
    },
    drop() {
      clearTimeout(timer);
      timer = undefined;
      waiting = undefined;
    },
    takeFailure() {
      const error = failure;
      failure = undefined;
      return error;
    },
  };
}
