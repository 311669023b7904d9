// What `cdk deploy` would create, read from the synthesized templates: the shared data plane, each
// example server's function, streaming API, CloudFront front door, alarms and outputs, and how
// deploy settings (context) and construct props change them. Bundling is skipped here; the CLI
// synth test bundles for real.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { CLOUDFRONT_ERROR_CACHING } from '../../infra/deployed-path.ts';
import { buildKitApp, stackId } from '../../infra/kit-app.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';

const REPO = new URL('../../', import.meta.url);
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('cdk.json', REPO), 'utf8')).context as Record<string, unknown>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-stacks-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

/**
 * A region, as the CDK CLI passes on the one it resolved (from the profile, else us-east-1): the
 * default servers authenticate, and their Lambda@Edge function needs one. `region: undefined` drops it.
 */
const CLI_REGION = { region: 'eu-west-1' };

/** The repository's app, as `cdk synth -c key=value ...` would build it. */
function synthKitApp(context: Record<string, unknown> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...CLI_REGION, ...context } });
  const stacks = buildKitApp(app);
  app.synth();
  const [notes, echo] = stacks.servers;
  assert.ok(notes && echo);
  return {
    stacks,
    dataPlane: Template.fromStack(stacks.dataPlane),
    notes: Template.fromStack(notes),
    echo: Template.fromStack(echo),
  };
}

/** One endpoint alone in a stack, with its private data plane. */
function synthEndpoint(props: Partial<McpServerEndpointProps> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
  const stack = new Stack(app, 'Endpoint');
  const endpoint = new McpServerEndpoint(stack, 'Server', {
    serverName: 'echo',
    entry: 'functions/echo/handler.ts',
    auth: { mode: 'none', allowUnauthenticated: true },
    ...props,
  });
  return { stack, endpoint, template: Template.fromStack(stack) };
}

function onlyResource(template: Template, type: string): { Properties: Record<string, any>; [key: string]: any } {
  const resources = Object.values(template.findResources(type));
  assert.equal(resources.length, 1, `expected exactly one ${type}`);
  return resources[0] as { Properties: Record<string, any> };
}

/** The server's function (not CDK's custom-resource providers, also AWS::Lambda::Functions): the one MCP_PATH configures. */
function serverFunction(template: Template): { Properties: Record<string, any> } {
  const functions = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) } } }),
  );
  assert.equal(functions.length, 1, 'expected exactly one server function');
  return functions[0] as { Properties: Record<string, any> };
}

function functionEnvironment(template: Template): Record<string, unknown> {
  return serverFunction(template).Properties.Environment.Variables;
}

describe('the example app on the default stage', () => {
  const { stacks, dataPlane, notes, echo } = synthKitApp();

  it('deploys a data-plane stack and one stack per example server, named by stage', () => {
    assert.equal(stacks.stage, 'dev');
    assert.deepEqual(
      [stacks.dataPlane, ...stacks.servers].map((s) => s.artifactId),
      ['McpKit-dev-DataPlane', 'McpKit-dev-Notes', 'McpKit-dev-Echo'],
    );
    assert.equal(stacks.edgeFirewall, undefined);
  });

  it('authenticates callers with API keys: a plain deploy is never an open endpoint', () => {
    for (const template of [notes, echo]) {
      assert.equal(functionEnvironment(template).MCP_AUTH_MODE, 'apikey');
      assert.equal(functionEnvironment(template).MCP_ALLOW_UNAUTHENTICATED, undefined);
    }
    assert.equal(CDK_CONTEXT.auth, undefined, 'cdk.json leaves auth to the app, which defaults to apikey');
    assert.equal(CDK_CONTEXT.allowUnauthenticated, undefined, 'cdk.json does not opt in to an open endpoint');
  });

  it('is environment-agnostic when no region is known and no server needs one', () => {
    const { stacks } = synthKitApp({ region: undefined, cloudFront: 'false' });
    for (const stack of [stacks.dataPlane, ...stacks.servers]) {
      assert.ok(Token.isUnresolved(stack.account), `${stack.stackName} has a fixed account`);
      assert.ok(Token.isUnresolved(stack.region), `${stack.stackName} has a fixed region`);
    }
  });

  it('lets both servers share one table, bucket, secret and origin secret', () => {
    dataPlane.resourceCountIs('AWS::DynamoDB::Table', 1);
    dataPlane.resourceCountIs('AWS::S3::Bucket', 1);
    dataPlane.resourceCountIs('AWS::SecretsManager::Secret', 2);
    const notesEnv = functionEnvironment(notes);
    const echoEnv = functionEnvironment(echo);
    for (const name of ['MCP_TABLE_NAME', 'MCP_BUCKET_NAME', 'MCP_SECRETS_ARN']) {
      assert.match(JSON.stringify(notesEnv[name]), /Fn::ImportValue.*McpKit-dev-DataPlane/);
      assert.deepEqual(notesEnv[name], echoEnv[name], `${name} differs between servers`);
    }
  });

  it('runs each server as an arm64 nodejs24.x function with a 15-minute timeout', () => {
    notes.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 900,
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
    });
  });

  it('wires the function to the kit through its environment variables', () => {
    assert.deepEqual(Object.keys(functionEnvironment(notes)).sort(), [
      'LOG_LEVEL',
      'MCP_ALLOWED_HOSTS',
      'MCP_ALLOWED_ORIGINS',
      'MCP_AUTH_MODE',
      'MCP_BUCKET_NAME',
      'MCP_GET_STREAMS',
      'MCP_MAX_OPEN_STREAMS',
      'MCP_ORIGIN_VERIFY',
      'MCP_PATH',
      'MCP_PUBLIC_URL',
      'MCP_RATE_LIMIT_REQUESTS',
      'MCP_RATE_LIMIT_WINDOW_SECONDS',
      'MCP_SECRETS_ARN',
      'MCP_SSE_KEEPALIVE_MS',
      'MCP_STAGE',
      'MCP_STREAMS_PER_PRINCIPAL',
      'MCP_STREAM_MAX_SECONDS',
      'MCP_TABLE_NAME',
      'MCP_TASK_TIMEOUT_MS',
      'MCP_TOOL_TIMEOUT_MS',
      'MCP_TRACING',
      'MCP_TRUSTED_GATEWAYS',
      'NODE_OPTIONS',
      'POWERTOOLS_SERVICE_NAME',
    ]);
    notes.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MCP_STAGE: 'dev',
          MCP_PATH: '/mcp',
          MCP_AUTH_MODE: 'apikey',
          MCP_TOOL_TIMEOUT_MS: '60000',
          MCP_TASK_TIMEOUT_MS: '840000',
          MCP_STREAM_MAX_SECONDS: '300',
          MCP_SSE_KEEPALIVE_MS: '15000',
          // Each open GET stream would hold an execution environment until the stream cap.
          MCP_GET_STREAMS: 'false',
          MCP_RATE_LIMIT_REQUESTS: '120',
          MCP_RATE_LIMIT_WINDOW_SECONDS: '60',
          LOG_LEVEL: 'INFO',
          POWERTOOLS_SERVICE_NAME: 'notes',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
  });

  it('keeps function logs for a month', () => {
    const fn = serverFunction(notes);
    const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref;
    assert.equal(notes.toJSON().Resources[logGroupId].Properties.RetentionInDays, 30);
  });

  it('grants the function only its log group, the data-plane access policy, the secret and invoking itself', () => {
    const roleId = serverFunction(notes).Properties.Role['Fn::GetAtt'][0] as string;
    const role = notes.toJSON().Resources[roleId];
    assert.match(JSON.stringify(role.Properties.ManagedPolicyArns), /ExportsOutputRefDataPlaneServerAccess/);
    assert.doesNotMatch(JSON.stringify(role.Properties.ManagedPolicyArns), /iam::aws:policy/);
    const policies = Object.values(notes.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } })) as Array<{
      Properties: Record<string, any>;
    }>;
    // The role's default policy, and the self-invoke policy tasks need (test/infra/tasks.test.ts).
    assert.equal(policies.length, 2);
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement) as Array<{ Action: string | string[]; Resource: unknown }>;
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    assert.deepEqual(actions, [
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    // X-Ray's two actions (active tracing) take no resource but *; nothing else may.
    for (const s of statements) if (![s.Action].flat().every((a) => a.startsWith('xray:'))) assert.notEqual(s.Resource, '*');
  });

  it('gives servers item-level table access and object access under artifacts/ only', () => {
    const policy = onlyResource(dataPlane, 'AWS::IAM::ManagedPolicy');
    const statements = policy.Properties.PolicyDocument.Statement as Array<Record<string, any>>;
    assert.deepEqual([statements[0]!.Action].flat().sort(), [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    assert.match(JSON.stringify(statements[1]!.Resource), /"\/artifacts\/\*"/);
    // A GetObject carries no s3:prefix: only an unconditioned ListBucket turns a missing key into 404.
    assert.deepEqual(statements[2]!.Action, 's3:ListBucket');
    assert.equal(statements[2]!.Condition, undefined);
    assert.doesNotMatch(JSON.stringify(policy), /dynamodb:\*|s3:\*|dynamodb:Scan/);
  });

  it('serves MCP, health and well-known routes on a regional REST API that streams from the function', () => {
    notes.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    const resources = notes.findResources('AWS::ApiGateway::Resource');
    const routes = Object.values(notes.findResources('AWS::ApiGateway::Method'))
      .map((m: any) => `${m.Properties.HttpMethod} ${resources[m.Properties.ResourceId.Ref]!.Properties.PathPart}`)
      .sort();
    assert.deepEqual(routes, ['DELETE mcp', 'GET health', 'GET mcp', 'GET {proxy+}', 'OPTIONS mcp', 'OPTIONS {proxy+}', 'POST mcp']);
    for (const method of Object.values(notes.findResources('AWS::ApiGateway::Method')) as any[]) {
      const integration = method.Properties.Integration;
      assert.equal(integration.Type, 'AWS_PROXY');
      assert.equal(integration.ResponseTransferMode, 'STREAM');
      assert.equal(integration.TimeoutInMillis, 900_000);
      assert.match(JSON.stringify(integration.Uri), /2021-11-15\/functions\/.*\/response-streaming-invocations/);
    }
  });

  it('throttles the stage and writes JSON access logs and error-level execution logs', () => {
    notes.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000, LoggingLevel: 'ERROR', DataTraceEnabled: false })],
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
    notes.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.anyValue() }, '/dev']] },
      RetentionInDays: 30,
    });
  });

  it('puts CloudFront in front: nothing cached or compressed, all viewer headers but Host forwarded', () => {
    const config = onlyResource(notes, 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
    for (const behavior of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) {
      assert.equal(behavior.CachePolicyId, CACHING_DISABLED);
      assert.equal(behavior.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST);
      assert.equal(behavior.Compress, false);
      assert.equal(behavior.ViewerProtocolPolicy, 'https-only');
      assert.equal(behavior.FunctionAssociations, undefined);
    }
    // Callers authenticate, so the MCP route's 401 challenges are restored at the edge.
    assert.deepEqual(
      config.DefaultCacheBehavior.LambdaFunctionAssociations.map((a: { EventType: string }) => a.EventType),
      ['origin-response'],
    );
    assert.equal(config.CacheBehaviors[0].LambdaFunctionAssociations, undefined);
    assert.deepEqual(config.DefaultCacheBehavior.AllowedMethods.sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    assert.deepEqual(
      config.CacheBehaviors.map((b: any) => b.PathPattern),
      ['/.well-known/*'],
    );
    assert.equal(config.PriceClass, 'PriceClass_100');
    assert.equal(config.Aliases, undefined);
    assert.equal(config.WebACLId, undefined);
  });

  it('waits longer for the origin than the 15 s SSE keep-alive gap, and maps the root onto the stage', () => {
    const [origin] = onlyResource(notes, 'AWS::CloudFront::Distribution').Properties.DistributionConfig.Origins;
    assert.ok(origin.CustomOriginConfig.OriginReadTimeout > 15);
    assert.equal(origin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
    // OriginPath is "/<stage>", so /.well-known/... at the host's root reaches the API's route.
    assert.equal(origin.OriginPath, '/dev');
    assert.deepEqual(origin.CustomOriginConfig.OriginSSLProtocols, ['TLSv1.2']);
    assert.match(JSON.stringify(origin.DomainName), /"Ref":"ServerApi[0-9A-F]+"\},"\.execute-api\./);
  });

  it('caches no error answer: every status CloudFront would cache gets a 0 s TTL and no page of its own', () => {
    const config = onlyResource(notes, 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
    assert.deepEqual(
      config.CustomErrorResponses,
      CLOUDFRONT_ERROR_CACHING.configurable.map((ErrorCode) => ({ ErrorCode, ErrorCachingMinTTL: 0 })),
    );
  });

  it("alarms on 5xx rate, function errors, throttles, p99 duration, failed tasks, the region's claimed concurrency, failed authentications and audit forwarding, a release's errors and p99 duration, and on table throttles", () => {
    notes.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    // Lambda@Edge runs on what is left of the region's concurrency: alarm before it is gone (900 of the default 1,000).
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ClaimedAccountConcurrency',
      Namespace: 'AWS/Lambda',
      Threshold: 900,
      Dimensions: Match.absent(),
    });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5XXError', Namespace: 'AWS/ApiGateway', Statistic: 'Average', Threshold: 0.05 });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 5 });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Namespace: 'AWS/Lambda', Threshold: 1 });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 810_000 });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'TaskStateChanges', Namespace: 'McpKit', Threshold: 5 });
    notes.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'AuthFailures', Namespace: 'McpKit', Threshold: 50 });
    dataPlane.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'reads + writes' })]),
      Threshold: 1,
    });
    for (const template of [notes, dataPlane]) {
      for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[]) assert.equal(alarm.Properties.AlarmActions, undefined);
    }
  });

  it('builds a dashboard per server', () => {
    const body = JSON.stringify(onlyResource(notes, 'AWS::CloudWatch::Dashboard').Properties.DashboardBody);
    for (const metric of ['5XXError', 'Duration', 'Throttles', 'ReadThrottleEvents', 'AWS/CloudFront', 'TaskStateChanges'])
      assert.ok(body.includes(metric), `dashboard lacks ${metric}`);
  });

  it('outputs the public MCP URL, the raw API URL, and the table and bucket names', () => {
    const outputs = notes.toJSON().Outputs;
    // CDK's own exports (ExportsOutput…) carry the URL to the gateway's stack.
    assert.deepEqual(
      Object.keys(outputs)
        .filter((o) => !o.startsWith('ExportsOutput'))
        .sort(),
      [
        'ApiUrl',
        'AuditLogGroup',
        'CreateApiKeyCommand',
        'DashboardName',
        'DistributionDomainName',
        'FunctionLogGroup',
        'McpUrl',
        'RollbackCommand',
        'SmokeCommand',
        'VerifyCommand',
      ],
    );
    const [distributionId] = Object.keys(notes.findResources('AWS::CloudFront::Distribution'));
    assert.deepEqual(outputs.McpUrl.Value, { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/mcp']] });
    assert.match(JSON.stringify(outputs.ApiUrl.Value), /execute-api.*"\/mcp"\]/);
    const dataOutputs = Object.keys(dataPlane.toJSON().Outputs).join(' ');
    for (const name of ['TableName', 'BucketName', 'SecretArn']) assert.match(dataOutputs, new RegExp(`DataPlane${name}`));
  });

  it('outputs the command that creates the first API key in the deployed table, and the smoke check that takes it', () => {
    const outputs = notes.toJSON().Outputs;
    const table = functionEnvironment(notes).MCP_TABLE_NAME;
    assert.deepEqual(outputs.CreateApiKeyCommand.Value, {
      'Fn::Join': ['', ['export MCP_API_KEY="$(npm run --silent keys -- create --table ', table, " --region eu-west-1 --principal me --name 'first key')\""]],
    });
    assert.match(outputs.CreateApiKeyCommand.Description, /shown only once/);
    const url = outputs.McpUrl.Value['Fn::Join'][1];
    assert.deepEqual(outputs.SmokeCommand.Value, { 'Fn::Join': ['', [`npm run smoke -- --url ${url[0]}`, ...url.slice(1)]] });
    assert.match(outputs.SmokeCommand.Description, /MCP_API_KEY/);
  });
});

describe('the data plane', () => {
  it('holds pk/sk items on demand, expires them on expiresAt, and keeps point-in-time recovery', () => {
    const { dataPlane } = synthKitApp();
    dataPlane.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('encrypts the artifact bucket, blocks public access, requires TLS and expires artifacts', () => {
    const { dataPlane } = synthKitApp();
    dataPlane.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'artifacts/', ExpirationInDays: 30, Status: 'Enabled' })]) },
    });
    dataPlane.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('creates the secret with a generated 64-character request-state key and empty Upstash fields', () => {
    const { dataPlane } = synthKitApp();
    dataPlane.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' }),
        GenerateStringKey: 'MCP_REQUEST_STATE_KEY',
        PasswordLength: 64,
        ExcludePunctuation: true,
      },
    });
  });

  it('is deleted with its stack on non-production stages, objects included', () => {
    const { dataPlane } = synthKitApp();
    for (const type of ['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::SecretsManager::Secret']) {
      dataPlane.hasResource(type, { DeletionPolicy: 'Delete' });
    }
    dataPlane.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    dataPlane.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  it('is retained and deletion-protected on production stages', () => {
    const { dataPlane, notes } = synthKitApp({ stage: 'prod' });
    for (const type of ['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::SecretsManager::Secret']) {
      dataPlane.hasResource(type, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    dataPlane.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    dataPlane.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    notes.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  it("sets the account's API Gateway logging role only when asked, once, and keeps it when the stack goes", () => {
    const { dataPlane } = synthKitApp({ apiGatewayLogging: 'true' });
    dataPlane.resourceCountIs('AWS::ApiGateway::Account', 1);
    dataPlane.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
    synthKitApp().dataPlane.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('deploy settings', () => {
  it('alarmEmail adds an SSL-only SNS topic that every alarm notifies', () => {
    const { dataPlane, notes } = synthKitApp({ alarmEmail: 'ops@example.com' });
    dataPlane.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    dataPlane.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    for (const template of [notes, dataPlane]) {
      for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[]) {
        assert.equal(alarm.Properties.AlarmActions.length, 1);
        assert.equal(alarm.Properties.OKActions.length, 1);
      }
    }
  });

  it('domainName and certificateArn serve the endpoint on a custom domain with TLS 1.2', () => {
    const certificateArn = 'arn:aws:acm:us-east-1:111111111111:certificate/0f0f0f0f-0000-4000-8000-000000000000';
    const { notes } = synthKitApp({ domainName: 'mcp.example.com', certificateArn });
    notes.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['mcp.example.com'],
        ViewerCertificate: { AcmCertificateArn: certificateArn, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    notes.hasOutput('McpUrl', { Value: 'https://mcp.example.com/mcp' });
    assert.throws(() => synthKitApp({ domainName: 'mcp.example.com' }), /domainName" and "certificateArn" go together/);
  });

  it('webAclArn attaches a WAF web ACL to the distribution', () => {
    const webAclArn = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/mcp/0f0f0f0f';
    const { notes } = synthKitApp({ webAclArn });
    notes.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: webAclArn }) });
  });

  it('edgeFirewall adds a us-east-1 stack with a CLOUDFRONT web ACL and a per-IP rate rule', () => {
    const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...CLI_REGION, edgeFirewall: 'true' } });
    const { edgeFirewall } = buildKitApp(app);
    assert.ok(edgeFirewall);
    assert.equal(edgeFirewall.artifactId, stackId('dev', 'EdgeFirewall'));
    assert.equal(edgeFirewall.region, 'us-east-1');
    const waf = Template.fromStack(edgeFirewall);
    waf.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Name: 'RateLimitPerIp',
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        }),
      ]),
    });
    assert.doesNotMatch(JSON.stringify(waf.toJSON()), /AWSManagedRulesCommonRuleSet/);
    waf.hasOutput('WebAclArn', {});
  });

  it('rateLimit forces the Redis-backed rate limit off or on; unset leaves it to the kit', () => {
    assert.equal(functionEnvironment(synthKitApp({ rateLimit: 'false' }).notes).MCP_RATE_LIMIT_ENABLED, 'false');
    assert.equal(functionEnvironment(synthKitApp({ rateLimit: 'true' }).notes).MCP_RATE_LIMIT_ENABLED, 'true');
    // Unset: on when the secret holds Upstash credentials, so a plain deploy starts without them.
    assert.equal(functionEnvironment(synthKitApp().notes).MCP_RATE_LIMIT_ENABLED, undefined);
  });

  it("region (or the CLI's CDK_DEFAULT_REGION) pins every stack to that region", () => {
    const { stacks } = synthKitApp({ region: 'eu-west-1', edgeFirewall: 'true' });
    for (const stack of [stacks.dataPlane, ...stacks.servers]) assert.equal(stack.region, 'eu-west-1');
    assert.equal(stacks.edgeFirewall?.region, 'us-east-1');
    assert.throws(() => synthKitApp({ region: 'Europe' }), /region "Europe" .* is not an AWS region name/);
  });

  it('an authenticating server behind CloudFront needs a region, and says where to set it', () => {
    assert.throws(() => synthKitApp({ region: undefined }), /No AWS region to deploy to: .*Set AWS_REGION .*-c region=<region>/s);
    // Without CloudFront there is no Lambda@Edge function, so no region is needed.
    assert.doesNotThrow(() => synthKitApp({ region: undefined, cloudFront: 'false' }));
  });

  it('cloudFront=false leaves the raw API as the public URL (LocalStack)', () => {
    const { notes } = synthKitApp({ cloudFront: 'false' });
    notes.resourceCountIs('AWS::CloudFront::Distribution', 0);
    const url = JSON.stringify(notes.toJSON().Outputs.McpUrl.Value);
    assert.match(url, /"Ref":"ServerApi[0-9A-F]+"\},"\.execute-api\..*"\/dev\/mcp"/);
    assert.deepEqual(functionEnvironment(notes).MCP_PUBLIC_URL, notes.toJSON().Outputs.McpUrl.Value);
  });

  it('the local stage declares endpoint and secret variables that sam local --env-vars can override', () => {
    const { notes } = synthKitApp({ stage: 'local', allowUnauthenticated: 'false' });
    notes.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MCP_STAGE: 'local',
          AWS_ENDPOINT_URL_DYNAMODB: '',
          AWS_ENDPOINT_URL_S3: '',
          UPSTASH_REDIS_REST_URL: '',
          UPSTASH_REDIS_REST_TOKEN: '',
          MCP_REQUEST_STATE_KEY: '',
        }),
      },
    });
  });

  it('publishes an open endpoint only when told twice: -c auth=none -c allowUnauthenticated=true', () => {
    assert.throws(() => synthKitApp({ auth: 'none' }), /stage "dev" would serve MCP with auth "none".*allowUnauthenticated: true/s);
    assert.throws(() => synthKitApp({ auth: 'none', allowUnauthenticated: 'false' }), /-c auth=/);
    assert.equal(functionEnvironment(synthKitApp({ allowUnauthenticated: 'true' }).notes).MCP_AUTH_MODE, 'apikey', 'the flag alone opens nothing');
    const { notes } = synthKitApp({ auth: 'none', allowUnauthenticated: 'true' });
    assert.equal(functionEnvironment(notes).MCP_AUTH_MODE, 'none');
    assert.equal(functionEnvironment(notes).MCP_ALLOW_UNAUTHENTICATED, 'true');
    assert.equal(notes.toJSON().Outputs.CreateApiKeyCommand, undefined, 'no key to create');
    // The local stage is for SAM and LocalStack on the emulators: open unless -c auth says otherwise.
    assert.equal(functionEnvironment(synthKitApp({ stage: 'local' }).notes).MCP_AUTH_MODE, 'none');
  });

  it('rejects malformed settings with the name of the setting', () => {
    assert.throws(() => synthKitApp({ stage: 'Prod_1' }), /context "stage"/);
    assert.throws(() => synthKitApp({ cloudFront: 'yes' }), /context "cloudFront" must be true or false/);
  });
});

describe('McpServerEndpoint props', () => {
  it('creates a private data plane when none is given', () => {
    const { template } = synthEndpoint();
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::S3::Bucket', 1);
  });

  it("reads Redis credentials from a secret of the caller's choosing", () => {
    const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
    const stack = new Stack(app, 'Endpoint');
    const secret = Secret.fromSecretCompleteArn(stack, 'Upstash', 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:mcp/upstash-AbCdEf');
    new McpServerEndpoint(stack, 'Server', {
      serverName: 'echo',
      entry: 'functions/echo/handler.ts',
      auth: { mode: 'none', allowUnauthenticated: true },
      secret,
    });
    const template = Template.fromStack(stack);
    // Only the origin secret is generated: its value is CloudFront's, not the caller's.
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    assert.match(JSON.stringify(functionEnvironment(template).MCP_SECRETS_ARN), new RegExp(`^\\{"Fn::Join":\\["",\\["${secret.secretArn},`));
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['secretsmanager:GetSecretValue']), Resource: Match.arrayWith([secret.secretArn]) }),
        ]),
      },
    });
  });

  it('serves MCP on a configurable path', () => {
    const { template, endpoint, stack } = synthEndpoint({ path: '/v1/mcp' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'v1' });
    assert.equal(functionEnvironment(template).MCP_PATH, '/v1/mcp');
    assert.match(JSON.stringify(stack.resolve(endpoint.mcpUrl)), /"\/v1\/mcp"/);
  });

  it('passes rate limits, origins, hosts, log level and extra variables to the function', () => {
    const { template } = synthEndpoint({
      rateLimit: { enabled: false, requestsPerMinute: 30 },
      allowedOrigins: ['https://app.example.com', 'https://inspector.example.com'],
      allowedHosts: ['mcp.example.com'],
      logLevel: 'DEBUG',
      environment: { NOTES_LIMIT: '50' },
    });
    assert.deepEqual(
      { ...functionEnvironment(template), MCP_TABLE_NAME: 0, MCP_BUCKET_NAME: 0, MCP_SECRETS_ARN: 0, MCP_PUBLIC_URL: 0 },
      {
        MCP_TABLE_NAME: 0,
        MCP_BUCKET_NAME: 0,
        MCP_SECRETS_ARN: 0,
        MCP_STAGE: 'dev',
        MCP_PATH: '/mcp',
        MCP_AUTH_MODE: 'none',
        MCP_ALLOW_UNAUTHENTICATED: 'true',
        MCP_TOOL_TIMEOUT_MS: '60000',
        MCP_TASK_TIMEOUT_MS: '840000',
        MCP_STREAM_MAX_SECONDS: '300',
        MCP_SSE_KEEPALIVE_MS: '15000',
        MCP_GET_STREAMS: 'false',
        MCP_PUBLIC_URL: 0,
        // No gateway fronts it: it trusts none.
        MCP_TRUSTED_GATEWAYS: '',
        MCP_ALLOWED_ORIGINS: 'https://app.example.com,https://inspector.example.com',
        MCP_ALLOWED_HOSTS: 'mcp.example.com',
        MCP_RATE_LIMIT_ENABLED: 'false',
        MCP_RATE_LIMIT_REQUESTS: '30',
        MCP_RATE_LIMIT_WINDOW_SECONDS: '60',
        MCP_MAX_OPEN_STREAMS: '100',
        MCP_STREAMS_PER_PRINCIPAL: '10',
        MCP_ORIGIN_VERIFY: 'true',
        LOG_LEVEL: 'DEBUG',
        POWERTOOLS_SERVICE_NAME: 'echo',
        NODE_OPTIONS: '--enable-source-maps',
        MCP_TRACING: 'true',
        NOTES_LIMIT: '50',
      },
    );
  });

  it('sizes the function and its alarms from memory, timeout, throttle and alarm props', () => {
    const { template } = synthEndpoint({
      memorySize: 512,
      timeout: Duration.minutes(5),
      throttle: { rateLimit: 10, burstLimit: 20 },
      alarms: { serverErrorRate: 0.1, functionErrors: 1, p99Duration: Duration.seconds(30) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512, Timeout: 300 });
    assert.equal(functionEnvironment(template).MCP_TASK_TIMEOUT_MS, '290000');
    template.hasResourceProperties('AWS::ApiGateway::Method', { Integration: Match.objectLike({ TimeoutInMillis: 300_000 }) });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 })] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5XXError', Threshold: 0.1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 30_000 });
  });

  it('allows auth "none" without the flag only on the local stage', () => {
    const local = functionEnvironment(synthEndpoint({ stage: 'local', auth: undefined }).template);
    // SAM runs the function with AWS_LAMBDA_FUNCTION_NAME set, where the kit wants the opt-in.
    assert.equal(local.MCP_ALLOW_UNAUTHENTICATED, 'true');
    assert.throws(() => synthEndpoint({ stage: 'staging', auth: undefined }), /Configure the `auth` prop .*allowUnauthenticated: true/s);
    assert.throws(() => synthEndpoint({ stage: 'staging', auth: { mode: 'none' } }), /would serve MCP with auth "none"/);
  });

  it('rejects settings that cannot work', () => {
    assert.throws(() => synthEndpoint({ timeout: Duration.minutes(16) }), /stop at 15 minutes/);
    assert.throws(() => synthEndpoint({ path: 'mcp' }), /path "mcp" must look like "\/mcp"/);
    assert.throws(() => synthEndpoint({ path: '/health' }), /collides/);
    assert.throws(() => synthEndpoint({ path: '/.well-known/mcp' }), /collides/);
    assert.throws(() => synthEndpoint({ serverName: 'Notes' }), /serverName "Notes"/);
    assert.throws(() => synthEndpoint({ rateLimit: { requestsPerMinute: 0 } }), /requestsPerMinute must be a positive whole number/);
    assert.throws(() => synthEndpoint({ memorySize: 64 }), /memorySize is 64 MB; Lambda takes whole megabytes from 128/);
    assert.throws(() => synthEndpoint({ allowedOrigins: ['https://a.example.com,https://b.example.com'] }), /allowedOrigins entry .* without spaces or commas/);
    assert.throws(() => synthEndpoint({ environment: { MCP_TABLE_NAME: 'x' } }), /environment may not set MCP_TABLE_NAME/);
    assert.throws(() => synthEndpoint({ alarms: { serverErrorRate: 5 } }), /serverErrorRate must be in \(0, 1\]/);
  });
});
