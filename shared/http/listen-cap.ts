// Ends a `subscriptions/listen` stream gracefully once it has been open for the stream cap
// (MCP_STREAM_MAX_SECONDS): the listen request's final result, then the end of the stream, so the
// client knows the subscription completed and may listen again. On Lambda an open stream holds
// an invocation; without a cap it would run into the function timeout and fail as an error.
// The same ending when the instance drains (a container shutting down). Also releases the
// stream's lease when the stream ends, however it ends (for the stream caps).
import { SUBSCRIPTION_ID_META } from '../protocol/wire.ts';
import type { HeldStream } from './open-streams.ts';
import { messageEventBytes } from './sse.ts';

/** `maxMs` 0 leaves the stream open until the client leaves (or the instance drains); the lease is released once either way. */
export function capListenStream(response: Response, maxMs: number, id: string | number | null, lease: HeldStream): Response {
  const ended = () => lease.release();
  if (!response.body || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    ended();
    return response;
  }
  const upstream = response.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const finalFrame = JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META]: id } } });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        ended();
        controller.enqueue(messageEventBytes(finalFrame));
        controller.close();
        // Ends the SDK's subscription: its stream's cancel unsubscribes from the event bus.
        void upstream.cancel().catch(() => {});
      };
      lease.onDrain(finish);
      if (maxMs > 0) timer = setTimeout(finish, maxMs);
    },
    async pull(controller) {
      const { done: finished, value } = await upstream.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      if (finished) {
        done = true;
        clearTimeout(timer);
        ended();
        controller.close();
      } else if (value) controller.enqueue(value);
    },
    cancel(reason) {
      done = true;
      clearTimeout(timer);
      ended();
      return upstream.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
