// Alarms and the CloudWatch dashboard for one deployed MCP server: API 5xx rate, Lambda errors,
// throttles and p99 duration, failed tasks, the region's claimed concurrency (which Lambda@Edge
// needs left over), authentication-failure spikes and audit lines not forwarded (audit-log.ts),
// optionally per-tool error rates, plus the data plane's table throttles; per-tool widgets
// (tool-metrics.ts). Observes; changes nothing. Task and
// tool metrics are the function's own (shared/metrics.ts, embedded in its logs).
import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../shared/metrics.ts';
import type { McpAuditLog } from './audit-log.ts';
import type { McpDataPlane } from './data-plane.ts';
import { toolErrorRateAlarms, toolWidgets, type McpToolErrorRateAlarms } from './tool-metrics.ts';

/** Thresholds and the notification target of a server's alarms. */
export interface McpAlarmOptions {
  /**
   * Topic notified when an alarm fires and when it clears.
   * @default - no notification; alarms show in the CloudWatch console
   */
  readonly topic?: sns.ITopic;
  /**
   * Share of API requests answered with a 5xx over five minutes, between 0 and 1.
   * @default 0.05
   */
  readonly serverErrorRate?: number;
  /**
   * Function errors in five minutes.
   * @default 5
   */
  readonly functionErrors?: number;
  /**
   * p99 function duration that, held for fifteen minutes, means requests are running into the
   * timeout.
   * @default - 90% of the function timeout
   */
  readonly p99Duration?: Duration;
  /**
   * Tasks that failed in five minutes: a protocol error of the tool, a run past its timeout, a
   * worker that crashed or never started (reported by Lambda's on-failure destination).
   * @default 5
   */
  readonly failedTasks?: number;
  /**
   * Failed authentications in five minutes (401s: missing, unknown, revoked or expired
   * credentials), counted from the audit lines: someone guessing keys, or a client whose key was
   * revoked and who retries without end.
   * @default 50
   */
  readonly authFailures?: number;
  /**
   * Alarms on the error rate of the tools named (per-tool metrics, shared/metrics.ts).
   * @default - none
   */
  readonly toolErrorRate?: McpToolErrorRateAlarms;
}

export interface McpServerMonitoringProps {
  readonly serverName: string;
  readonly stage: string;
  readonly fn: lambda.Function;
  readonly functionTimeout: Duration;
  readonly api: apigateway.RestApi;
  readonly dataPlane: McpDataPlane;
  /** The server's audit log: its authentication failures and its forwarder are alarmed on. */
  readonly auditLog: McpAuditLog;
  /** @default - no CloudFront widgets */
  readonly distribution?: cloudfront.Distribution;
  /** @default - see McpAlarmOptions */
  readonly alarms?: McpAlarmOptions;
  /** The account's Lambda concurrency quota in the region (`accountQuotas.lambdaConcurrency`). */
  readonly accountConcurrency: number;
}

/** Share of the account's concurrency claimed (reserved plus in use) that raises the alarm. */
const CLAIMED_CONCURRENCY_ALARM_SHARE = 0.9;

const FIVE_MINUTES = Duration.minutes(5);

/** The states a task's `TaskStateChanges` are counted under (dimension `State`). */
export const TASK_STATES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;

export class McpServerMonitoring extends Construct {
  readonly serverErrorRateAlarm: cloudwatch.Alarm;
  readonly functionErrorsAlarm: cloudwatch.Alarm;
  readonly functionThrottlesAlarm: cloudwatch.Alarm;
  readonly p99DurationAlarm: cloudwatch.Alarm;
  readonly failedTasksAlarm: cloudwatch.Alarm;
  /**
   * The region's concurrency is nearly all claimed: Lambda@Edge invocations run in the unreserved
   * rest, and when none is left CloudFront answers 503 for every request through that edge.
   */
  readonly claimedConcurrencyAlarm: cloudwatch.Alarm;
  readonly authFailuresAlarm: cloudwatch.Alarm;
  /** The audit forwarder failed: audit lines may be missing from the audit log group (they stay in the function's). */
  readonly auditForwardingAlarm: cloudwatch.Alarm;
  /** One per tool named in `alarms.toolErrorRate`. */
  readonly toolErrorRateAlarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly thresholds: { errors: number; p99: Duration; who: string; topic?: sns.ITopic };

  constructor(scope: Construct, id: string, props: McpServerMonitoringProps) {
    super(scope, id);
    const { fn, api, dataPlane, serverName } = props;
    const alarms = props.alarms ?? {};
    const errorRate = alarms.serverErrorRate ?? 0.05;
    if (errorRate <= 0 || errorRate > 1) throw new Error(`alarms.serverErrorRate must be in (0, 1], got ${errorRate}`);
    const p99 = alarms.p99Duration ?? Duration.millis(props.functionTimeout.toMilliseconds() * 0.9);
    const who = `MCP server "${serverName}" (${props.stage})`;
    this.thresholds = { errors: alarms.functionErrors ?? 5, p99, who, topic: alarms.topic };

    // 5XXError is 0 or 1 per request, so its average is the error rate.
    const serverErrors = api.metricServerError({ statistic: 'Average', period: FIVE_MINUTES });
    this.serverErrorRateAlarm = new cloudwatch.Alarm(this, 'ServerErrorRate', {
      alarmDescription: `${who}: more than ${errorRate * 100}% of API requests answered 5xx over 5 minutes, twice in a row.`,
      metric: serverErrors,
      threshold: errorRate,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.functionErrorsAlarm = new cloudwatch.Alarm(this, 'FunctionErrors', {
      alarmDescription: `${who}: the function failed at least ${alarms.functionErrors ?? 5} times in 5 minutes.`,
      metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: alarms.functionErrors ?? 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.functionThrottlesAlarm = new cloudwatch.Alarm(this, 'FunctionThrottles', {
      alarmDescription: `${who}: Lambda throttled invocations (account or reserved concurrency exhausted).`,
      metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.p99DurationAlarm = new cloudwatch.Alarm(this, 'P99Duration', {
      alarmDescription: `${who}: p99 duration above ${p99.toMilliseconds()} ms for 15 minutes; requests are reaching the timeout.`,
      metric: fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' }),
      threshold: p99.toMilliseconds(),
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const failedTasks = alarms.failedTasks ?? 5;
    if (!Number.isInteger(failedTasks) || failedTasks < 1) throw new Error(`alarms.failedTasks must be a whole number, at least 1, got ${failedTasks}`);
    this.failedTasksAlarm = new cloudwatch.Alarm(this, 'FailedTasks', {
      alarmDescription: `${who}: at least ${failedTasks} tasks failed in 5 minutes (protocol errors of tools, runs past their timeout, workers that crashed or never ran).`,
      metric: taskStateChanges(serverName, props.stage, 'failed'),
      threshold: failedTasks,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No task, no metric: a quiet server is a healthy one.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const claimed = Math.floor(props.accountConcurrency * CLAIMED_CONCURRENCY_ALARM_SHARE);
    this.claimedConcurrencyAlarm = new cloudwatch.Alarm(this, 'ClaimedConcurrency', {
      alarmDescription:
        `${who}: at least ${claimed} of the region's ${props.accountConcurrency} concurrent executions are claimed (reserved or in use). ` +
        'Lambda@Edge shares what is left; when it runs out, CloudFront answers 503 for everything (docs/deploy.md, "Concurrency").',
      // Account-wide (no dimension): https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html
      metric: new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'ClaimedAccountConcurrency', statistic: 'Maximum', period: Duration.minutes(1) }),
      threshold: claimed,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const authFailures = alarms.authFailures ?? 50;
    if (!Number.isInteger(authFailures) || authFailures < 1) throw new Error(`alarms.authFailures must be a whole number, at least 1, got ${authFailures}`);
    this.authFailuresAlarm = new cloudwatch.Alarm(this, 'AuthFailures', {
      alarmDescription: `${who}: at least ${authFailures} failed authentications in 5 minutes; the audit log group names their source addresses and key ids.`,
      metric: props.auditLog.authFailures,
      threshold: authFailures,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.auditForwardingAlarm = new cloudwatch.Alarm(this, 'AuditForwarding', {
      alarmDescription: `${who}: the audit log forwarder failed; audit lines may be missing from the audit log group (the function's own log still has them).`,
      metric: props.auditLog.forwarder.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.toolErrorRateAlarms = alarms.toolErrorRate ? toolErrorRateAlarms(this, serverName, props.stage, who, alarms.toolErrorRate) : [];
    const serverAlarms = [
      this.serverErrorRateAlarm,
      this.functionErrorsAlarm,
      this.functionThrottlesAlarm,
      this.p99DurationAlarm,
      this.failedTasksAlarm,
      this.claimedConcurrencyAlarm,
      this.authFailuresAlarm,
      this.auditForwardingAlarm,
      ...this.toolErrorRateAlarms,
    ];
    if (alarms.topic) {
      const action = new cloudwatchActions.SnsAction(alarms.topic);
      for (const alarm of serverAlarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: `${who}: alarms`,
        alarms: [...serverAlarms, dataPlane.tableThrottleAlarm],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [api.metricCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' })],
        right: [
          api.metricClientError({ period: FIVE_MINUTES, statistic: 'Sum', label: '4xx' }),
          api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum', label: '5xx' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (streamed responses count until the stream ends)',
        left: [
          api.metricLatency({ period: FIVE_MINUTES, statistic: 'p50', label: 'p50' }),
          api.metricLatency({ period: FIVE_MINUTES, statistic: 'p99', label: 'p99' }),
          api.metricIntegrationLatency({ period: FIVE_MINUTES, statistic: 'p99', label: 'integration p99' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function invocations, errors, throttles',
        left: [fn.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum', label: 'invocations' })],
        right: [
          fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum', label: 'errors' }),
          fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum', label: 'throttles' }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(...toolWidgets(serverName, props.stage));
    const cdnWidgets = props.distribution ? [cloudFrontWidget(props.distribution)] : [];
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function duration and concurrency',
        left: [
          fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p50', label: 'p50 duration' }),
          fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99', label: 'p99 duration' }),
        ],
        right: [fn.metric('ConcurrentExecutions', { period: FIVE_MINUTES, statistic: 'Maximum', label: 'concurrency' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'DynamoDB (shared data plane)',
        left: [dataPlane.tableThrottles],
        right: [
          dataPlane.table.metricConsumedReadCapacityUnits({ period: FIVE_MINUTES, statistic: 'Sum', label: 'read units' }),
          dataPlane.table.metricConsumedWriteCapacityUnits({ period: FIVE_MINUTES, statistic: 'Sum', label: 'write units' }),
        ],
        width: 8,
      }),
      ...cdnWidgets,
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Task state changes',
        left: TASK_STATES.map((state) => taskStateChanges(serverName, props.stage, state).with({ label: state })),
        leftAnnotations: [{ value: failedTasks, label: 'failed tasks alarm', color: cloudwatch.Color.RED }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Task workers: asynchronous invocations',
        left: [
          fn.metric('AsyncEventsReceived', { period: FIVE_MINUTES, statistic: 'Sum', label: 'events received' }),
          fn.metric('AsyncEventsDropped', { period: FIVE_MINUTES, statistic: 'Sum', label: 'events dropped' }),
          fn.metric('DestinationDeliveryFailures', { period: FIVE_MINUTES, statistic: 'Sum', label: 'failure reports undelivered' }),
        ],
        right: [fn.metric('AsyncEventAge', { period: FIVE_MINUTES, statistic: 'Maximum', label: 'oldest event age (ms)' })],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Audit: failed authentications, forwarder errors',
        left: [props.auditLog.authFailures.with({ label: 'failed authentications' })],
        leftAnnotations: [{ value: authFailures, label: 'auth failures alarm', color: cloudwatch.Color.RED }],
        right: [props.auditLog.forwarder.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum', label: 'forwarder errors' })],
        width: 12,
      }),
    );
  }

  /**
   * The alarms that judge a release while CodeDeploy shifts `alias` to its new version: the
   * function's errors and p99 duration as the alias served them on that version alone (Lambda's
   * `ExecutedVersion` dimension), so the old version's errors do not roll a good release back and
   * the new one's are not diluted by the old one's traffic. The function's thresholds, each judged
   * over one five-minute period: the default canary lasts five minutes, so the function-wide p99
   * alarm's fifteen could not fire during it.
   */
  releaseAlarms(alias: lambda.Alias): cloudwatch.Alarm[] {
    const { errors, p99, who, topic } = this.thresholds;
    const { functionName } = alias.version.lambda;
    const onNewVersion = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        statistic,
        period: FIVE_MINUTES,
        dimensionsMap: { FunctionName: functionName, Resource: `${functionName}:${alias.aliasName}`, ExecutedVersion: alias.version.version },
      });
    const alarm = (id: string, description: string, metric: cloudwatch.Metric, threshold: number, comparisonOperator: cloudwatch.ComparisonOperator) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: `${who}: ${description}`,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const release = [
      alarm(
        'ReleaseErrors',
        `the version being released failed at least ${errors} times in 5 minutes; CodeDeploy rolls the alias back.`,
        onNewVersion('Errors', 'Sum'),
        errors,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ),
      alarm(
        'ReleaseP99Duration',
        `the version being released ran above ${p99.toMilliseconds()} ms at p99 over 5 minutes; CodeDeploy rolls the alias back.`,
        onNewVersion('Duration', 'p99'),
        p99.toMilliseconds(),
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ),
    ];
    // A rollback is news: they notify like the server's other alarms.
    if (topic) for (const a of release) a.addAlarmAction(new cloudwatchActions.SnsAction(topic)), a.addOkAction(new cloudwatchActions.SnsAction(topic));
    return release;
  }
}

/** `TaskStateChanges` of one state, as the function emits it (shared/metrics.ts `taskStateMetric`). */
function taskStateChanges(serverName: string, stage: string, state: (typeof TASK_STATES)[number]): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: 'TaskStateChanges',
    dimensionsMap: { Server: serverName, Stage: stage, State: state },
    statistic: 'Sum',
    period: FIVE_MINUTES,
  });
}

/** CloudFront publishes its metrics only in us-east-1, with the dimension Region=Global. */
function cloudFrontWidget(distribution: cloudfront.Distribution): cloudwatch.GraphWidget {
  const at = { region: 'us-east-1', period: FIVE_MINUTES, dimensionsMap: { DistributionId: distribution.distributionId, Region: 'Global' } };
  return new cloudwatch.GraphWidget({
    title: 'CloudFront requests and 5xx rate',
    left: [distribution.metricRequests({ ...at, statistic: 'Sum', label: 'requests' })],
    right: [distribution.metric5xxErrorRate({ ...at, statistic: 'Average', label: '5xx %' })],
    width: 8,
  });
}
