// Keeps a slow answer alive on the deployed path. CloudFront cuts a response that sends no byte
// for its origin response timeout (60 s as the construct sets it), and Hono's Lambda adapter
// sends nothing until the app returns a Response: a tool that runs longer and answers JSON
// would reach the client as a 504. So an answer that is not ready within the keep-alive interval
// becomes a 200 SSE stream at that moment: keep-alive comments until the answer is ready, then
// the answer as an SSE message (or, when the handler streamed it, its own frames). Quick answers
// stay as they are. Only for clients that accept SSE, and only for one JSON-RPC request.
import { commentEvent, messageEventBytes } from './sse.ts';

const KEEP_ALIVE = new TextEncoder().encode(commentEvent('keep-alive'));

const isSse = (response: Response) => (response.headers.get('content-type') ?? '').includes('text/event-stream');

/** What to tell the client when the answer to request `requestId` failed after the stream opened (its HTTP status is sent). */
export type LateError = (error: unknown, requestId: string) => { code: number; message: string };

function errorFrame(id: string | number | null, error: { code: number; message: string }) {
  return messageEventBytes(JSON.stringify({ jsonrpc: '2.0', id, error }));
}

/**
 * `answer`, or, when it is not ready within `afterMs`, a 200 SSE stream that keeps it alive (see
 * above); `id` is the request's JSON-RPC id, `requestId` its access line's, for a late failure.
 * A timer per request: Node keeps timers of one duration in one list in the order they were set,
 * on one native timer, so setting and clearing one is O(1) with any number of requests open
 * (bench/slow-answer-timer.ts measured it beside a shared timer of our own: as cheap with one
 * request open, half the cost with 1,000).
 */
export function streamIfSlow(
  answer: Promise<Response>,
  afterMs: number,
  id: string | number | null,
  requestId: string,
  lateError: LateError,
): Promise<Response> {
  if (afterMs <= 0) return answer;
  return new Promise<Response>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    // An answer ready within this turn's promise jobs (a quick tool's) needs no timer: it is set
    // on the next tick, which Node runs once they have all run, only for an answer still pending.
    process.nextTick(() => {
      if (settled) return;
      // Once the stream is resolved, the answer's own resolve or reject below does nothing.
      timer = setTimeout(
        () =>
          resolve(
            new Response(
              keepAlive(answer, afterMs, id, (error) => lateError(error, requestId)),
              { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } },
            ),
          ),
        afterMs,
      );
    });
    answer.then(
      (response) => {
        settled = true;
        clearTimeout(timer);
        resolve(response);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function keepAlive(
  answer: Promise<Response>,
  intervalMs: number,
  id: string | number | null,
  lateError: (error: unknown) => { code: number; message: string },
): ReadableStream<Uint8Array> {
  let beat: ReturnType<typeof setInterval> | undefined;
  let upstream: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (chunk: Uint8Array) => {
        if (!cancelled) controller.enqueue(chunk);
      };
      send(KEEP_ALIVE);
      beat = setInterval(() => send(KEEP_ALIVE), intervalMs);
      let response: Response;
      try {
        response = await answer;
      } catch (error) {
        clearInterval(beat);
        send(errorFrame(id, lateError(error)));
        if (!cancelled) controller.close();
        return;
      }
      if (!isSse(response) || !response.body) {
        clearInterval(beat);
        const text = await response.text();
        if (text) send(messageEventBytes(text.replace(/\n/g, '')));
        if (!cancelled) controller.close();
        return;
      }
      // The handler streams frames of its own (and keep-alives): relay them as they come.
      clearInterval(beat);
      upstream = response.body.getReader();
    },
    async pull(controller) {
      if (!upstream) return;
      const { done, value } = await upstream.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      cancelled = true;
      clearInterval(beat);
      return upstream?.cancel(reason) ?? answer.then((r) => r.body?.cancel(reason)).catch(() => {});
    },
  });
}
