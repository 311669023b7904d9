// What McpServerEndpoint builds for the deployed path beyond its defaults (stacks.test.ts): the
// Lambda@Edge function that restores 401/403 challenges and the region it needs, the account's
// API Gateway logging role, and the stream numbers derived from the props, with the settings the
// path cannot carry refused at synth. Read from the synthesized templates; bundling is skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack, type StackProps, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildKitApp } from '../../infra/kit-app.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-endpoint-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const IN_REGION = { env: { region: 'eu-west-1' } };

function newApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...context } });
}

/** Endpoints alone in a stack of their own, each with its private data plane. */
function synthEndpoints(stackProps: StackProps, ...endpoints: Partial<McpServerEndpointProps>[]) {
  const app = newApp();
  const stack = new Stack(app, 'Endpoint', stackProps);
  for (const [i, props] of endpoints.entries())
    new McpServerEndpoint(stack, `Server${i || ''}`, { serverName: 'echo', entry: 'functions/echo/handler.ts', ...props });
  return { app, stack, template: Template.fromStack(stack) };
}

const synthEndpoint = (props: Partial<McpServerEndpointProps>, stackProps: StackProps = IN_REGION) => synthEndpoints(stackProps, props);
const OPEN = { auth: { mode: 'none', allowUnauthenticated: true } } as const;
const API_KEYS = { auth: { mode: 'apikey' } } as const;

function functionEnvironment(template: Template): Record<string, unknown> {
  const [fn] = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) } } }),
  ) as any[];
  return fn.Properties.Environment.Variables;
}

function distributionConfig(template: Template): Record<string, any> {
  const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution')) as any[];
  return distribution.Properties.DistributionConfig;
}

describe('WWW-Authenticate on 401 and 403, through API Gateway and CloudFront', () => {
  it('runs a Lambda@Edge function on every origin response of the MCP route when callers authenticate', () => {
    const { template, app } = synthEndpoint(API_KEYS);
    const config = distributionConfig(template);
    const [association, ...others] = config.DefaultCacheBehavior.LambdaFunctionAssociations;
    assert.deepEqual(others, []);
    assert.equal(association.EventType, 'origin-response');
    // A numbered version's ARN, read across regions: Lambda@Edge takes no $LATEST.
    assert.match(JSON.stringify(association.LambdaFunctionARN), /McpRestoreWwwAuthenticateArnReader/);
    // Discovery metadata is public: no challenge on /.well-known/*, no function there.
    assert.equal(config.CacheBehaviors[0].LambdaFunctionAssociations, undefined);
    // Lambda@Edge lives in us-east-1: CDK deploys it from a stack of its own there.
    const edge = app.node.findChild('Endpoint-Edge') as Stack;
    assert.equal(edge.region, 'us-east-1');
    Template.fromStack(edge).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'restore-www-authenticate.handler',
      Architectures: ['x86_64'],
    });
  });

  it('adds no edge function when nobody authenticates, or without CloudFront', () => {
    assert.equal(distributionConfig(synthEndpoint(OPEN).template).DefaultCacheBehavior.LambdaFunctionAssociations, undefined);
    const { app } = synthEndpoint({ ...API_KEYS, cloudFront: false });
    assert.equal(app.node.tryFindChild('Endpoint-Edge'), undefined);
  });

  it('shares one edge function among the endpoints of a stack', () => {
    const { app, template } = synthEndpoints(IN_REGION, API_KEYS, { ...API_KEYS, serverName: 'notes' });
    Template.fromStack(app.node.findChild('Endpoint-Edge') as Stack).resourceCountIs('AWS::Lambda::Function', 1);
    const arns = (Object.values(template.findResources('AWS::CloudFront::Distribution')) as any[]).map((d) =>
      JSON.stringify(d.Properties.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations[0].LambdaFunctionARN),
    );
    assert.equal(arns.length, 2);
    assert.equal(arns[0], arns[1]);
  });

  it('refuses a stack without a region, saying what to set', () => {
    assert.throws(
      () => synthEndpoint(API_KEYS, {}),
      /McpServerEndpoint "echo": callers authenticate, .*Give stack "Endpoint" an env, .*CDK_DEFAULT_REGION.*or set `cloudFront: false`/s,
    );
    assert.doesNotThrow(() => synthEndpoint(OPEN, {}));
  });
});

describe("the account's API Gateway logging role", () => {
  it('is set by a standalone endpoint when asked, before its stage, once per stack, and kept when the stack goes', () => {
    const { template } = synthEndpoints({}, { ...OPEN, apiGatewayLogging: true }, { ...OPEN, serverName: 'notes', apiGatewayLogging: true });
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
    template.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
    const [accountId] = Object.keys(template.findResources('AWS::ApiGateway::Account'));
    for (const stage of Object.values(template.findResources('AWS::ApiGateway::Stage')) as any[]) {
      assert.ok(stage.DependsOn.includes(accountId), 'stage created before the account has its logging role');
    }
  });

  it("is left alone unless asked (one setting per account and region), and by the app's server stacks (the data-plane stack sets it when asked)", () => {
    synthEndpoint(OPEN, {}).template.resourceCountIs('AWS::ApiGateway::Account', 0);
    // The app's servers authenticate by default, so their edge function needs the region the CLI passes on.
    const { dataPlane } = buildKitApp(newApp({ region: 'eu-west-1' }));
    Template.fromStack(dataPlane).resourceCountIs('AWS::ApiGateway::Account', 0);
    const app = newApp({ region: 'eu-west-1', apiGatewayLogging: 'true' });
    const { dataPlane: asked, servers } = buildKitApp(app);
    Template.fromStack(asked).resourceCountIs('AWS::ApiGateway::Account', 1);
    for (const server of servers) Template.fromStack(server).resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('streams: cap and keep-alive', () => {
  const env = (props: Partial<McpServerEndpointProps>) => functionEnvironment(synthEndpoint({ ...OPEN, ...props }).template);

  it('caps notification streams below the function timeout, and keeps them alive below the origin read timeout', () => {
    assert.deepEqual({ cap: env({}).MCP_STREAM_MAX_SECONDS, keepAlive: env({}).MCP_SSE_KEEPALIVE_MS }, { cap: '300', keepAlive: '15000' });
    assert.equal(env({ timeout: Duration.minutes(2) }).MCP_STREAM_MAX_SECONDS, '110');
    assert.equal(env({ streamMaxDuration: Duration.minutes(10) }).MCP_STREAM_MAX_SECONDS, '600');
    assert.equal(env({ sseKeepAlive: Duration.millis(2500) }).MCP_SSE_KEEPALIVE_MS, '2500');
  });

  it('leaves legacy GET streams off unless asked: each holds an execution environment until the cap', () => {
    assert.equal(env({}).MCP_GET_STREAMS, 'false');
    assert.equal(env({ getStreams: true }).MCP_GET_STREAMS, 'true');
  });

  it('refuses a cap or keep-alive the path would cut short', () => {
    assert.throws(
      () => env({ timeout: Duration.minutes(2), streamMaxDuration: Duration.seconds(111) }),
      /streamMaxDuration is 111 s; .*at most timeout \(120 s\) minus 10 s/,
    );
    assert.throws(() => env({ sseKeepAlive: Duration.seconds(60) }), /sseKeepAlive is 60 s; it must be above 0 and below originReadTimeout \(60 s\)/);
    assert.throws(() => env({ originReadTimeout: Duration.seconds(20), sseKeepAlive: Duration.seconds(20) }), /below originReadTimeout \(20 s\)/);
    assert.throws(() => env({ sseKeepAlive: Duration.seconds(0) }), /above 0/);
  });

  it("keeps the origin read timeout within CloudFront's quota unless told it was raised", () => {
    assert.throws(
      () => env({ originReadTimeout: Duration.seconds(90) }),
      /originReadTimeout is 90 s; CloudFront allows at most 60 s .*originReadTimeoutQuotaRaised: true/,
    );
    const { template } = synthEndpoint({ ...OPEN, originReadTimeout: Duration.seconds(90), originReadTimeoutQuotaRaised: true });
    assert.equal(distributionConfig(template).Origins[0].CustomOriginConfig.OriginReadTimeout, 90);
  });

  it('refuses durations it cannot check', () => {
    assert.throws(() => env({ timeout: Duration.seconds(Token.asNumber({ Ref: 'Timeout' })) }), /timeout must be a concrete duration, not a token/);
  });
});

describe('tracing', () => {
  it('is on by default: Lambda active tracing with X-Ray write access, API Gateway tracing, MCP_TRACING', () => {
    const { template } = synthEndpoint(API_KEYS);
    template.hasResourceProperties('AWS::Lambda::Function', {
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: Match.objectLike({ MCP_TRACING: 'true' }) },
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    const role = JSON.stringify(Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('ServerFunctionRole')));
    assert.match(role, /xray:PutTelemetryRecords/);
    assert.match(role, /xray:PutTraceSegments/);
  });

  it('tracing: false turns all three off', () => {
    const { template } = synthEndpoint({ ...API_KEYS, tracing: false });
    assert.equal(functionEnvironment(template).MCP_TRACING, undefined);
    template.hasResourceProperties('AWS::Lambda::Function', {
      TracingConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) },
    });
    assert.ok(!JSON.stringify(template.toJSON()).includes('xray:PutTraceSegments'));
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: false });
  });

  it("the app's context key turns it off on every function, servers and gateway", () => {
    const { servers, gateway } = buildKitApp(newApp({ region: 'eu-west-1', tracing: 'false' }));
    for (const stack of [...servers, gateway!]) {
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: false });
      assert.equal(functionEnvironment(template).MCP_TRACING, undefined, stack.stackName);
    }
  });
});
