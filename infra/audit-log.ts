// The audit log of one deployed MCP server: the audit lines its function writes (shared/audit.ts,
// marked `"audit": true`) copied to a log group of their own with a longer retention, and the
// count of authentication failures that monitoring.ts alarms on. Observes; changes nothing.
//
// How: a subscription filter on the function's log group with the JSON pattern
// `{ $.audit IS TRUE }` delivers only audit lines to a small forwarder function that writes them
// to the audit group (CloudWatch Logs User Guide, "Subscription filters with AWS Lambda":
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html). Why this:
// it costs nothing while there are no events, then a Lambda invocation per delivered batch and
// the copy's own ingestion (audit lines are a few hundred bytes). Keeping the whole function log
// longer would keep every access line too; a Kinesis stream bills per shard-hour when idle; a
// Firehose stream needs a bucket and a stream beside it. The metric filter reads the function's
// log group itself, so the alarm does not depend on the forwarder. A log group takes at most two
// subscription filters: this uses one.
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { METRICS_NAMESPACE } from '../shared/metrics.ts';
import { nodeRuntime } from './endpoint/function.ts';

const FORWARDER_CODE = fileURLToPath(new URL('./audit/', import.meta.url));
const AUDIT_LINE = logs.FilterPattern.booleanValue('$.audit', true);

export interface McpAuditLogProps {
  readonly serverName: string;
  readonly stage: string;
  /** The function's log group, where its audit lines are written first. */
  readonly functionLogGroup: logs.ILogGroup;
  readonly retention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export class McpAuditLog extends Construct {
  /** Where the audit lines are kept. */
  readonly logGroup: logs.LogGroup;
  /** Copies them there. */
  readonly forwarder: lambda.Function;
  /** `AuthFailures` (namespace McpKit, dimensions Server and Stage): failed authentications. */
  readonly authFailures: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: McpAuditLogProps) {
    super(scope, id);
    const { functionLogGroup, removalPolicy } = props;
    this.logGroup = new logs.LogGroup(this, 'Audit', { retention: props.retention, removalPolicy });
    const forwarderLogs = new logs.LogGroup(this, 'ForwarderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    const role = new iam.Role(this, 'ForwarderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Audit log forwarder of MCP server ${props.serverName} (${props.stage})`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn, forwarderLogs.logGroupArn] }),
    );
    this.forwarder = new lambda.Function(this, 'Forwarder', {
      description: `MCP server ${props.serverName} (${props.stage}): copies audit lines to its audit log group`,
      runtime: nodeRuntime(),
      handler: 'forward-audit-lines.handler',
      code: lambda.Code.fromAsset(FORWARDER_CODE, { exclude: ['*.d.mts'] }),
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      timeout: Duration.seconds(30),
      role,
      logGroup: forwarderLogs,
      environment: { AUDIT_LOG_GROUP: this.logGroup.logGroupName },
    });
    new logs.SubscriptionFilter(this, 'AuditLines', {
      logGroup: functionLogGroup,
      destination: new LambdaDestination(this.forwarder),
      filterPattern: AUDIT_LINE,
    });

    // Dimensions from the line's own fields (service = POWERTOOLS_SERVICE_NAME = the server's name).
    const authFailures = new logs.MetricFilter(this, 'AuthFailures', {
      logGroup: functionLogGroup,
      metricNamespace: METRICS_NAMESPACE,
      metricName: 'AuthFailures',
      filterPattern: logs.FilterPattern.all(AUDIT_LINE, logs.FilterPattern.stringValue('$.event', '=', 'auth.failed')),
      metricValue: '1',
      dimensions: { Server: '$.service', Stage: '$.stage' },
    });
    this.authFailures = authFailures.metric({ dimensionsMap: { Server: props.serverName, Stage: props.stage }, statistic: 'Sum', period: Duration.minutes(5) });
  }
}
