// Per-tool dashboard widgets and error-rate alarms, from the metrics every `tools/call` access line
// carries (shared/metrics.ts: Calls, Errors, Duration, CacheHits, RateLimited by Server, Stage,
// Tool and Era). The widgets find the tools with SEARCH, so a tool added to the server shows up
// without a deploy of the dashboard; an alarm needs its tool named.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../shared/metrics.ts';

const FIVE_MINUTES = Duration.minutes(5);
const ERAS = ['modern', 'legacy'] as const;

/** Alarms on the share of a tool's calls that end in an error. */
export interface McpToolErrorRateAlarms {
  /** The tools to watch, by name as the server defines them. */
  readonly tools: readonly string[];
  /**
   * Share of calls answered with an error over five minutes, between 0 and 1.
   * @default 0.1
   */
  readonly rate?: number;
  /**
   * Calls in five minutes below which the alarm does not judge (one failed call out of two is noise).
   * @default 10
   */
  readonly minCalls?: number;
}

/** Every tool's series of one metric for one server and stage, found by SEARCH. */
function perTool(serverName: string, stage: string, metric: string, statistic: string, label: string): cloudwatch.MathExpression {
  const query = `{${METRICS_NAMESPACE},Era,Server,Stage,Tool} MetricName="${metric}" Server="${serverName}" Stage="${stage}"`;
  return new cloudwatch.MathExpression({ expression: `SEARCH('${query}', '${statistic}', 300)`, label, period: FIVE_MINUTES });
}

export function toolWidgets(serverName: string, stage: string): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({ title: 'Tool calls, by tool and era', left: [perTool(serverName, stage, 'Calls', 'Sum', '')], width: 8 }),
    new cloudwatch.GraphWidget({ title: 'Tool errors, by tool and era', left: [perTool(serverName, stage, 'Errors', 'Sum', '')], width: 8 }),
    new cloudwatch.GraphWidget({ title: 'Tool duration p99 (ms), by tool and era', left: [perTool(serverName, stage, 'Duration', 'p99', '')], width: 8 }),
    new cloudwatch.GraphWidget({
      title: 'Tool cache hits and rate-limited calls, by tool and era',
      left: [perTool(serverName, stage, 'CacheHits', 'Sum', '')],
      right: [perTool(serverName, stage, 'RateLimited', 'Sum', '')],
      width: 24,
    }),
  ];
}

/** One tool's metric summed over both eras, with missing periods as zero. */
function bothEras(serverName: string, stage: string, tool: string, metric: string) {
  return Object.fromEntries(
    ERAS.map((era) => [
      `${metric.toLowerCase()}_${era}`,
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: metric,
        dimensionsMap: { Server: serverName, Stage: stage, Tool: tool, Era: era },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      }),
    ]),
  );
}

export function toolErrorRateAlarms(scope: Construct, serverName: string, stage: string, who: string, options: McpToolErrorRateAlarms): cloudwatch.Alarm[] {
  const rate = options.rate ?? 0.1;
  const minCalls = options.minCalls ?? 10;
  if (rate <= 0 || rate > 1) throw new Error(`alarms.toolErrorRate.rate must be in (0, 1], got ${rate}`);
  if (!Number.isInteger(minCalls) || minCalls < 1) throw new Error(`alarms.toolErrorRate.minCalls must be a whole number, at least 1, got ${minCalls}`);
  const unique = new Set(options.tools);
  if (unique.size === 0 || unique.size !== options.tools.length) throw new Error('alarms.toolErrorRate.tools must name each tool once, at least one');
  return [...unique].map((tool, i) => {
    const calls = 'FILL(calls_modern, 0) + FILL(calls_legacy, 0)';
    const errors = 'FILL(errors_modern, 0) + FILL(errors_legacy, 0)';
    return new cloudwatch.Alarm(scope, `ToolErrorRate${i}`, {
      alarmDescription: `${who}: more than ${rate * 100}% of ${tool}'s calls ended in an error over 5 minutes, twice in a row (at least ${minCalls} calls).`,
      metric: new cloudwatch.MathExpression({
        expression: `IF((${calls}) >= ${minCalls}, (${errors}) / (${calls}), 0)`,
        usingMetrics: { ...bothEras(serverName, stage, tool, 'Calls'), ...bothEras(serverName, stage, tool, 'Errors') },
        label: `${tool} error rate`,
        period: FIVE_MINUTES,
      }),
      threshold: rate,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  });
}
