// Metrics as CloudWatch embedded metric format (EMF): one JSON log line carries the values and
// says which are metrics, so CloudWatch extracts them from the function's logs. No metric API
// call on any request path. Dimensions stay bounded: server, and values the kit itself chose.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
export const METRICS_NAMESPACE = 'McpKit';

type Unit = 'Count' | 'Milliseconds';

/** Writes one EMF line: `metrics` by name, under `dimensions` (all of them, as one dimension set). */
export function emitMetrics(dimensions: Record<string, string>, metrics: Record<string, { value: number; unit: Unit }>, write = (line: string) => process.stdout.write(line)): void {
  const line = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([Name, { unit }]) => ({ Name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, { value }]) => [name, value])),
  };
  write(`${JSON.stringify(line)}\n`);
}

/** `TaskStateChanges` per server and state (working, input_required, completed, failed, cancelled). */
export function taskStateMetric(server: string, state: string): void {
  emitMetrics({ Server: server, State: state }, { TaskStateChanges: { value: 1, unit: 'Count' } });
}

/** `UpstreamFailures` per gateway and upstream: a call or list the upstream could not serve (down, slow, 5xx, circuit open). */
export function upstreamFailureMetric(server: string, upstream: string): void {
  emitMetrics({ Server: server, Upstream: upstream }, { UpstreamFailures: { value: 1, unit: 'Count' } });
}
