// Metrics as CloudWatch embedded metric format (EMF): one JSON log line carries the values and
// says which are metrics, so CloudWatch extracts them from the function's logs. No metric API
// call on any request path. Dimensions stay bounded: server, and values the kit itself chose.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
export const METRICS_NAMESPACE = 'McpKit';

type Unit = 'Count' | 'Milliseconds';

/**
 * Writes one EMF line: `metrics` by name, under `dimensions`, aggregated over every dimension set
 * in `sets` (each a list of dimension names; all of them as one set when not given).
 */
export function emitMetrics(
  dimensions: Record<string, string>,
  metrics: Record<string, { value: number; unit: Unit }>,
  write: (line: string) => unknown = (line) => process.stdout.write(line),
  sets: string[][] = [Object.keys(dimensions)],
): void {
  const line = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: sets,
          Metrics: Object.entries(metrics).map(([Name, { unit }]) => ({ Name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, { value }]) => [name, value])),
  };
  write(`${JSON.stringify(line)}\n`);
}

/**
 * `TaskStateChanges` per server, stage and state (working, input_required, completed, failed,
 * cancelled), and the same per tool.
 */
export function taskStateMetric(server: string, stage: string, tool: string, state: string): void {
  emitMetrics({ Server: server, Stage: stage, Tool: tool, State: state }, { TaskStateChanges: { value: 1, unit: 'Count' } }, undefined, [
    ['Server', 'Stage', 'State'],
    ['Server', 'Stage', 'Tool', 'State'],
  ]);
}

/** How a tool call ended, as the tool runner saw it; nothing reported means it never ran (refused, invalid, thrown). */
export type ToolOutcome = 'result' | 'error' | 'cached' | 'input' | 'task';

/** The per-tool metrics a `tools/call` access line carries, by name. */
export const TOOL_METRICS = ['Calls', 'Errors', 'Duration', 'CacheHits', 'RateLimited'] as const;

/**
 * The per-tool metrics of `tools/call` requests, as a fragment the access line carries (EMF in
 * the line every request writes anyway: no extra line, no API call). Dimensions stay bounded:
 * only the server's own tool names and the two eras ever become dimension values; a call of a
 * tool the server does not have adds no metric. Aggregated per server and stage, and per server,
 * stage, tool and era. The constant part of each (tool, era) pair is serialized once.
 */
export type ToolMetrics = ReturnType<typeof createToolMetrics>;

export function createToolMetrics(server: string, stage: string, tools: readonly string[]) {
  const head =
    `"_aws":{"CloudWatchMetrics":[{"Namespace":${JSON.stringify(METRICS_NAMESPACE)},"Dimensions":[["Server","Stage"],["Server","Stage","Tool","Era"]],` +
    `"Metrics":[{"Name":"Calls","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Duration","Unit":"Milliseconds"},{"Name":"CacheHits","Unit":"Count"},{"Name":"RateLimited","Unit":"Count"}]}],"Timestamp":`;
  const dims = (tool: string, era: string) =>
    `},"Server":${JSON.stringify(server)},"Stage":${JSON.stringify(stage)},"Tool":${JSON.stringify(tool)},"Era":${JSON.stringify(era)},"Calls":1,"Errors":`;
  const fixed = new Map<string, [string, string]>();
  for (const tool of tools) for (const era of ['modern', 'legacy']) fixed.set(`${era}:${tool}`, [head, dims(tool, era)]);
  /** The fragment for one call, or undefined for a tool the server does not have. */
  return (
    tool: string,
    era: string,
    at: number,
    durationMs: number,
    outcome: ToolOutcome | undefined,
    status: number,
    rateLimited: boolean,
  ): string | undefined => {
    const parts = fixed.get(`${era}:${tool}`);
    if (!parts) return undefined;
    const failed = status >= 400 || outcome === undefined || outcome === 'error' ? 1 : 0;
    return `${parts[0]}${at}${parts[1]}${failed},"Duration":${durationMs},"CacheHits":${outcome === 'cached' ? 1 : 0},"RateLimited":${rateLimited ? 1 : 0}`;
  };
}

/** `UpstreamFailures` per gateway and upstream: a call or list the upstream could not serve (down, slow, 5xx, circuit open). */
export function upstreamFailureMetric(server: string, upstream: string): void {
  emitMetrics({ Server: server, Upstream: upstream }, { UpstreamFailures: { value: 1, unit: 'Count' } });
}
