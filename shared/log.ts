// Structured JSON logs through the Powertools logger: one logger per process, and per-request
// fields passed on each call rather than kept as shared mutable state (requests interleave).
import { Logger } from '@aws-lambda-powertools/logger';
import type { KitConfig } from './config.ts';

export type KitLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export function createLogger(config: Pick<KitConfig, 'logLevel' | 'stage'>, serviceName: string): KitLogger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName,
    logLevel: config.logLevel,
    persistentKeys: { stage: config.stage },
  });
}
