// How a new release of the function reaches traffic: every deploy publishes a version, API Gateway
// calls the `live` alias, and a CodeDeploy deployment group moves the alias to the new version
// (a canary by default, all at once on dev stages), rolling it back when a rollback alarm fires
// during the shift. Does not decide which alarms exist: infra/monitoring.ts does; the endpoint
// hands this group the ones that judge a release. `npm run rollback` (scripts/rollback.ts) moves
// the alias back by hand. Not on the `local` stage: SAM does not resolve an API integrated with an
// alias, and LocalStack's free edition has no CodeDeploy; the API calls the function there.
import { Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/** The alias API Gateway calls; scripts/rollback.ts moves it. */
export const LIVE_ALIAS = 'live';

/** Stages that take a release all at once unless told otherwise: nobody else is on them. */
const DEV_STAGES = new Set(['dev']);

/** Whether a stage's API calls an alias that CodeDeploy shifts: every stage but `local` (SAM, LocalStack). */
export const releasesByAlias = (stage: string) => stage !== 'local';

/** How a release shifts traffic. */
export interface McpDeploymentOptions {
  /**
   * How CodeDeploy moves the `live` alias to a new version, e.g.
   * `LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE`.
   * @default - `CANARY_10PERCENT_5MINUTES`; `ALL_AT_ONCE` on the stage `dev`
   */
  readonly config?: codedeploy.ILambdaDeploymentConfig;
  /**
   * More alarms that roll a release back while it shifts (e.g. a tool's error rate). The new
   * version's errors and p99 duration alarms (McpServerMonitoring.releaseAlarms) always do.
   * @default - none
   */
  readonly rollbackAlarms?: cloudwatch.IAlarm[];
}

export interface Canary {
  /** The `live` alias, on the version this deploy published: what API Gateway invokes. */
  readonly alias: lambda.Alias;
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
}

/** The deployment config a stage gets when none is given. */
export function defaultDeploymentConfig(stage: string): codedeploy.ILambdaDeploymentConfig {
  return DEV_STAGES.has(stage) ? codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE : codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES;
}

/** The alias and its deployment group; the endpoint adds the function's alarms once monitoring made them. */
export function createCanary(scope: Construct, fn: lambda.Function, stage: string, options: McpDeploymentOptions = {}): Canary {
  const alias = new lambda.Alias(scope, 'LiveAlias', { aliasName: LIVE_ALIAS, version: fn.currentVersion });
  const deploymentGroup = new codedeploy.LambdaDeploymentGroup(scope, 'Deployment', {
    alias,
    deploymentConfig: options.config ?? defaultDeploymentConfig(stage),
    alarms: options.rollbackAlarms ?? [],
    // A shift that fails, is stopped (`npm run rollback`) or meets an alarm goes back to the old version.
    autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
  });
  Validations.of(deploymentGroup.role).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
    reason: "AWS's policy for exactly this role: CodeDeploy moving a Lambda alias and reading the alarms it rolls back on.",
  });
  return { alias, deploymentGroup };
}
