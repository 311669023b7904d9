// How much of an upstream's answer the client reads: a JSON body whole, or one SSE event, up to
// `maxAnswerBytes`, counted as the bytes arrive so nothing past the limit is ever buffered. Used by
// both paths: the raw path's transports (transport.ts) and the fetch the SDK's transport is given (http.ts).
import { UpstreamAnswerTooLargeError } from './errors.ts';

/**
 * 8 MiB: above Lambda's 6 MB buffered response and just under API Gateway REST's 10 MB payload (an
 * answer much larger could not reach a caller through a buffered gateway anyway), and small enough
 * that holding one (its bytes, its string, the parsed objects, the answer re-encoded: roughly 6 to 8
 * times the bytes) stays well inside the gateway function's memory while other work runs.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** Bytes since the last SSE event end (a blank line: two line ends of LF, CR or CRLF), carried across chunks. */
class EventCounter {
  private run = 0;
  private atLineStart = true;
  private afterCr = false;

  /**
   * The size of the largest event in `chunk` or still open after it, the bytes of its ending blank
   * line included. Only line ends are visited (found with indexOf): the bytes between cost nothing.
   */
  add(chunk: Uint8Array): number {
    let largest = 0;
    let from = 0;
    let nextLf = chunk.indexOf(LF);
    let nextCr = chunk.indexOf(CR);
    while (nextLf >= 0 || nextCr >= 0) {
      const at = nextLf < 0 ? nextCr : nextCr < 0 ? nextLf : Math.min(nextLf, nextCr);
      if (at > from) this.text(at - from);
      this.run++;
      const byte = chunk[at];
      if (byte === LF && this.afterCr) this.afterCr = false;
      else {
        if (this.atLineStart) {
          largest = Math.max(largest, this.run);
          this.run = 0;
        }
        this.atLineStart = true;
        this.afterCr = byte === CR;
      }
      from = at + 1;
      if (at === nextLf) nextLf = chunk.indexOf(LF, from);
      if (at === nextCr) nextCr = chunk.indexOf(CR, from);
    }
    if (chunk.length > from) this.text(chunk.length - from);
    return Math.max(largest, this.run);
  }

  /** `bytes` bytes that end no line. */
  private text(bytes: number) {
    this.run += bytes;
    this.atLineStart = false;
    this.afterCr = false;
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
