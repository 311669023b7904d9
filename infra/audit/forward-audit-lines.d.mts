// Types of forward-audit-lines.mjs for the TypeScript that imports it (tests).
// Not deployed: the forwarder's asset leaves *.d.mts out.

export interface LogsBatch {
  messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  logGroup: string;
  logStream: string;
  subscriptionFilters: string[];
  logEvents: { id: string; timestamp: number; message: string }[];
}

/** The part of the SDK's CloudWatchLogs client the forwarder uses. */
export interface LogsWriter {
  createLogStream(input: { logGroupName: string; logStreamName: string }): Promise<unknown>;
  putLogEvents(input: {
    logGroupName: string;
    logStreamName: string;
    logEvents: { timestamp: number; message: string }[];
  }): Promise<{ rejectedLogEventsInfo?: unknown } | undefined>;
}

export function decode(event: { awslogs: { data: string } }): LogsBatch;
export function forward(batch: LogsBatch, group: string, logs: LogsWriter, created: Set<string>): Promise<number>;
export function handler(event: { awslogs: { data: string } }): Promise<void>;
