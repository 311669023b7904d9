// Relays the app's Response into Lambda's response stream, as Hono's `streamHandle` does, with the
// event turned into a Request by Hono's own event processors (through `handle`). A body that is
// not an event stream is complete when the app returns: it is read and written in one write,
// without the stream pipeline `streamHandle` builds per response (an AbortController aborted at
// its end, and an error built by ending the stream twice: a sixth of a warm echo call). An event
// stream goes through the same pipeline as before, which cancels the body when the client leaves.
// The direct lane's JSON answer (security-headers.ts `jsonAnswer`) is written from its parts, and a
// request body is read from the event's text (body.ts `bodyTextGiven`): no web stream read per call.
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { handle } from 'hono/aws-lambda';
import { jsonAnswerParts } from '../http/security-headers.ts';
import { bodyTextGiven } from '../http/body.ts';

type App = { fetch: (request: Request, bindings: unknown) => Response | Promise<Response> };
type Prelude = { statusCode: number; headers: Record<string, string>; cookies: string[] };
type Result = { statusCode: number; headers?: Record<string, string>; body: string };

declare const awslambda: { HttpResponseStream: { from(stream: Writable, prelude: Prelude): Writable } };

/** Carries the Request Hono built out of `handle`, in its rejection: nothing shared between concurrent invocations. */
class Built {
  constructor(readonly request: Request) {}
}

/** The Request Hono builds from `event`, or the result Hono answers when the event makes none (a bad URL: 400). */
function requestMaker(): (event: { body?: unknown; isBase64Encoded?: boolean }) => Promise<Request | Result> {
  // `handle` builds the Request and hands it to the app's fetch; this fetch stops there, carrying it.
  const capture = handle({ fetch: (request: Request) => Promise.reject(new Built(request)) } as never) as (event: unknown, context: unknown) => Promise<Result>;
  return async (event) => {
    try {
      return await capture(event, {});
    } catch (error) {
      if (!(error instanceof Built)) throw error;
      // The body Hono encoded from the event's text: read as that text, not decoded back from its stream.
      if (typeof event.body === 'string' && event.body && !event.isBase64Encoded) bodyTextGiven(error.request, event.body);
      return error.request;
    }
  };
}

/** The body's chunks; when the client leaves (the pipeline stops pulling), the body is cancelled so its stream frees its slot and timers now, not at its cap. */
async function* chunks(reader: ReadableStreamDefaultReader<Uint8Array>) {
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) yield read.value;
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function writeResponse(response: Response, stream: Writable) {
  // The direct lane's JSON answer is written from what it was built of: no header walk, no body read.
  const parts = jsonAnswerParts(response);
  // write(), not end(text): the runtime sends the prelude on the first write() only.
  if (parts) {
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: parts.status, headers: parts.headers, cookies: [] });
    out.write(parts.text);
    return void out.end();
  }
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') cookies.push(value);
    else headers[name] = value;
  });
  const out = awslambda.HttpResponseStream.from(stream, { statusCode: response.status, headers, cookies });
  try {
    if (!response.body) out.write('');
    else if (headers['content-type']?.startsWith('text/event-stream')) await pipeline(chunks(response.body.getReader()), out);
    else out.write(new Uint8Array(await response.arrayBuffer()));
  } catch (error) {
    console.error('Error processing request:', error);
    out.write('Internal Server Error');
  } finally {
    if (!out.writableEnded) out.end();
  }
}

/** `streamHandle(app)`'s handler body, for `awslambda.streamifyResponse`. */
export function streamResponses(app: App) {
  const toRequest = requestMaker();
  return async (event: { requestContext?: unknown; body?: unknown; isBase64Encoded?: boolean }, stream: Writable, context: unknown): Promise<void> => {
    let made: Request | Result;
    try {
      made = await toRequest(event);
    } catch (error) {
      console.error('Error processing request:', error);
      made = { statusCode: 500, body: 'Internal Server Error' };
    }
    if (!(made instanceof Request)) return writeResponse(new Response(made.body, { status: made.statusCode, headers: made.headers }), stream);
    let response: Response;
    try {
      response = await app.fetch(made, { event, requestContext: event.requestContext, context });
    } catch (error) {
      console.error('Error processing request:', error);
      const out = awslambda.HttpResponseStream.from(stream, { statusCode: 500, headers: {}, cookies: [] });
      out.write('Internal Server Error');
      return void out.end();
    }
    return writeResponse(response, stream);
  };
}
