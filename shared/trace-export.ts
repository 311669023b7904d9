// Where finished spans go, outside X-Ray (shared/adapters/xray.ts, Lambda only): one JSON line each on
// stdout (`"message":"span"`, beside the log lines), or OTLP/HTTP JSON posted with fetch to a
// collector (Jaeger, the OpenTelemetry Collector, ADOT), batched and sent within a second or when
// the adapter flushes. No OpenTelemetry SDK: the wire format is a few nested arrays.
import type { Attributes, SpanExporter, SpanKind, SpanRecord } from './trace.ts';

/** `{"message":"span","traceId":…,"spanId":…,"parentSpanId":…,"name":…,"durationMs":…}` per span. */
export function jsonLinesExporter(write = (line: string) => void process.stdout.write(line)): SpanExporter {
  return {
    export(span) {
      const durationMs = Math.round((span.endMs - span.startMs) * 1000) / 1000;
      write(`${JSON.stringify({ message: 'span', ...span, timestamp: new Date(span.startMs).toISOString(), durationMs })}\n`);
    },
  };
}

const KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, consumer: 5 };
const BATCH = 100;
const DELAY_MS = 1_000;

const nanos = (ms: number) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

const otlpAttributes = (attributes: Attributes) =>
  Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({
      key,
      value:
        typeof v === 'string'
          ? { stringValue: v }
          : typeof v === 'boolean'
            ? { boolValue: v }
            : Number.isInteger(v)
              ? { intValue: String(v) }
              : { doubleValue: v },
    }));

function otlpSpan(span: SpanRecord) {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(span.parentSpanId && { parentSpanId: span.parentSpanId }),
    name: span.name,
    kind: KIND[span.kind],
    startTimeUnixNano: nanos(span.startMs),
    endTimeUnixNano: nanos(span.endMs),
    attributes: otlpAttributes(span.attributes),
    ...(span.links && { links: span.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId })) }),
    status: span.error ? { code: 2, message: span.error } : { code: 1 },
  };
}

/** The OTLP/HTTP JSON body for spans of one service. */
export function otlpBody(service: string, spans: SpanRecord[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: otlpAttributes({ 'service.name': service }) },
        scopeSpans: [{ scope: { name: 'serverless-mcp-kit' }, spans: spans.map(otlpSpan) }],
      },
    ],
  };
}

/**
 * Posts spans to `endpoint` (…/v1/traces). A collector that is down loses the batch and says so
 * once per batch through `warn`; it never fails a request.
 */
export function otlpExporter(
  endpoint: string,
  service: string,
  warn: (message: string, data: Record<string, unknown>) => void,
  post: typeof fetch = fetch,
): SpanExporter {
  let buffer: SpanRecord[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const inFlight = new Set<Promise<void>>();
  const send = () => {
    clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const spans = buffer;
    buffer = [];
    const sending = post(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(otlpBody(service, spans)),
      signal: AbortSignal.timeout(5_000),
    })
      .then(async (response) => {
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      })
      .catch((error: unknown) =>
        warn('could not export spans', { endpoint, spans: spans.length, error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };
  return {
    export(span) {
      buffer.push(span);
      if (buffer.length >= BATCH) send();
      else if (!timer) {
        timer = setTimeout(send, DELAY_MS);
        (timer as { unref?: () => void }).unref?.();
      }
    },
    async flush() {
      send();
      await Promise.all(inFlight);
    },
  };
}
