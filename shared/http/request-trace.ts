// A request's place in a trace, for app.ts: one span around the whole request (a streamed answer's
// until its body ends), named for its JSON-RPC message once read (`tools/call echo`), and a span of
// the message's own only when its `_meta.traceparent` (SEP-414) names another parent: one span per
// request is what tracing costs.
// With tracing off nothing is recorded, but a request that arrives in a trace runs in it, so its
// log lines carry the trace id.
import { whenBodyEnds } from './access-log.ts';
import { currentSpan, inTrace, recording, parseAmznTrace, parseTraceparent, startSpan, currentTrace, type SpanContext, type Tracer } from '../trace.ts';

/**
 * Who parents a request's span: Lambda's own trace (API Gateway's, which CloudFront and API
 * Gateway carry as X-Amzn-Trace-Id) when the adapter has one, else the client's `traceparent`,
 * else an `X-Amzn-Trace-Id` header. A client trace that is not the parent becomes a link.
 */
export function incomingTrace(request: Request, ambient?: string): { parent?: SpanContext; links: SpanContext[] } {
  const client = parseTraceparent(request.headers.get('traceparent'));
  const amzn = parseAmznTrace(ambient) ?? parseAmznTrace(request.headers.get('x-amzn-trace-id'));
  // An X-Ray header without Parent starts the trace here: its id, no parent span.
  const lambda = amzn && (ambient !== undefined || !client) ? { ...amzn, spanId: amzn.spanId ?? '' } : undefined;
  const parent = lambda ?? client;
  return { ...(parent && { parent }), links: client && parent !== client && client.traceId !== parent?.traceId ? [client] : [] };
}

export interface RequestTracing {
  tracer?: Tracer;
  /** Lambda's `_X_AMZN_TRACE_ID` for the invocation, when the adapter has one. */
  ambient?: () => string | undefined;
}

/**
 * The route's handler, `serve` inside each request's HTTP span (tracing on, the trace sampled), or
 * only inside the trace the request arrived in (a parent that says not sampled, or with tracing
 * off a client's `traceparent`): then nothing is recorded here or below, and the context still
 * travels to upstreams and log lines. Chosen once: with tracing off a request costs a header read.
 * `path` is the route's.
 */
export function inRequestTrace<C extends { req: { raw: Request } }>(
  tracing: RequestTracing,
  path: string,
  serve: (c: C) => Promise<Response>,
): (c: C) => Promise<Response> {
  const { tracer } = tracing;
  if (tracer) return (c) => traceRequest(tracer, tracing.ambient, c.req.raw, path, performance.now(), () => serve(c));
  return (c) => {
    // Off: only a client's own trace is worth binding; Lambda's is in its variable, which log lines read.
    const client = parseTraceparent(c.req.raw.headers.get('traceparent'));
    return client ? inTrace(client, () => serve(c)) : serve(c);
  };
}

function traceRequest(
  tracer: Tracer,
  ambient: RequestTracing['ambient'],
  request: Request,
  path: string,
  startedAt: number,
  serve: () => Promise<Response>,
): Promise<Response> {
  const { parent, links } = incomingTrace(request, ambient?.());
  if (parent?.sampled === false) return parent.spanId ? inTrace(parent, serve) : serve();
  return recordRequest(tracer, parent, links, request, path, startedAt, serve);
}

async function recordRequest(
  tracer: Tracer,
  parent: SpanContext | undefined,
  links: SpanContext[],
  request: Request,
  path: string,
  startedAt: number,
  serve: () => Promise<Response>,
): Promise<Response> {
  const span = startSpan(tracer, `${request.method} ${path}`, {
    kind: 'server',
    ...(parent && { parent }),
    links,
    startedAt,
    attributes: { 'http.request.method': request.method, 'url.path': path },
  });
  try {
    const response = await span.run(serve);
    span.set({ 'http.response.status_code': response.status });
    const failed = response.status >= 500 ? `HTTP ${response.status}` : undefined;
    // A streamed answer (a long tool's SSE, a listen stream, a legacy GET stream) is served until its body ends.
    if (response.body && response.headers.get('content-type')?.startsWith('text/event-stream'))
      return whenBodyEnds(response, (error) => span.end(error ?? failed));
    span.end(failed);
    return response;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

type Message = { method?: string; params?: { name?: unknown; _meta?: Record<string, unknown> } };

/**
 * Serves one JSON-RPC message: names the request's span for it (`tools/call echo`, OpenTelemetry's
 * MCP conventions), or, when its `_meta.traceparent` names a parent, inside a span of its own, the
 * child of that parent, linked to the request's span. Off, a `_meta` trace only names the trace of
 * a request that arrived in none.
 */
export function traceMessage<T>(tracer: Tracer | undefined, message: Message, serve: () => Promise<T>): Promise<T> {
  const meta = parseTraceparent(message.params?._meta?.traceparent);
  if (!tracer || !(recording() || meta?.sampled)) return meta && !currentTrace() ? inTrace(meta, serve) : serve();
  const http = currentTrace();
  const tool = message.method === 'tools/call' ? String(message.params?.name) : undefined;
  const name = tool ? `${message.method} ${tool}` : String(message.method);
  const request = currentSpan();
  if (!meta && request) {
    request.rename(name);
    request.set({ 'mcp.method.name': message.method, ...(tool && { 'gen_ai.tool.name': tool }) });
    return serve();
  }
  const span = startSpan(tracer, name, {
    kind: 'server',
    ...(meta && { parent: meta, ...(http && http.traceId !== meta.traceId && { links: [http] }) }),
    attributes: { 'mcp.method.name': message.method, ...(tool && { 'gen_ai.tool.name': tool }) },
  });
  return span.run(serve).then(
    (result) => (span.end(), result),
    (error: unknown) => {
      span.end(error);
      throw error;
    },
  );
}
