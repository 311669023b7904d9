// Spans to AWS X-Ray as its own segment documents, over UDP to the daemon Lambda runs when active
// tracing is on (AWS_XRAY_DAEMON_ADDRESS), as the X-Ray SDKs do: no SDK, no HTTP call. Spans are
// kept until the adapter flushes (after the response), then sent one datagram per tree: the
// request's span with its descendants nested as subsegments, itself a subsegment of Lambda's
// function segment, so X-Ray shows them under the invocation. Documents are written as text
// straight from the spans (no object per segment), on one socket connected at start-up, so a
// sampled request costs a few µs of string building and one send. Node-only, hence here.
import { createSocket } from 'node:dgram';
import type { Attributes, SpanExporter, SpanRecord } from '../trace.ts';

/**
 * X-Ray's form of a trace id, as trace.ts's `xrayTraceId` writes it. Not imported: this module is
 * loaded on demand, and a value it imported from trace.ts would put trace.ts in a bundle chunk of
 * its own, one more file for every cold start to load (test/core/echo-cold-start.test.ts).
 */
const xrayTraceId = (traceId: string) => `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;

const HEADER = '{"format":"json","version":1}\n';
/** X-Ray's names: letters, digits, whitespace and `_.:/%&#=+\-@`, at most 200. */
const name = (text: string) => (/^[\w\s.:/%&#=+\\\-@]{1,200}$/.test(text) ? text : text.replace(/[^\p{L}\p{N}\s_.:/%&#=+\\\-@]/gu, '_').slice(0, 200));
const AWS_SERVICES = /^(DynamoDB|S3|Lambda|SecretsManager)\./;
/** Attributes X-Ray indexes (annotations, searchable in filter expressions), dots made underscores. */
const ANNOTATED = /^(mcp|gen_ai|http)\./;
/** A datagram stays under this; a larger tree is sent a document per span. */
const MAX_DATAGRAM = 60_000;

/** `host:port`, or the daemon's `udp:host:port tcp:host:port` form. */
export function daemonAddress(value: string): { host: string; port: number } {
  const udp = /(?:^|\s)udp:([^\s]+)/.exec(value)?.[1] ?? value.trim();
  const at = udp.lastIndexOf(':');
  const port = Number(udp.slice(at + 1));
  if (at < 1 || !Number.isInteger(port)) throw new Error(`AWS_XRAY_DAEMON_ADDRESS: expected host:port, got "${value}"`);
  return { host: udp.slice(0, at), port };
}

const quote = JSON.stringify as (value: string) => string;

/** How an attribute key is written: in metadata, and as an annotation when X-Ray indexes it. Keys are few and fixed, so each is worked out once. */
const keyTexts = new Map<string, { metadata: string; annotation?: string }>();
const keyText = (key: string) => {
  let text = keyTexts.get(key);
  if (!text) keyTexts.set(key, (text = { metadata: `${quote(key)}:`, ...(ANNOTATED.test(key) && { annotation: `${quote(key.replace(/\./g, '_'))}:` }) }));
  return text;
};

/** `,"annotations":{…}` (when any) and `,"metadata":{"default":{…}}`, from one pass over the attributes. */
function attributesText(attributes: Attributes, span: SpanRecord): string {
  let annotations = '';
  let metadata = '';
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? quote(value) : typeof value === 'boolean' || Number.isFinite(value) ? String(value) : 'null';
    const { metadata: m, annotation } = keyText(key);
    metadata += `${m}${text},`;
    if (annotation) annotations += (annotations ? ',' : '') + annotation + text;
  }
  const links = span.links ? `,"links":${JSON.stringify(span.links)}` : '';
  return `${annotations ? `,"annotations":{${annotations}}` : ''},"metadata":{"default":{${metadata}"kind":"${span.kind}"${links}}}`;
}

/**
 * One span as a (sub)segment document. Sent alone it carries the trace, and its parent when it has
 * one; nested under its parent it carries neither. With `batch`, the spans in it whose parent it is
 * are written as its subsegments.
 */
export function segmentText(span: SpanRecord, alone: boolean, batch?: SpanRecord[]): string {
  let out = `{"name":${quote(name(span.parentSpanId ? span.name : span.service))},"id":"${span.spanId}"`;
  if (alone) out += `,"trace_id":"${xrayTraceId(span.traceId)}"${span.parentSpanId ? `,"parent_id":"${span.parentSpanId}","type":"subsegment"` : ''}`;
  if (span.kind === 'client') out += `,"namespace":"${AWS_SERVICES.test(span.name) ? 'aws' : 'remote'}"`;
  out += `,"start_time":${span.startMs / 1000},"end_time":${span.endMs / 1000}${attributesText(span.attributes, span)}`;
  if (span.error) out += `,"fault":true,"cause":{"exceptions":[{"message":${quote(span.error)}}]}`;
  let nested = '';
  if (batch) for (const child of batch) if (child.parentSpanId === span.spanId) nested += `${nested ? ',' : ''}${segmentText(child, false, batch)}`;
  return `${out}${nested ? `,"subsegments":[${nested}]` : ''}}`;
}

/** The spans of `root`'s tree in `batch`, root first. */
const members = (root: SpanRecord, batch: SpanRecord[]): SpanRecord[] => [
  root,
  ...batch.filter((s) => s.parentSpanId === root.spanId).flatMap((s) => members(s, batch)),
];

/** The batch as documents: each tree of spans (parents in the batch) nested under its root; a tree too large for a datagram, a document per span. */
export function documents(batch: SpanRecord[]): string[] {
  // A batch is a request's span and what ran under it, a handful: scanning it beats indexing it.
  const out: string[] = [];
  for (const root of batch) {
    if (root.parentSpanId !== undefined && batch.some((s) => s.spanId === root.parentSpanId)) continue;
    const document = segmentText(root, true, batch);
    if (document.length <= MAX_DATAGRAM) out.push(document);
    else for (const span of members(root, batch)) out.push(segmentText(span, true));
  }
  return out;
}

/**
 * Connects one UDP socket to the daemon when made (at start-up), so a send neither resolves the
 * address nor binds; documents flushed before the connection is up wait for it.
 */
export function xrayExporter(address: string): SpanExporter {
  const { host, port } = daemonAddress(address);
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.unref();
  // A daemon that is not there must not crash the function: its datagrams are lost, as X-Ray's SDKs lose them.
  socket.on('error', () => {});
  let waiting: string[] | undefined = [];
  socket.connect(port, host, () => {
    for (const datagram of waiting!) socket.send(datagram);
    waiting = undefined;
  });
  let spans: SpanRecord[] = [];
  return {
    export(span) {
      spans.push(span);
    },
    flush() {
      if (spans.length === 0) return Promise.resolve();
      const batch = spans;
      spans = [];
      // Not awaited: Node hands a datagram to the kernel at once when it can, and the X-Ray SDKs
      // do not wait either; waiting for each callback costs the invocation an event-loop turn.
      for (const document of documents(batch)) {
        if (waiting) waiting.push(HEADER + document);
        else socket.send(HEADER + document);
      }
      return Promise.resolve();
    },
  };
}
