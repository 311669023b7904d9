// Work still running after the response that started it was sent: cache writes and event appends
// nobody waits for, and tool handlers that outlive their call (cancelled, or past their timeout).
// On Lambda the environment freezes once the invocation ends, so the adapter waits for this work
// first, for a bounded time; elsewhere it just runs on.
export class PendingWork {
  private readonly running = new Set<Promise<unknown>>();

  /** Tracks a promise until it settles; its outcome is the caller's business. */
  track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work.then(
      (): void => void this.running.delete(tracked),
      (): void => void this.running.delete(tracked),
    );
    this.running.add(tracked);
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when everything tracked has settled, or after `maxMs`; true when nothing is left. */
  async settled(maxMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
    while (this.running.size > 0) {
      const all = Promise.all(this.running).then(() => 'done' as const);
      if ((await Promise.race([all, deadline.then(() => 'late' as const)])) === 'late') break;
    }
    clearTimeout(timer);
    return this.running.size === 0;
  }
}
