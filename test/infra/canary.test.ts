// How a release reaches traffic (infra/endpoint/canary.ts, task-workers.ts): API Gateway calls the
// `live` alias on the version the deploy published; CodeDeploy shifts that alias as a canary on
// production-like stages and all at once on dev, rolling back on the function's error and latency
// alarms; a task's worker may be invoked on any version and keeps its retry settings per version.
// The `local` stage (SAM, LocalStack) keeps the bare function. Bundling skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import { buildKitApp } from '../../infra/kit-app.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-canary-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const newApp = (context: Record<string, unknown> = {}) =>
  new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });

function synthEndpoint(props: Partial<McpServerEndpointProps> = {}) {
  const stack = new Stack(newApp(), 'Endpoint');
  const endpoint = new McpServerEndpoint(stack, 'Server', {
    serverName: 'notes',
    entry: 'functions/notes/handler.ts',
    auth: { mode: 'none', allowUnauthenticated: true },
    ...props,
  });
  return { endpoint, stack, template: Template.fromStack(stack) };
}

const only = (template: Template, type: string, props: object = {}) => {
  const found = Object.entries(template.findResources(type, props)) as [string, any][];
  assert.equal(found.length, 1, `expected one ${type}, found ${found.length}`);
  return { id: found[0]![0], resource: found[0]![1] };
};

const serverFunction = (template: Template) =>
  only(template, 'AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) } } });

describe('a release: the live alias and its deployment group', () => {
  const { template, stack } = synthEndpoint({ stage: 'prod' });
  const fn = serverFunction(template);
  const version = only(template, 'AWS::Lambda::Version');
  const alias = only(template, 'AWS::Lambda::Alias');

  it('publishes a version of the server function and points the live alias at it', () => {
    assert.deepEqual(version.resource.Properties.FunctionName, { Ref: fn.id });
    assert.equal(alias.resource.Properties.Name, 'live');
    assert.deepEqual(alias.resource.Properties.FunctionVersion, { 'Fn::GetAtt': [version.id, 'Version'] });
    // CodeDeploy owns the alias's weights while it shifts.
    assert.ok(alias.resource.UpdatePolicy?.CodeDeployLambdaAliasUpdate, 'the alias is updated through CodeDeploy');
  });

  it('integrates every API method with the alias, not the bare function, and lets API Gateway invoke only the alias', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as any[];
    assert.ok(methods.length >= 3);
    for (const method of methods) {
      const uri = JSON.stringify(method.Properties.Integration.Uri);
      assert.ok(uri.includes(alias.id), `method ${method.Properties.HttpMethod} calls ${uri}`);
    }
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com' } })) as any[];
    assert.ok(permissions.length > 0);
    for (const permission of permissions) assert.deepEqual(permission.Properties.FunctionName, { Ref: alias.id });
  });

  it('shifts a canary on a production stage, rolling back on a failed, stopped or alarmed deployment', () => {
    const group = only(template, 'AWS::CodeDeploy::DeploymentGroup').resource.Properties;
    assert.equal(group.DeploymentConfigName, 'CodeDeployDefault.LambdaCanary10Percent5Minutes');
    assert.deepEqual(group.AutoRollbackConfiguration, {
      Enabled: true,
      Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM'],
    });
    assert.deepEqual(alias.resource.UpdatePolicy.CodeDeployLambdaAliasUpdate.DeploymentGroupName, {
      Ref: only(template, 'AWS::CodeDeploy::DeploymentGroup').id,
    });
    assert.equal(stack.resolve(group.AlarmConfiguration.Enabled), true);
  });

  it('rolls back on the errors and p99 duration of the new version as the alias served it, not of the whole function', () => {
    const group = only(template, 'AWS::CodeDeploy::DeploymentGroup').resource.Properties;
    // What Lambda publishes for an alias's invocations per version: FunctionName, Resource (function:alias), ExecutedVersion.
    const onNewVersion = [
      { Name: 'ExecutedVersion', Value: { 'Fn::GetAtt': [version.id, 'Version'] } },
      { Name: 'FunctionName', Value: { Ref: fn.id } },
      { Name: 'Resource', Value: { 'Fn::Join': ['', [{ Ref: fn.id }, ':live']] } },
    ];
    const alarmOf = (metricName: string) =>
      only(template, 'AWS::CloudWatch::Alarm', { Properties: { MetricName: metricName, Namespace: 'AWS/Lambda', Dimensions: onNewVersion } });
    const [errors, p99] = [alarmOf('Errors'), alarmOf('Duration')];
    assert.deepEqual(group.AlarmConfiguration.Alarms, [{ Name: { Ref: errors.id } }, { Name: { Ref: p99.id } }]);
    assert.deepEqual([errors.resource.Properties.Statistic, errors.resource.Properties.Threshold, errors.resource.Properties.Period], ['Sum', 5, 300]);
    assert.deepEqual([p99.resource.Properties.ExtendedStatistic, p99.resource.Properties.EvaluationPeriods], ['p99', 1], 'judged within a five-minute canary');
    // Control: the function-wide alarms still exist (they notify) but roll nothing back.
    const functionWide = Object.keys(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn.id } }] } }),
    );
    assert.equal(functionWide.length, 1);
    assert.ok(!JSON.stringify(group.AlarmConfiguration.Alarms).includes(functionWide[0]!));
  });

  it('shifts all at once on dev, and takes another config and more alarms from `deployment`', () => {
    const dev = only(synthEndpoint({ stage: 'dev' }).template, 'AWS::CodeDeploy::DeploymentGroup').resource.Properties;
    assert.equal(dev.DeploymentConfigName, 'CodeDeployDefault.LambdaAllAtOnce');
    const stack = new Stack(newApp(), 'Custom');
    const extra = new cloudwatch.Alarm(stack, 'ToolErrors', {
      metric: new cloudwatch.Metric({ namespace: 'X', metricName: 'Y' }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    new McpServerEndpoint(stack, 'Server', {
      serverName: 'notes',
      entry: 'functions/notes/handler.ts',
      stage: 'dev',
      auth: { mode: 'none', allowUnauthenticated: true },
      deployment: { config: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE, rollbackAlarms: [extra] },
    });
    const group = only(Template.fromStack(stack), 'AWS::CodeDeploy::DeploymentGroup').resource.Properties;
    assert.equal(group.DeploymentConfigName, 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute');
    assert.equal(group.AlarmConfiguration.Alarms.length, 3);
    assert.ok(JSON.stringify(group.AlarmConfiguration.Alarms).includes('ToolErrors'));
  });

  it('points the alias at a version only once the function may start task workers, as the stage waits for it', () => {
    const policy = only(template, 'AWS::IAM::Policy', {
      Properties: { PolicyDocument: { Statement: [Match.objectLike({ Action: 'lambda:InvokeFunction' })] } },
    }).id;
    assert.ok([alias.resource.DependsOn ?? []].flat().includes(policy), `the alias depends on ${policy}`);
    const stage = only(template, 'AWS::ApiGateway::Stage').resource;
    assert.ok([stage.DependsOn ?? []].flat().includes(policy));
  });
});

describe("a task's worker across releases", () => {
  const { template } = synthEndpoint({ stage: 'prod' });
  const fn = serverFunction(template);
  const version = only(template, 'AWS::Lambda::Version');

  it('may be invoked on any version of the function (the dispatcher names the one that created the task)', () => {
    const { resource } = only(template, 'AWS::IAM::Policy', {
      Properties: { PolicyDocument: { Statement: [Match.objectLike({ Action: 'lambda:InvokeFunction' })] } },
    });
    const [statement] = resource.Properties.PolicyDocument.Statement;
    assert.deepEqual(statement.Resource, [{ 'Fn::GetAtt': [fn.id, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [fn.id, 'Arn'] }, ':*']] }]);
  });

  it('retries and reports failures per version, settings kept when the next deploy publishes another', () => {
    const { resource } = only(template, 'AWS::Lambda::EventInvokeConfig');
    assert.deepEqual(resource.Properties.Qualifier, { 'Fn::GetAtt': [version.id, 'Version'] });
    assert.deepEqual(resource.Properties.DestinationConfig, { OnFailure: { Destination: { Ref: version.id } } });
    assert.equal(resource.DeletionPolicy, 'Retain');
    assert.equal(resource.UpdateReplacePolicy, 'Retain');
  });
});

describe('the local stage (SAM and LocalStack: no alias resolution, no CodeDeploy)', () => {
  const { template, endpoint } = synthEndpoint({ stage: 'local' });
  const fn = serverFunction(template);

  it('integrates the API with the function itself, with no version, alias or deployment group', () => {
    assert.equal(endpoint.canary, undefined);
    for (const type of ['AWS::Lambda::Version', 'AWS::Lambda::Alias', 'AWS::CodeDeploy::DeploymentGroup']) template.resourceCountIs(type, 0);
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method')) as any[]) {
      assert.ok(JSON.stringify(method.Properties.Integration.Uri).includes(`"${fn.id}","Arn"`));
    }
  });

  it('keeps the worker settings on $LATEST, the version that runs there', () => {
    const { resource } = only(template, 'AWS::Lambda::EventInvokeConfig');
    assert.equal(resource.Properties.Qualifier, '$LATEST');
    assert.deepEqual(resource.Properties.DestinationConfig, { OnFailure: { Destination: { 'Fn::GetAtt': [fn.id, 'Arn'] } } });
    assert.equal(resource.DeletionPolicy, undefined);
  });

  it('refuses a `deployment` there, which could not apply', () => {
    assert.throws(() => synthEndpoint({ stage: 'local', deployment: {} }), /`deployment` does not apply to the local stage \(SAM, LocalStack\)/);
  });
});

describe("the app's server stacks", () => {
  it("each give the command that rolls its release back, the gateway's too", () => {
    const { servers, gateway } = buildKitApp(newApp({ region: 'eu-west-1' }));
    for (const server of [...servers, gateway!]) {
      const template = Template.fromStack(server);
      only(template, 'AWS::CodeDeploy::DeploymentGroup');
      const command = JSON.stringify(template.toJSON().Outputs.RollbackCommand.Value);
      assert.match(command, /npm run rollback -- --function .*--alias live --application .*--deployment-group .*--region/);
    }
  });
});
