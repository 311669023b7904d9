// The desk review's findings against the synthesized templates of the example app (bundling
// skipped), each now absent: the raw API URL is locked by CloudFront's secret origin header, the
// gateway reaches notes and echo without their CloudFront hop, no error code CloudFront can set
// keeps its 10 s error caching, the region's concurrency is watched for Lambda@Edge, the edge
// function runs a runtime AWS lists for Lambda@Edge and leaves no log group behind, and the
// account's API Gateway setting is written only when asked.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildKitApp } from '../../infra/kit-app.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-review-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

describe('the templates after the desk review', () => {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1' } });
  const stacks = buildKitApp(app);
  const notes = Template.fromStack(stacks.servers[0]!);
  const gateway = Template.fromStack(stacks.gateway!);
  const dataPlane = Template.fromStack(stacks.dataPlane);
  const edge = Template.fromStack(app.node.findChild(`${stacks.servers[0]!.stackName}-Edge`) as Stack);
  const distribution = () => (Object.values(notes.findResources('AWS::CloudFront::Distribution'))[0] as any).Properties.DistributionConfig;
  const environment = (template: Template) =>
    (Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Environment: Match.anyValue() } })) as any[]).find(
      (f) => f.Properties.Environment.Variables.MCP_PATH,
    )!.Properties.Environment.Variables;

  it("CloudFront sends the origin secret as a header, read from the data plane's origin secret at deploy; the function checks it", () => {
    const [origin] = distribution().Origins;
    const [header] = origin.OriginCustomHeaders;
    assert.equal(header.HeaderName, 'x-mcp-origin-verify');
    assert.match(JSON.stringify(header.HeaderValue), /\{\{resolve:secretsmanager:.*:SecretString:MCP_ORIGIN_SECRET::\}\}/);
    assert.equal(environment(notes).MCP_ORIGIN_VERIFY, 'true');
    dataPlane.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'MCP_ORIGIN_SECRET' }) });
  });

  it('the gateway calls notes and echo on their API Gateway URLs with the origin header, not through CloudFront and its WAF', () => {
    const config = JSON.stringify(environment(gateway).MCP_GATEWAY_CONFIG);
    for (const upstream of ['notes', 'echo'])
      assert.match(config, new RegExp(`\\\\"${upstream}\\\\":\\{\\\\"url\\\\":\\\\"https://\\",\\{"Fn::ImportValue":"[^"]*ServerApi`));
    assert.equal(config.match(/originVerifyVariable\\":\\"MCP_ORIGIN_SECRET/g)?.length, 2);
    assert.doesNotMatch(config, /Distribution/);
  });

  it('sets an error-caching minimum TTL of 0 for every code a distribution can take', () => {
    assert.deepEqual(
      distribution().CustomErrorResponses.map((r: { ErrorCode: number; ErrorCachingMinTTL: number }) => `${r.ErrorCode}:${r.ErrorCachingMinTTL}`),
      ['400:0', '403:0', '404:0', '405:0', '414:0', '500:0', '501:0', '502:0', '503:0', '504:0'],
    );
  });

  it("alarms before the region's concurrency, which Lambda@Edge shares, is all claimed", () => {
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'ClaimedAccountConcurrency',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('runs the edge function on nodejs22.x, the newest Node.js runtime Lambda@Edge lists, and creates no us-east-1 log group it would never write', () => {
    edge.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Handler: 'restore-www-authenticate.handler' });
    edge.resourceCountIs('AWS::Logs::LogGroup', 0);
  });

  it("writes the account's API Gateway setting only when asked", () => {
    for (const template of [dataPlane, notes, gateway]) template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('concurrency kept for Lambda@Edge', () => {
  it('reserves what -c reservedConcurrency asks for each function, servers and gateway alike', () => {
    const app = new App({
      outdir: mkdtempSync(join(TMP, 'app-')),
      context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1', reservedConcurrency: '200' },
    });
    const stacks = buildKitApp(app);
    for (const stack of [...stacks.servers, stacks.gateway!]) {
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Environment: Match.objectLike({ Variables: Match.objectLike({ MCP_PATH: '/mcp' }) }),
        ReservedConcurrentExecutions: 200,
      });
    }
  });
});
