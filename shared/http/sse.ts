// The one writer for the event streams (text/event-stream) the kit writes itself: a legacy
// session's GET stream, the direct lane's answer once a tool notifies, and the end of a listen
// stream. Frames a JSON-RPC message as an SSE `message` event, writes keep-alive comments, and
// ends once, however it ends (closed here, or cancelled by the reader). The framing is the only
// one: the slow-answer stream and a legacy POST's stream frame with it too.
const encoder = new TextEncoder();

/** One SSE `message` event carrying a serialized JSON-RPC message. */
export const messageEvent = (json: string) => `event: message\ndata: ${json}\n\n`;

/** The bytes of one SSE `message` event, for a stream relayed chunk by chunk. */
export const messageEventBytes = (json: string) => encoder.encode(messageEvent(json));

/** One SSE comment (`: keep-alive`), which clients ignore and proxies see as traffic. */
export const commentEvent = (text: string) => `: ${text}\n\n`;

export class SseWriter {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private keepAliveTimer?: ReturnType<typeof setInterval>;
  private ended = false;

  /** `onEnd` runs once when the stream ends: closed here, cancelled by its reader, or unwritable. */
  constructor(private readonly onEnd?: () => void) {
    this.body = new ReadableStream<Uint8Array>({ start: (controller) => void (this.controller = controller), cancel: () => this.stop() });
  }

  /** Raw SSE text: whole events or comments. A stream its reader left ends here. */
  write(text: string): void {
    if (this.ended) return;
    try {
      this.controller.enqueue(encoder.encode(text));
    } catch {
      this.stop();
    }
  }

  /** One JSON-RPC message as a `message` event. */
  send(message: unknown): void {
    this.write(messageEvent(JSON.stringify(message)));
  }

  /** A `: <comment>` every `ms` (none when 0) so proxies and clients see the stream alive. */
  keepAlive(ms: number, comment: string): void {
    if (ms <= 0) return;
    this.keepAliveTimer = setInterval(() => this.write(commentEvent(comment)), ms);
    this.keepAliveTimer.unref?.();
  }

  close(): void {
    this.stop();
    try {
      this.controller.close();
    } catch {
      // already closed or cancelled
    }
  }

  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAliveTimer);
    this.onEnd?.();
  }
}
