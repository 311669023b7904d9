// The notification streams open on this instance: held against the instance's own capacity (a
// container task's MCP_CONTAINER_STREAMS; on Lambda, one request an environment, it never binds and Redis alone counts), and ended all at
// once, each with its final frame, when the instance shuts down (the container adapter's drain).
import { HttpProtocolError, SERVER_ERROR } from '../protocol/errors.ts';

/** One stream's place here: `onDrain` names what ends it now; `release` gives the place back. */
export interface HeldStream {
  onDrain(end: () => void): void;
  release(): void;
}

export class OpenStreams {
  private readonly ends = new Map<symbol, (() => void) | undefined>();
  private draining = false;

  /** `max`: most streams open here at once; 0, no cap of this instance's own. */
  constructor(readonly max = 0) {}

  get size(): number {
    return this.ends.size;
  }

  /** A place for one more stream, or 503 with Retry-After while draining or full. */
  admit(): HeldStream {
    if (this.draining) {
      throw new HttpProtocolError(
        503,
        SERVER_ERROR,
        'Service Unavailable: this server instance is shutting down and opens no new notification stream; retry, another instance takes it',
        { 'retry-after': '1' },
      );
    }
    if (this.max > 0 && this.ends.size >= this.max) {
      throw new HttpProtocolError(
        503,
        SERVER_ERROR,
        `Service Unavailable: this server instance holds its most notification streams (${this.max}, MCP_CONTAINER_STREAMS); retry, the load balancer may pick another instance`,
        { 'retry-after': '2' },
      );
    }
    const key = Symbol('stream');
    this.ends.set(key, undefined);
    return {
      onDrain: (end) => {
        if (!this.ends.has(key)) return;
        if (this.draining) end();
        else this.ends.set(key, end);
      },
      release: () => void this.ends.delete(key),
    };
  }

  /** Refuses new streams from now on and ends every open one; returns how many were open. */
  drain(): number {
    this.draining = true;
    const ends = [...this.ends.values()];
    for (const end of ends) end?.();
    return ends.length;
  }
}
