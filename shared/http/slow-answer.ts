// Keeps a slow answer alive on the deployed path. CloudFront cuts a response that sends no byte
// for its origin response timeout (60 s as the construct sets it), and Hono's Lambda adapter
// sends nothing until the app returns a Response: a tool that runs longer and answers JSON
// would reach the client as a 504. So an answer that is not ready within the keep-alive interval
// becomes a 200 SSE stream at that moment: keep-alive comments until the answer is ready, then
// the answer as an SSE message (or, when the handler streamed it, its own frames). Quick answers
// stay as they are. Only for clients that accept SSE, and only for one JSON-RPC request.
const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(': keep-alive\n\n');

const isSse = (response: Response) => (response.headers.get('content-type') ?? '').includes('text/event-stream');

/** What to tell the client when the answer failed after the stream opened (its HTTP status is sent). */
export type LateError = (error: unknown) => { code: number; message: string };

function errorFrame(id: string | number | null, error: { code: number; message: string }) {
  return encoder.encode(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error })}\n\n`);
}

/**
 * Deadlines of answers not ready yet, on one shared timer instead of a timer set and cleared per
 * request: the timer stays armed for the earliest deadline, so back-to-back quick answers only add
 * and delete an entry. It never holds the process open: a pending answer's request does.
 */
const pending = new Set<{ at: number; open: () => void }>();
let timer: ReturnType<typeof setTimeout> | undefined;
let armedAt = Infinity;

function arm(at: number) {
  armedAt = at;
  timer = setTimeout(fire, Math.max(0, at - performance.now()));
  (timer as { unref?: () => void }).unref?.();
}

function fire() {
  timer = undefined;
  armedAt = Infinity;
  const now = performance.now();
  let next = Infinity;
  for (const entry of pending) {
    if (entry.at <= now) {
      pending.delete(entry);
      entry.open();
    } else next = Math.min(next, entry.at);
  }
  if (next !== Infinity) arm(next);
}

function watch(entry: { at: number; open: () => void }) {
  pending.add(entry);
  if (entry.at < armedAt) {
    if (timer) clearTimeout(timer);
    arm(entry.at);
  }
}

function unwatch(entry: { at: number; open: () => void }) {
  pending.delete(entry);
}

export function streamIfSlow(answer: Promise<Response>, afterMs: number, id: string | number | null, lateError: LateError): Promise<Response> {
  if (afterMs <= 0) return answer;
  return new Promise<Response>((resolve, reject) => {
    let opened = false;
    const entry = {
      at: performance.now() + afterMs,
      open: () => {
        opened = true;
        resolve(
          new Response(keepAlive(answer, afterMs, id, lateError), {
            status: 200,
            headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
          }),
        );
      },
    };
    watch(entry);
    answer.then(
      (response) => {
        if (opened) return;
        unwatch(entry);
        resolve(response);
      },
      (error: unknown) => {
        if (opened) return;
        unwatch(entry);
        reject(error);
      },
    );
  });
}

function keepAlive(answer: Promise<Response>, intervalMs: number, id: string | number | null, lateError: LateError): ReadableStream<Uint8Array> {
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
        if (text) send(encoder.encode(`event: message\ndata: ${text.replace(/\n/g, '')}\n\n`));
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
