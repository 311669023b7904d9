// Spans to AWS X-Ray as its own segment documents, over UDP to the daemon Lambda runs when active
// tracing is on (AWS_XRAY_DAEMON_ADDRESS), as the X-Ray SDKs do: no SDK, no HTTP call. Spans are
// kept until the adapter flushes (after the response), then sent one document per tree: the
// request's span with its descendants nested as subsegments, itself a subsegment of Lambda's
// function segment, so X-Ray shows them under the invocation. Node-only, hence here.
import type { Socket } from 'node:dgram';
import type { SpanExporter, SpanRecord } from '../trace.ts';
import { xrayTraceId } from '../trace.ts';

const HEADER = '{"format":"json","version":1}\n';
/** X-Ray's names: letters, digits, whitespace and `_.:/%&#=+\-@`, at most 200. */
const name = (text: string) => (/^[\w\s.:/%&#=+\\\-@]{1,200}$/.test(text) ? text : text.replace(/[^\p{L}\p{N}\s_.:/%&#=+\\\-@]/gu, '_').slice(0, 200));
const AWS_SERVICES = /^(DynamoDB|S3|Lambda|SecretsManager)\./;

/** `host:port`, or the daemon's `udp:host:port tcp:host:port` form. */
export function daemonAddress(value: string): { host: string; port: number } {
  const udp = /(?:^|\s)udp:([^\s]+)/.exec(value)?.[1] ?? value.trim();
  const at = udp.lastIndexOf(':');
  const port = Number(udp.slice(at + 1));
  if (at < 1 || !Number.isInteger(port)) throw new Error(`AWS_XRAY_DAEMON_ADDRESS: expected host:port, got "${value}"`);
  return { host: udp.slice(0, at), port };
}

type Segment = ReturnType<typeof segmentOf>;
/** A datagram stays under this; a larger tree is sent a document per span. */
const MAX_DATAGRAM = 60_000;

/** One span as an X-Ray (sub)segment document, to be sent alone. */
export function segmentOf(span: SpanRecord) {
  const annotations = Object.fromEntries(Object.entries(span.attributes).filter(([k, v]) => v !== undefined && /^(mcp|gen_ai|http)\./.test(k)).map(([k, v]) => [k.replace(/\./g, '_'), v]));
  return {
    name: name(span.parentSpanId ? span.name : span.service),
    id: span.spanId,
    trace_id: xrayTraceId(span.traceId),
    ...(span.parentSpanId && { parent_id: span.parentSpanId, type: 'subsegment' }),
    ...(span.kind === 'client' && { namespace: AWS_SERVICES.test(span.name) ? 'aws' : 'remote' }),
    start_time: span.startMs / 1000,
    end_time: span.endMs / 1000,
    ...(Object.keys(annotations).length && { annotations }),
    metadata: { default: { ...span.attributes, kind: span.kind, ...(span.links && { links: span.links }) } },
    ...(span.error && { fault: true, cause: { exceptions: [{ message: span.error }] } }),
  };
}

export function xrayExporter(address: string): SpanExporter {
  const { host, port } = daemonAddress(address);
  let socket: Promise<Socket> | undefined;
  // Connected once, so a send neither resolves the address nor binds again.
  const open = () =>
    (socket ??= import('node:dgram').then(
      ({ createSocket }) =>
        new Promise<Socket>((resolve) => {
          const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
          s.unref();
          // A daemon that is not there must not crash the function: its datagrams are lost, as X-Ray's SDKs lose them.
          s.on('error', () => {});
          s.connect(port, host, () => resolve(s));
        }),
    ));
  let spans: SpanRecord[] = [];
  return {
    export(span) {
      spans.push(span);
    },
    async flush() {
      if (spans.length === 0) return;
      const batch = spans;
      spans = [];
      const s = await open();
      // Not awaited: Node hands a datagram to the kernel at once when it can, and the X-Ray SDKs
      // do not wait either; waiting for each callback costs the invocation an event-loop turn.
      for (const document of documents(batch)) s.send(HEADER + document);
    },
  };
}

/** The batch as documents: each tree of spans (parents in the batch) nested under its root; a tree too large for a datagram, a document per span. */
export function documents(batch: SpanRecord[]): string[] {
  const byId = new Map(batch.map((span) => [span.spanId, span]));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const span of batch) {
    if (span.parentSpanId && byId.has(span.parentSpanId)) children.set(span.parentSpanId, [...(children.get(span.parentSpanId) ?? []), span]);
    else roots.push(span);
  }
  const members = (span: SpanRecord): SpanRecord[] => [span, ...(children.get(span.spanId) ?? []).flatMap(members)];
  // A nested subsegment carries none of the fields of a document sent alone (trace, parent, type).
  const nested = (span: SpanRecord): object => {
    const { trace_id: _trace, parent_id: _parent, type: _type, ...rest } = segmentOf(span) as Segment & { parent_id?: string; type?: string };
    return withChildren(rest, span);
  };
  const withChildren = (segment: object, span: SpanRecord) => {
    const kids = children.get(span.spanId);
    return kids ? { ...segment, subsegments: kids.map(nested) } : segment;
  };
  return roots.flatMap((root) => {
    const document = JSON.stringify(withChildren(segmentOf(root), root));
    return document.length <= MAX_DATAGRAM ? [document] : members(root).map((span) => JSON.stringify(segmentOf(span)));
  });
}
