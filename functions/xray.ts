// Spans to AWS X-Ray as its own segment documents, over UDP to the daemon Lambda runs when active
// tracing is on (AWS_XRAY_DAEMON_ADDRESS), as the X-Ray SDKs do: no SDK, no HTTP call, nothing
// awaited on the request's path. Each span becomes a subsegment of its parent (the request's of
// Lambda's function segment), so X-Ray shows them under the invocation. Node-only, hence here.
import type { Socket } from 'node:dgram';
import type { SpanExporter, SpanRecord } from '../shared/trace.ts';
import { xrayTraceId } from '../shared/trace.ts';

const HEADER = '{"format":"json","version":1}\n';
/** X-Ray's names: letters, digits, whitespace and `_.:/%&#=+\-@`, at most 200. */
const name = (text: string) => text.replace(/[^\p{L}\p{N}\s_.:/%&#=+\\\-@]/gu, '_').slice(0, 200);
const AWS_SERVICES = /^(DynamoDB|S3|Lambda|SecretsManager)\./;

/** `host:port`, or the daemon's `udp:host:port tcp:host:port` form. */
export function daemonAddress(value: string): { host: string; port: number } {
  const udp = /(?:^|\s)udp:([^\s]+)/.exec(value)?.[1] ?? value.trim();
  const at = udp.lastIndexOf(':');
  const port = Number(udp.slice(at + 1));
  if (at < 1 || !Number.isInteger(port)) throw new Error(`AWS_XRAY_DAEMON_ADDRESS: expected host:port, got "${value}"`);
  return { host: udp.slice(0, at), port };
}

/** One span as an X-Ray (sub)segment document. */
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
  const open = () =>
    (socket ??= import('node:dgram').then(({ createSocket }) => {
      const s = createSocket('udp4');
      s.unref();
      // A daemon that is not there must not crash the function.
      s.on('error', () => {});
      return s;
    }));
  const sent = new Set<Promise<void>>();
  return {
    export(span) {
      const sending = open()
        .then((s) => new Promise<void>((resolve) => s.send(HEADER + JSON.stringify(segmentOf(span)), port, host, () => resolve())))
        .finally(() => sent.delete(sending));
      sent.add(sending);
    },
    async flush() {
      await Promise.all(sent);
    },
  };
}
