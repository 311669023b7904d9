// The access line of each MCP request: a request id (the caller's `x-request-id`, else Lambda's
// invocation id, else a new one; echoed on the response), what the request was (the note later
// steps fill in, a typed context variable), its status and how long it took, written when a
// streamed tool answer ends. The per-tool metrics ride on the same line. A span around the request
// would wrap `next(c)` here.
import type { Step } from './steps.ts';
import { jsonString, traceMembers, type AccessLog } from '../log.ts';
import type { ToolMetrics, ToolOutcome } from '../metrics.ts';
import { ANONYMOUS, type Principal } from '../principal.ts';
import { isJsonAnswer, type AnswerHeaders } from './security-headers.ts';

/**
 * What the access line says about a request; `lane`: which lane answered (the direct lane or the
 * SDK's), for modern and legacy requests alike.
 * `outcome` is what the tool runner reported, `rateLimited` that a rate limit refused the request.
 */
export interface AccessNote {
  sessionId?: string;
  method?: string;
  tool?: string;
  era?: string;
  lane?: 'direct' | 'sdk';
  outcome?: ToolOutcome;
  rateLimited?: boolean;
}

/** What the MCP endpoint's middleware hands on through Hono's context. */
export type KitEnv = {
  Variables: {
    requestId: string;
    note: AccessNote;
    /** `anonymous` until authentication names the caller. */
    principal: Principal;
    /** The headers every answer to the request gets, gathered by the steps before it is served (security-headers.ts). */
    answerHeaders: AnswerHeaders;
  };
};

/** Callbacks waiting for the end of a body whenBodyEnds wrapped, by the wrapping response. */
const watchers = new WeakMap<Response, ((error?: unknown) => void)[]>();

/**
 * The same response, calling `done` once its body has been read to the end or abandoned (with the
 * error, when it failed). A response this made already gets `done` added to its list: the access
 * line and the request's span share one wrapper, not one each.
 */
export function whenBodyEnds(response: Response, done: (error?: unknown) => void): Response {
  const waiting = watchers.get(response);
  if (waiting) return (waiting.push(done), response);
  const reader = response.body!.getReader();
  const callbacks = [done];
  let called = false;
  const finish = (error?: unknown) => {
    if (called) return;
    called = true;
    for (const callback of callbacks) callback(error);
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          finish();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        finish(error);
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  const wrapped = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  watchers.set(wrapped, callbacks);
  return wrapped;
}

const member = (name: string, value: string | undefined) => (value === undefined ? '' : `,"${name}":${jsonString(value)}`);

/**
 * The line's own members in one string, as `JSON.stringify` of `{ requestId, traceId,
 * xray_trace_id, era, lane, sessionId, principal, method, tool, status, durationMs }` writes them
 * (absent fields left out), without building that object on every request. `trace` is
 * traceMembers' string.
 */
export function accessMembers(requestId: string, trace: string, note: AccessNote, principal: string, status: number, durationMs: number): string {
  return (
    `"requestId":${jsonString(requestId)}${trace}${member('era', note.era)}${member('lane', note.lane)}${member('sessionId', note.sessionId)}` +
    `,"principal":${jsonString(principal)}${member('method', note.method)}${member('tool', note.tool)},"status":${status},"durationMs":${durationMs}`
  );
}

export function accessLog(write: AccessLog, toolMetrics: ToolMetrics | undefined): Step<KitEnv> {
  // Unless no line would be written at all.
  const logged = !write.quiet || toolMetrics !== undefined;
  const line = (requestId: string, trace: string, note: AccessNote, principal: Principal, status: number, started: number) => {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    const metrics = note.tool && toolMetrics?.(note.tool, note.era ?? 'legacy', Date.now(), durationMs, note.outcome, status, note.rateLimited === true);
    if (write.quiet && !metrics) return;
    write(accessMembers(requestId, trace, note, principal.id, status, durationMs), metrics || undefined);
  };
  return async (c, next) => {
    const started = performance.now();
    const requestId = c.req.raw.headers.get('x-request-id')?.slice(0, 128) || lambdaRequestId(c.env) || crypto.randomUUID();
    const note: AccessNote = {};
    // Read here, inside the request's trace (app.ts), for a line that may be written after it.
    const trace = logged ? traceMembers() : '';
    c.set('requestId', requestId);
    c.set('note', note);
    c.set('principal', ANONYMOUS);
    c.get('answerHeaders')['x-request-id'] = requestId;
    let response = await next(c);
    const { status } = response;
    if (logged) {
      const principal = c.get('principal');
      // A streamed answer is logged when it ends, with how the tool ended and how long it all took.
      // The type first: on @hono/node-server, reading `body` turns its cheap response into a stream.
      if (note.tool && !isJsonAnswer(response) && response.headers.get('content-type')?.startsWith('text/event-stream') && response.body) {
        response = whenBodyEnds(response, () => line(requestId, trace, note, principal, status, started));
      } else line(requestId, trace, note, principal, status, started);
    }
    if (!isJsonAnswer(response)) response.headers.set('x-request-id', requestId);
    return response;
  };
}

/**
 * The invocation's id on Lambda (the adapter's bindings carry its context: `context` when streamed,
 * `lambdaContext` from Hono's buffered `handle`, which SAM local uses): the id Lambda's own log
 * lines give the request, and no random id drawn, so a cold start's first call does not load Web Crypto.
 */
function lambdaRequestId(env: unknown): string | undefined {
  const bindings = env as { context?: { awsRequestId?: unknown }; lambdaContext?: { awsRequestId?: unknown } } | undefined;
  const id = (bindings?.context ?? bindings?.lambdaContext)?.awsRequestId;
  return typeof id === 'string' && id ? id.slice(0, 128) : undefined;
}
