// Change events within one process, for servers without Redis: the same contract as the SDK's
// in-memory bus (a listener that throws is reported and the rest still hear the event), owned
// here so that creating a server does not load the SDK.
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

export class MemoryEventBus implements ServerEventBus {
  private readonly listeners = new Set<(event: ServerEvent) => void>();

  constructor(private readonly onerror: (error: Error) => void) {}

  publish(event: ServerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onerror(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    const own = (event: ServerEvent) => listener(event);
    this.listeners.add(own);
    return () => void this.listeners.delete(own);
  }
}
