// X-Ray on the modelled path, as active tracing has it when deployed: API Gateway (stage tracing
// on) starts or continues the trace and records its segment, Lambda records its service and
// function segments and hands the function `_X_AMZN_TRACE_ID` with the function segment as Parent,
// and a stand-in for the X-Ray daemon (AWS_XRAY_DAEMON_ADDRESS) receives the kit's subsegments over
// UDP as the real daemon does. Every request is sampled (X-Ray's default rule samples the first
// each second). Segments are kept for tests and, given a file, appended to it as JSON lines.
// https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { appendFileSync } from 'node:fs';

/** One segment document, as X-Ray stores it (the kit's carry their subsegments nested). */
export interface SegmentDocument {
  name: string;
  id: string;
  trace_id: string;
  parent_id?: string;
  type?: string;
  origin?: string;
  start_time: number;
  end_time: number;
  subsegments?: SegmentDocument[];
  [field: string]: unknown;
}

/** Where a traced hop sits: its trace, its parent, and whether the trace is recorded. */
export interface TraceContext {
  root: string;
  parent?: string;
  sampled: boolean;
}

const seconds = () => Date.now() / 1000;
export const newSegmentId = () => randomBytes(8).toString('hex');
const newRoot = () => `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

/** `Root=…;Parent=…;Sampled=…` read back; undefined without a Root. */
export function parseTraceHeader(value: string | undefined): TraceContext | undefined {
  const root = value && /Root=(1-[\da-f]{8}-[\da-f]{24})/.exec(value)?.[1];
  if (!root) return undefined;
  const parent = /Parent=([\da-f]{16})/.exec(value)?.[1];
  return { root, ...(parent && { parent }), sampled: !/Sampled=0/.test(value) };
}

export const formatTraceHeader = (c: TraceContext) => `Root=${c.root}${c.parent ? `;Parent=${c.parent}` : ''};Sampled=${c.sampled ? 1 : 0}`;

export class XrayModel {
  private readonly received: SegmentDocument[] = [];

  private constructor(
    private readonly socket: Socket,
    /** The daemon's address, for AWS_XRAY_DAEMON_ADDRESS. */
    readonly address: string,
    private readonly file: string | undefined,
  ) {}

  /** Starts the daemon stand-in on loopback. */
  static async start(options: { file?: string } = {}): Promise<XrayModel> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const model = new XrayModel(socket, `127.0.0.1:${socket.address().port}`, options.file);
    socket.on('message', (datagram) => model.receive(datagram.toString('utf8')));
    return model;
  }

  /** A datagram as the daemon reads it: the header line, then one segment document. */
  private receive(datagram: string) {
    const newline = datagram.indexOf('\n');
    if (newline < 0 || !datagram.slice(0, newline).includes('"format":"json"')) return;
    try {
      this.record(JSON.parse(datagram.slice(newline + 1)) as SegmentDocument);
    } catch {
      // The real daemon drops what it cannot parse, too.
    }
  }

  /** Keeps a segment (the daemon's, or one the modelled services record themselves). */
  record(segment: SegmentDocument) {
    this.received.push(segment);
    if (this.file) appendFileSync(this.file, `${JSON.stringify(segment)}\n`);
  }

  /** Every segment received so far, or those of one trace (`1-…`). */
  segments(traceId?: string): SegmentDocument[] {
    return traceId ? this.received.filter((s) => s.trace_id === traceId) : [...this.received];
  }

  /**
   * A hop of the path (API Gateway's stage, Lambda): continues `incoming` (or starts a trace),
   * and returns the context it hands on, with its own segment as Parent, and `end`, which records
   * that segment. Unsampled, nothing is recorded and the context passes on as it came.
   */
  hop(incoming: TraceContext | undefined, segment: Pick<SegmentDocument, 'name' | 'origin'> & Record<string, unknown>) {
    const context = incoming ?? { root: newRoot(), sampled: true };
    if (!context.sampled) return { context, end: (_more?: Record<string, unknown>) => {} };
    const id = newSegmentId();
    const start = seconds();
    return {
      context: { root: context.root, parent: id, sampled: true },
      end: (more: Record<string, unknown> = {}) =>
        this.record({
          ...segment,
          ...more,
          id,
          trace_id: context.root,
          ...(context.parent && { parent_id: context.parent }),
          start_time: start,
          end_time: seconds(),
        }),
    };
  }

  /**
   * Lambda's part of an invocation traced from `incoming`: its service segment, and under it the
   * function's segment, the Parent the function's own subsegments hang from.
   */
  invocation(incoming: TraceContext | undefined, functionName: string) {
    const service = this.hop(incoming, { name: functionName, origin: 'AWS::Lambda' });
    const fn = this.hop(service.context, { name: functionName, origin: 'AWS::Lambda::Function' });
    return {
      header: formatTraceHeader(fn.context),
      end: () => {
        fn.end();
        service.end();
      },
    };
  }

  close() {
    this.socket.close();
  }
}
