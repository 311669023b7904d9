// Structured JSON logs: the Powertools logger for everything tools and the kit report, and a
// lean writer for the one access line per request (same fields and shape), because that line is
// on every request's path and Powertools' formatting costs several times more per line.
// Per-request fields are passed on each call, never kept as shared state: requests interleave.
import { Logger } from '@aws-lambda-powertools/logger';
import type { KitConfig } from './config.ts';

export type KitLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

type LogConfig = Pick<KitConfig, 'logLevel' | 'stage'>;

const serviceOf = (name: string) => process.env.POWERTOOLS_SERVICE_NAME ?? name;

export function createLogger(config: LogConfig, serviceName: string): KitLogger {
  return new Logger({
    serviceName: serviceOf(serviceName),
    logLevel: config.logLevel,
    persistentKeys: { stage: config.stage },
  });
}

export type AccessLog = (fields: Record<string, string | number | undefined>) => void;

/** Writes `{"level":"INFO","message":"mcp request",…}` lines; a no-op when INFO is filtered out. */
export function createAccessLog(config: LogConfig, serviceName: string): AccessLog {
  if (config.logLevel !== 'DEBUG' && config.logLevel !== 'INFO') return () => {};
  const head = `{"level":"INFO","message":"mcp request","service":${JSON.stringify(serviceOf(serviceName))},"stage":${JSON.stringify(config.stage)},"timestamp":"`;
  return (fields) => {
    process.stdout.write(`${head}${new Date().toISOString()}",${JSON.stringify(fields).slice(1)}\n`);
  };
}
