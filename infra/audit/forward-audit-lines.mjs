// Lambda: receives the audit lines of an MCP server's function log (a subscription filter on that
// group delivers only lines matching `{ $.audit IS TRUE }`) and writes them, unchanged and with
// their own timestamps, to the server's audit log group, each under the name of the stream it
// came from. Uses the runtime's AWS SDK, loaded on the first batch; nothing to bundle.
// Types: forward-audit-lines.d.mts.
import { gunzipSync } from 'node:zlib';

/** A subscription delivery: `awslogs.data` is gzipped JSON in base64. */
export function decode(event) {
  return JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'));
}

/** Writes one batch to `group`; creates its stream once per environment (`created`). Returns how many lines were written. */
export async function forward(batch, group, logs, created) {
  // CONTROL_MESSAGE: CloudWatch Logs checking that the destination is reachable.
  if (batch.messageType !== 'DATA_MESSAGE') return 0;
  const stream = batch.logStream;
  if (!created.has(stream)) {
    await logs.createLogStream({ logGroupName: group, logStreamName: stream }).catch((error) => {
      if (error?.name !== 'ResourceAlreadyExistsException') throw error;
    });
    created.add(stream);
  }
  // PutLogEvents takes a batch in time order.
  const logEvents = batch.logEvents.map(({ timestamp, message }) => ({ timestamp, message })).sort((a, b) => a.timestamp - b.timestamp);
  const out = await logs.putLogEvents({ logGroupName: group, logStreamName: stream, logEvents });
  // Thrown, so Lambda retries the batch: an audit line must not be lost quietly.
  if (out?.rejectedLogEventsInfo) throw new Error(`audit lines rejected: ${JSON.stringify(out.rejectedLogEventsInfo)}`);
  return logEvents.length;
}

let client;
const created = new Set();

export async function handler(event) {
  client ??= new (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogs({});
  await forward(decode(event), process.env.AUDIT_LOG_GROUP, client, created);
}
