// Traces: W3C trace context in (the `traceparent` header, the MCP `_meta.traceparent` of SEP-414,
// `X-Amzn-Trace-Id` from API Gateway, Lambda's own `_X_AMZN_TRACE_ID`), spans for the request, the
// MCP message, the tool, DynamoDB, S3, Redis and upstream calls, and out through an exporter the
// adapter chooses (trace-export.ts: JSON lines, OTLP/HTTP JSON; adapters/xray.ts: X-Ray segments).
// The current span rides AsyncLocalStorage (node:async_hooks, which Deno, Bun and workerd provide
// too), so the stores need no context threaded through. Off, a span is one getStore() and a call.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface SpanContext {
  /** 32 hex digits (W3C); X-Ray writes it `1-<first 8>-<last 24>`. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  sampled: boolean;
}

export type SpanKind = 'server' | 'client' | 'internal' | 'consumer';
export type Attributes = Record<string, string | number | boolean | undefined>;

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKind;
  service: string;
  /** Epoch milliseconds, fractional. */
  startMs: number;
  endMs: number;
  error?: string;
  attributes: Attributes;
  /** Other traces this span continues (a client's own trace beside Lambda's, a task's creating request). */
  links?: SpanContext[];
}

export interface SpanExporter {
  export(span: SpanRecord): void;
  /** Sends what is buffered; the Lambda adapter awaits it before the environment freezes. */
  flush?(): Promise<void>;
}

export interface Tracer {
  readonly service: string;
  readonly exporter: SpanExporter;
}

/** What runs in a request: its trace (always, when known) and, with tracing on, its open span. */
interface Active {
  context: SpanContext;
  tracer?: Tracer;
  span?: OpenSpan;
}

const storage = new AsyncLocalStorage<Active>();

const TRACEPARENT = /^00-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;
const ZERO_TRACE = /^0+$/;

/** A W3C `traceparent` (version 00), or undefined for anything else, all-zero ids included. */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  const m = typeof value === 'string' ? TRACEPARENT.exec(value.trim()) : null;
  if (!m || ZERO_TRACE.test(m[1]!) || ZERO_TRACE.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, sampled: (Number.parseInt(m[3]!, 16) & 1) === 1 };
}

export const formatTraceparent = (c: SpanContext) => `00-${c.traceId}-${c.spanId}-${c.sampled ? '01' : '00'}`;

/** `Root=1-xxxxxxxx-yyyy…;Parent=…;Sampled=1` (X-Ray's header and Lambda's variable); Parent may be absent. */
export function parseAmznTrace(value: string | null | undefined): (Omit<SpanContext, 'spanId'> & { spanId?: string }) | undefined {
  // In the order X-Ray writes them: one pass for the common header, each part alone otherwise.
  const all = value && /^Root=1-([\da-f]{8})-([\da-f]{24});Parent=([\da-f]{16});Sampled=([01])/.exec(value);
  if (all) return { traceId: all[1]! + all[2]!, spanId: all[3]!, sampled: all[4] === '1' };
  const root = value && /Root=1-([\da-f]{8})-([\da-f]{24})/.exec(value);
  if (!root) return undefined;
  const parent = /Parent=([\da-f]{16})/.exec(value)?.[1];
  return { traceId: root[1]! + root[2]!, ...(parent && { spanId: parent }), sampled: !/Sampled=0/.test(value) };
}

export const xrayTraceId = (traceId: string) => `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;

export const formatAmznTrace = (c: SpanContext) => `Root=${xrayTraceId(c.traceId)};Parent=${c.spanId};Sampled=${c.sampled ? 1 : 0}`;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** Random bytes drawn from a pool refilled 4 KiB at a time: one getRandomValues per ~500 ids, not one each. */
const pool = new Uint8Array(4096);
let used = pool.length;
const hex = (bytes: number) => {
  if (used + bytes > pool.length) crypto.getRandomValues(pool), (used = 0);
  let out = '';
  for (let i = 0; i < bytes; i++) out += HEX[pool[used++]!];
  return out;
};

/** A new span id; a new trace id starts with the time in seconds, as X-Ray requires of its ids. */
export const newSpanId = () => hex(8);
export const newTraceId = () =>
  Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0') + hex(12);

/** The trace the current code runs in (for log lines), with tracing on or off. */
export const currentTrace = (): SpanContext | undefined => storage.getStore()?.context;

/** The span being recorded here, if any. */
export const currentSpan = (): OpenSpan | undefined => storage.getStore()?.span;

/** Whether spans started here are recorded: tracing is on and the current trace is sampled. */
export const recording = (): boolean => storage.getStore()?.tracer !== undefined;

/** Runs `fn` in a known trace with tracing off: log lines then carry its id, and nothing is recorded. */
export const inTrace = <T>(context: SpanContext, fn: () => T): T => storage.run({ context }, fn);

/** A span being recorded; `run` makes it the parent of what `fn` starts. */
export interface OpenSpan {
  readonly context: SpanContext;
  set(attributes: Attributes): void;
  /** Names the span by what it turned out to serve (the request's span, once its message is read). */
  rename(name: string): void;
  run<T>(fn: () => T): T;
  end(error?: unknown): void;
}

export interface StartOptions {
  kind: SpanKind;
  /** The remote parent; absent, the current span, else a new trace. */
  parent?: SpanContext;
  attributes?: Attributes;
  links?: SpanContext[];
  /** performance.now() when the span really began. @default now */
  startedAt?: number;
}

const errorText = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 300);
const epochMs = (monotonic: number) => performance.timeOrigin + monotonic;

/** A recorded span: a class, not closures and spreads, since a sampled request makes several. */
class RecordingSpan implements OpenSpan {
  readonly context: SpanContext;
  private readonly startMs: number;
  private readonly attributes: Attributes;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    private name: string,
    private readonly options: StartOptions,
    private readonly parentSpanId: string | undefined,
    parent: SpanContext | undefined,
  ) {
    this.context = { traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), sampled: parent?.sampled ?? true };
    this.attributes = Object.assign({}, options.attributes);
    this.startMs = epochMs(options.startedAt ?? performance.now());
  }

  set(attributes: Attributes) {
    Object.assign(this.attributes, attributes);
  }

  rename(name: string) {
    this.name = name;
  }

  run<T>(fn: () => T): T {
    return storage.run({ context: this.context, tracer: this.tracer, span: this }, fn);
  }

  end(error?: unknown) {
    if (this.ended || !this.context.sampled) return;
    this.ended = true;
    const record: SpanRecord = {
      traceId: this.context.traceId,
      spanId: this.context.spanId,
      name: this.name,
      kind: this.options.kind,
      service: this.tracer.service,
      startMs: this.startMs,
      endMs: epochMs(performance.now()),
      attributes: this.attributes,
    };
    if (this.parentSpanId) record.parentSpanId = this.parentSpanId;
    if (error !== undefined) record.error = errorText(error);
    if (this.options.links?.length) record.links = this.options.links;
    this.tracer.exporter.export(record);
  }
}

/** Starts a span of `tracer`'s service. */
export function startSpan(tracer: Tracer, spanName: string, options: StartOptions): OpenSpan {
  const parent = options.parent ?? storage.getStore()?.context;
  return new RecordingSpan(tracer, spanName, options, parent?.spanId || undefined, parent);
}

/**
 * Runs `fn` in a child span of the current one (a store call, an upstream call, the tool); with
 * tracing off, or outside a traced request, it only calls `fn`.
 */
export function traced<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const tracer = storage.getStore()?.tracer;
  return tracer ? recordSpan(tracer, name, kind, attributes, fn) : fn();
}

async function recordSpan<T>(tracer: Tracer, name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const span = startSpan(tracer, name, { kind, attributes });
  try {
    const result = await span.run(fn);
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

/** The headers an outgoing call carries to continue the current trace (W3C, and X-Ray's for API Gateway), set on lower-cased `headers`. */
export function traceHeaders(headers: Record<string, string>): Record<string, string> {
  const context = currentTrace();
  if (context) {
    headers.traceparent = formatTraceparent(context);
    headers['x-amzn-trace-id'] = formatAmznTrace(context);
  }
  return headers;
}

type Middleware = (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: unknown) => Promise<unknown>;

/**
 * One span per AWS SDK call (retries included): `DynamoDB.GetItem`, `S3.PutObject`. Typed by
 * shape, so this module imports no SDK.
 */
export function traceAwsClient(client: { middlewareStack: object }, service: string) {
  (client.middlewareStack as { add(m: Middleware, o: { step: 'initialize'; name: string }): void }).add(
    (next, context) => (args) =>
      traced(`${service}.${(context.commandName ?? 'Call').replace(/Command$/, '')}`, 'client', { 'rpc.system': 'aws-api', 'rpc.service': service }, () =>
        next(args),
      ),
    { step: 'initialize', name: 'mcpKitTrace' },
  );
}
