// Alarms and dashboard widgets of the container tier (infra/endpoint/containers.ts): with streams,
// unhealthy tasks, fewer healthy tasks than the minimum and 5xx answered by the tasks (what the
// load balancer sees); with tasks, the queue's oldest waiting run (or no worker reporting it) and
// dead-lettered tasks; CPU held high. Added to the server's dashboard (infra/monitoring.ts) and
// notifying the same topic. Observes only.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../shared/metrics.ts';
import { backlogAgeMetric, type McpContainerService } from './containers.ts';

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

export interface ContainerMonitoringProps {
  /** `MCP server "<name>" (<stage>)`, as the server's other alarms say it. */
  readonly who: string;
  readonly containers: McpContainerService;
  readonly minTasks: number;
  readonly dashboard: cloudwatch.Dashboard;
  /** @default - no notification */
  readonly topic?: sns.ITopic;
  /** Target 5xx answers in five minutes that raise the alarm. @default 5 */
  readonly serverErrors?: number;
  /** The Server and Stage dimensions of the kit's metrics. */
  readonly serverName: string;
  readonly stage: string;
  /** Minutes the oldest queued container task may wait before the backlog alarm. @default 5 */
  readonly backlogMinutes?: number;
}

export interface ContainerAlarms {
  /** @default undefined without streams: no load balancer checks the tasks */
  readonly unhealthyTasks?: cloudwatch.Alarm;
  /** @default undefined without streams */
  readonly belowMinimum?: cloudwatch.Alarm;
  /** @default undefined without streams */
  readonly serverErrors?: cloudwatch.Alarm;
  /** The oldest queued container task waited too long, or no worker reported the queue. @default undefined without tasks */
  readonly taskBacklog?: cloudwatch.Alarm;
  /** A container task failed after too many lost runs (`TaskDeadLetters`). @default undefined without tasks */
  readonly taskDeadLetters?: cloudwatch.Alarm;
  readonly cpuHigh: cloudwatch.Alarm;
}

export function monitorContainers(scope: Construct, props: ContainerMonitoringProps): ContainerAlarms {
  const { service } = props.containers;
  const { who } = props;
  const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, evaluationPeriods: number, below = false) =>
    new cloudwatch.Alarm(scope, id, {
      alarmDescription: `${who}: ${description}`,
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator: below ? cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD : cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data from the target group means no healthy target reported: below the minimum.
      treatMissingData: below ? cloudwatch.TreatMissingData.BREACHING : cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  const cpu = service.metricCpuUtilization({ period: FIVE_MINUTES, statistic: 'Average', label: 'CPU %' });
  const alarms: ContainerAlarms = {
    ...(props.containers.targetGroup && streamAlarms(props, props.containers.targetGroup, alarm)),
    ...(props.containers.settings.tasks && taskAlarms(scope, props)),
    cpuHigh: alarm(
      'ContainerCpuHigh',
      'container CPU above 85% for 15 minutes although autoscaling targets 60%: at maxTasks, or scaling cannot keep up.',
      cpu,
      85,
      3,
    ),
  };
  if (props.topic) {
    const action = new cloudwatchActions.SnsAction(props.topic);
    for (const each of Object.values(alarms)) {
      each.addAlarmAction(action);
      each.addOkAction(action);
    }
  }
  props.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Containers: alarms', alarms: Object.values(alarms), width: 24, height: 3 }));
  const memory = service.metricMemoryUtilization({ period: FIVE_MINUTES, statistic: 'Average', label: 'memory %' });
  props.dashboard.addWidgets(
    ...streamWidgets(props.containers),
    new cloudwatch.GraphWidget({ title: 'Container CPU and memory', left: [cpu, memory], width: 8 }),
    ...(props.containers.settings.tasks ? [taskWidget(props)] : []),
  );
  return alarms;
}

type MakeAlarm = (
  id: string,
  description: string,
  metric: cloudwatch.IMetric,
  threshold: number,
  evaluationPeriods: number,
  below?: boolean,
) => cloudwatch.Alarm;

/** What the load balancer sees of the tasks: there only when the containers serve streams. */
function streamAlarms(props: ContainerMonitoringProps, targetGroup: elbv2.ApplicationTargetGroup, alarm: MakeAlarm) {
  const { healthy, unhealthy, target5xx } = targetMetrics(targetGroup);
  return {
    unhealthyTasks: alarm('ContainerUnhealthyTasks', 'a container task failed its /health check for 3 minutes.', unhealthy, 1, 3),
    belowMinimum: alarm(
      'ContainerTasksBelowMinimum',
      `fewer than ${props.minTasks} healthy container tasks for 3 minutes: streams may get 502/503.`,
      healthy,
      props.minTasks,
      3,
      true,
    ),
    serverErrors: alarm(
      'ContainerServerErrors',
      `container tasks answered ${props.serverErrors ?? 5} or more 5xx in 5 minutes.`,
      target5xx,
      props.serverErrors ?? 5,
      1,
    ),
  };
}

function targetMetrics(targetGroup: elbv2.ApplicationTargetGroup) {
  return {
    healthy: targetGroup.metrics.healthyHostCount({ period: ONE_MINUTE, statistic: 'Minimum', label: 'healthy tasks' }),
    unhealthy: targetGroup.metrics.unhealthyHostCount({ period: ONE_MINUTE, statistic: 'Maximum', label: 'unhealthy tasks' }),
    target5xx: targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: FIVE_MINUTES, statistic: 'Sum', label: 'task 5xx' }),
  };
}

function streamWidgets({ targetGroup, loadBalancer }: McpContainerService): cloudwatch.IWidget[] {
  if (!targetGroup || !loadBalancer) return [];
  const { healthy, unhealthy, target5xx } = targetMetrics(targetGroup);
  return [
    new cloudwatch.GraphWidget({ title: 'Container tasks', left: [healthy, unhealthy], width: 8 }),
    new cloudwatch.GraphWidget({
      title: 'Container requests and connections',
      left: [targetGroup.metrics.requestCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' }), target5xx],
      right: [loadBalancer.metrics.activeConnectionCount({ period: FIVE_MINUTES, statistic: 'Average', label: 'open connections' })],
      width: 8,
    }),
  ];
}

const deadLetterMetric = (props: ContainerMonitoringProps) =>
  new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: 'TaskDeadLetters',
    dimensionsMap: { Server: props.serverName, Stage: props.stage },
    statistic: 'Sum',
    period: FIVE_MINUTES,
    label: 'dead-lettered tasks',
  });

/**
 * The task queue, as the workers report it every 15 s (shared/tasks/backlog.ts). No report for
 * three minutes means no worker polls (every task down; MCP_METRICS does not turn them off): that breaches too, as the
 * tier has no load balancer to count healthy tasks when it runs tasks alone.
 */
function taskAlarms(scope: Construct, props: ContainerMonitoringProps) {
  const { who } = props;
  const minutes = props.backlogMinutes ?? 5;
  return {
    taskBacklog: new cloudwatch.Alarm(scope, 'ContainerTaskBacklog', {
      alarmDescription: `${who}: the oldest queued container task has waited ${minutes} minutes or more for 3 minutes, or no container worker reported the queue for 3 minutes: workers are all busy at maxTasks, or none runs.`,
      metric: backlogAgeMetric(props.serverName, props.stage),
      threshold: minutes * 60_000,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }),
    taskDeadLetters: new cloudwatch.Alarm(scope, 'ContainerTaskDeadLetters', {
      alarmDescription: `${who}: a container task failed after its workers stopped MCP_TASK_MAX_ATTEMPTS times without finishing (log line "task dead-lettered"): containers crashing or replaced mid-run.`,
      metric: deadLetterMetric(props),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  };
}

function taskWidget(props: ContainerMonitoringProps): cloudwatch.IWidget {
  return new cloudwatch.GraphWidget({
    title: 'Container task queue',
    left: [backlogAgeMetric(props.serverName, props.stage)],
    right: [deadLetterMetric(props)],
    width: 8,
  });
}
