// How much of an upstream's answer the client reads: a JSON body whole, or one SSE event, up to
// `maxAnswerBytes`, counted as the bytes arrive so nothing past the limit is ever buffered. Used by
// both paths: the raw path's transports (transport.ts) and the fetch the SDK's transport is given (http.ts).
import { UpstreamAnswerTooLargeError } from './errors.ts';

/**
 * 8 MiB: above Lambda's 6 MB buffered response and API Gateway REST's 10 MB payload (an answer much
 * larger could not reach a caller of a buffered gateway anyway), and small enough that holding one
 * (bytes, its UTF-16 string, the parsed objects, the answer re-encoded: roughly 6 to 8 times the
 * bytes) stays well inside the gateway function's memory while other work runs.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** Bytes since the last SSE event end (a blank line: two line ends of LF, CR or CRLF), carried across chunks. */
class EventCounter {
  private run = 0;
  private atLineStart = true;
  private afterCr = false;

  /** The size of the largest event in `chunk` or still open after it, the bytes of its ending blank line included. */
  add(chunk: Uint8Array): number {
    let run = this.run;
    let largest = 0;
    let atLineStart = this.atLineStart;
    let afterCr = this.afterCr;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      run++;
      if (byte === LF && afterCr) afterCr = false;
      else if (byte === LF || byte === CR) {
        if (atLineStart) {
          if (run > largest) largest = run;
          run = 0;
        }
        atLineStart = true;
        afterCr = byte === CR;
      } else {
        atLineStart = false;
        afterCr = false;
      }
    }
    this.run = run;
    this.atLineStart = atLineStart;
    this.afterCr = afterCr;
    return Math.max(largest, run);
  }
}

/**
 * `body` as it arrives, failing with UpstreamAnswerTooLargeError once it (`sse`: one of its events)
 * passes `maxBytes`, or before reading when its Content-Length (`declared`) already does. Leaving
 * or failing ends the loop over `body`, which drops its rest.
 */
export async function* limitedBody(
  body: AsyncIterable<Uint8Array>,
  server: string,
  maxBytes: number,
  { sse = false, declared = null }: { sse?: boolean; declared?: string | null } = {},
): AsyncGenerator<Uint8Array> {
  if (!sse && declared !== null && Number(declared) > maxBytes) throw new UpstreamAnswerTooLargeError(server, maxBytes, false);
  const events = sse ? new EventCounter() : undefined;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    const size = events ? events.add(chunk) : total;
    if (size > maxBytes) throw new UpstreamAnswerTooLargeError(server, maxBytes, sse);
    yield chunk;
  }
}

/** A whole body as UTF-8 text (read from `limitedBody`, at most its limit is held). */
export async function textOf(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
  }
  if (chunks.length === 1) return new TextDecoder().decode(chunks[0]);
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(whole);
}
