// Structured JSON logs, one line per event on stdout (Lambda sends it to CloudWatch Logs): level,
// message, timestamp, service, stage, the trace the line was written in (`traceId`, W3C form, and
// `xray_trace_id`, the same id as X-Ray writes it; shared/trace.ts, else Lambda's own trace), then
// the event's own fields. A few lines of our own rather than a logging library: the first log line is written
// during a cold start, and this one loads nothing. The access line (one per request) has a writer
// of its own with the same shape, formatted in one step because it is on every request's path.
// Per-request fields are passed on each call, never kept as shared state: requests interleave.
// Audit lines (audit.ts says which events and fields) are written at every level but SILENT.
import type { AuditEvent } from './audit.ts';
import type { KitConfig } from './config.ts';
import { currentTrace, xrayTraceId } from './trace.ts';

export type LogData = Record<string, unknown>;

export interface KitLogger {
  debug(message: string, data?: LogData): void;
  info(message: string, data?: LogData): void;
  warn(message: string, data?: LogData): void;
  error(message: string, data?: LogData): void;
  /** One security event: `"audit": true, "event": …`, written whatever the level (SILENT aside). */
  audit(event: AuditEvent, data: LogData): void;
}

type LogConfig = Pick<KitConfig, 'logLevel' | 'stage'>;
type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

const SEVERITY: Record<KitConfig['logLevel'], number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3, SILENT: 4 };

const serviceOf = (name: string) => process.env.POWERTOOLS_SERVICE_NAME ?? name;

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, and (lone) surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `value` as `JSON.stringify(value)` writes it; a string with nothing to escape is only quoted (several times cheaper). */
export const jsonString = (value: string) => (NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`);

let second = Number.NaN;
let secondText = '';

/** `new Date(ms).toISOString()` for a whole `ms`, its date and time formatted once a second (toISOString costs µs). */
export function isoTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  // `…T17:00:00.`: the formatted second without its milliseconds and `Z`.
  if (s !== second) (second = s), (secondText = new Date(s * 1000).toISOString().slice(0, -4));
  const milli = ms - s * 1000;
  return `${secondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

const AMZN_ROOT = /Root=1-([\da-f]{8})-([\da-f]{24})/;

/**
 * The trace a line belongs to: the current request's (its span, or the trace it arrived in), else
 * Lambda's invocation's (`Root=1-…;Parent=…` → `1-…`, as X-Ray and Logs Insights correlate it).
 */
export function traceFields(): { traceId?: string; xray_trace_id?: string } {
  const current = currentTrace();
  if (current) return { traceId: current.traceId, xray_trace_id: xrayTraceId(current.traceId) };
  const root = AMZN_ROOT.exec(process.env._X_AMZN_TRACE_ID ?? '');
  return root ? { traceId: root[1]! + root[2]!, xray_trace_id: `1-${root[1]}-${root[2]}` } : {};
}

/** traceFields as serialized members, `,"traceId":…,"xray_trace_id":…`, or '' (ids are hex: nothing to escape). */
export function traceMembers(): string {
  const current = currentTrace();
  if (current) return `,"traceId":"${current.traceId}","xray_trace_id":"${xrayTraceId(current.traceId)}"`;
  const header = process.env._X_AMZN_TRACE_ID;
  const root = header ? AMZN_ROOT.exec(header) : null;
  return root ? `,"traceId":"${root[1]}${root[2]}","xray_trace_id":"1-${root[1]}-${root[2]}"` : '';
}

/** JSON for anything a field may hold: errors with their stack, bigints as text, cycles cut. */
function replacer() {
  const seen = new WeakSet<object>();
  return (_key: string, value: unknown) => {
    if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

export function createLogger(config: LogConfig, serviceName: string, write = (line: string) => void process.stdout.write(line)): KitLogger {
  const threshold = SEVERITY[config.logLevel];
  const service = serviceOf(serviceName);
  const line = (level: Level, message: string, data: LogData | undefined, marks?: LogData) => {
    const trace = traceFields();
    // The event's fields come after the standard ones and cannot replace them.
    const fields: LogData = { level, message, timestamp: isoTime(Date.now()), service, stage: config.stage, ...trace, ...data };
    Object.assign(fields, { level, message, service, stage: config.stage }, trace, marks);
    write(`${JSON.stringify(fields, replacer())}\n`);
  };
  const emit = (level: Level) => (message: string, data?: LogData) => {
    if (SEVERITY[level] >= threshold) line(level, message, data);
  };
  const audit = (event: AuditEvent, data: LogData) => {
    if (config.logLevel !== 'SILENT') line('INFO', 'audit', data, { audit: true, event });
  };
  return { debug: emit('DEBUG'), info: emit('INFO'), warn: emit('WARN'), error: emit('ERROR'), audit };
}

/**
 * Writes one access line: `members`, its own fields already serialized (`"requestId":"…",…`, no
 * braces), and `extra`, more such members (the per-tool metrics). `quiet`: INFO is filtered out, so
 * only lines with `extra` are written.
 */
export type AccessLog = ((members: string, extra?: string) => void) & { readonly quiet: boolean };

/**
 * Writes `{"level":"INFO","message":"mcp request",…}` lines. With INFO filtered out, only lines
 * that carry metrics are written: the metrics must reach CloudWatch whatever the log level.
 */
export function createAccessLog(config: LogConfig, serviceName: string): AccessLog {
  const quiet = config.logLevel !== 'DEBUG' && config.logLevel !== 'INFO';
  const head = `{"level":"INFO","message":"mcp request","service":${JSON.stringify(serviceOf(serviceName))},"stage":${JSON.stringify(config.stage)},"timestamp":"`;
  // One write a line, synchronous for a file or pipe on Linux (Lambda's stdout): written before the response ends.
  const write = (members: string, extra?: string) => {
    if (quiet && !extra) return;
    process.stdout.write(`${head}${isoTime(Date.now())}",${members}${extra ? `,${extra}` : ''}}\n`);
  };
  return Object.assign(write, { quiet });
}
