// The audit log as the construct deploys it: a log group of its own with a longer retention, fed
// by a subscription filter on the function's log group that passes only audit lines to a
// forwarder, a metric filter counting failed authentications and an alarm on their spikes (read
// from the synthesized template); the forwarder run on deliveries shaped as CloudWatch Logs sends
// them, against a stand-in for the CloudWatch Logs API.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { decode, forward, type LogsBatch, type LogsWriter } from '../../infra/audit/forward-audit-lines.mjs';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';
import { createLogger } from '../../shared/log.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-audit-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function synth(props: Partial<McpServerEndpointProps> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Endpoint', { env: { region: 'eu-west-1' } });
  const endpoint = new McpServerEndpoint(stack, 'Server', {
    serverName: 'echo',
    entry: 'functions/echo/handler.ts',
    stage: 'dev',
    auth: { mode: 'apikey' },
    ...props,
  });
  return { stack, endpoint, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

describe('audit log (synth)', () => {
  const { stack, endpoint, template } = synth();
  const functionLogs = logicalId(stack, endpoint.fn.logGroup as logs.LogGroup);
  const auditLogs = logicalId(stack, endpoint.auditLog.logGroup);
  const forwarder = logicalId(stack, endpoint.auditLog.forwarder);

  it('keeps audit lines in a log group of their own for a year, beside a function log kept a month', () => {
    assert.notEqual(auditLogs, functionLogs);
    assert.equal(template.toJSON().Resources[auditLogs].Properties.RetentionInDays, 365);
    assert.equal(template.toJSON().Resources[functionLogs].Properties.RetentionInDays, 30);
  });

  it('passes only audit lines from the function log to the forwarder, which writes to the audit group', () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: functionLogs },
      FilterPattern: '{ $.audit IS TRUE }',
      DestinationArn: { 'Fn::GetAtt': [forwarder, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', { FunctionName: { 'Fn::GetAtt': [forwarder, 'Arn'] }, Principal: 'logs.amazonaws.com' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'forward-audit-lines.handler',
      Environment: { Variables: { AUDIT_LOG_GROUP: { Ref: auditLogs } } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: Match.arrayWith([{ 'Fn::GetAtt': [auditLogs, 'Arn'] }]) }),
        ]),
      },
    });
  });

  it('counts failed authentications from the function log, and alarms at 50 in five minutes', () => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: functionLogs },
      FilterPattern: '{ ($.audit IS TRUE) && ($.event = "auth.failed") }',
      MetricTransformations: [
        {
          MetricNamespace: 'McpKit',
          MetricName: 'AuthFailures',
          MetricValue: '1',
          Dimensions: [
            { Key: 'Server', Value: '$.service' },
            { Key: 'Stage', Value: '$.stage' },
          ],
        },
      ],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'McpKit',
      MetricName: 'AuthFailures',
      Dimensions: Match.arrayWith([
        { Name: 'Server', Value: 'echo' },
        { Name: 'Stage', Value: 'dev' },
      ]),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 50,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: forwarder } }],
      Threshold: 1,
    });
  });

  it('matches the lines the kit writes: top-level "audit": true, the event, and the server and stage the metric is read under', () => {
    let written = '';
    createLogger({ logLevel: 'SILENT', stage: 'dev' }, 'echo', (line) => void (written = line)).audit('auth.failed', { requestId: 'r' });
    assert.equal(written, '', 'SILENT writes nothing');
    createLogger({ logLevel: 'ERROR', stage: 'dev' }, 'echo', (line) => void (written = line)).audit('auth.failed', {
      requestId: 'r',
      audit: 'forged',
      event: 'forged',
    });
    const line = JSON.parse(written);
    assert.deepEqual([line.audit, line.event, line.service, line.stage], [true, 'auth.failed', 'echo', 'dev'], "an event's fields cannot replace the marks");
  });

  it('takes the alarm threshold and the retention from props; a production stage retains the audit group', () => {
    const custom = synth({ stage: 'prod', auditLogRetention: logs.RetentionDays.TWO_YEARS, alarms: { authFailures: 10 } });
    const group = custom.template.toJSON().Resources[logicalId(custom.stack, custom.endpoint.auditLog.logGroup)];
    assert.equal(group.Properties.RetentionInDays, 731);
    assert.equal(group.DeletionPolicy, 'Retain');
    custom.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'AuthFailures', Threshold: 10 });
    assert.throws(() => synth({ alarms: { authFailures: 0 } }), /alarms.authFailures must be a whole number, at least 1, got 0/);
  });
});

describe('audit forwarder', () => {
  const batch = (messageType: LogsBatch['messageType'], stamps: number[]): LogsBatch => ({
    messageType,
    logGroup: '/aws/lambda/echo',
    logStream: '2026/12/07/[$LATEST]abc',
    subscriptionFilters: ['AuditLines'],
    logEvents: stamps.map((t, i) => ({ id: String(i), timestamp: t, message: `{"audit":true,"n":${t}}` })),
  });
  function writer(fail?: { create?: string; rejected?: unknown }) {
    const calls: { op: string; input: Record<string, unknown> }[] = [];
    const logs: LogsWriter = {
      async createLogStream(input) {
        calls.push({ op: 'create', input });
        if (fail?.create) throw Object.assign(new Error(fail.create), { name: fail.create });
        return {};
      },
      async putLogEvents(input) {
        calls.push({ op: 'put', input });
        return fail?.rejected ? { rejectedLogEventsInfo: fail.rejected } : {};
      },
    };
    return { logs, calls };
  }

  it('decodes a delivery and writes its lines in time order under the source stream, creating the stream once', async () => {
    const delivery = { awslogs: { data: gzipSync(JSON.stringify(batch('DATA_MESSAGE', [3, 1, 2]))).toString('base64') } };
    const { logs, calls } = writer();
    const created = new Set<string>();
    assert.equal(await forward(decode(delivery), 'audit', logs, created), 3);
    assert.equal(await forward(decode(delivery), 'audit', logs, created), 3);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['create', 'put', 'put'],
    );
    assert.deepEqual(calls[0]!.input, { logGroupName: 'audit', logStreamName: '2026/12/07/[$LATEST]abc' });
    assert.deepEqual(
      (calls[1]!.input.logEvents as { timestamp: number; message: string }[]).map((e) => e.timestamp),
      [1, 2, 3],
    );
    assert.equal((calls[1]!.input.logEvents as { message: string }[])[0]!.message, '{"audit":true,"n":1}');
  });

  it('ignores the control message CloudWatch Logs sends to check the destination', async () => {
    const { logs, calls } = writer();
    assert.equal(await forward(batch('CONTROL_MESSAGE', [1]), 'audit', logs, new Set()), 0);
    assert.deepEqual(calls, []);
  });

  it('takes a stream another environment created; fails (so Lambda retries) on any other error or rejected lines', async () => {
    assert.equal(await forward(batch('DATA_MESSAGE', [1]), 'audit', writer({ create: 'ResourceAlreadyExistsException' }).logs, new Set()), 1);
    await assert.rejects(forward(batch('DATA_MESSAGE', [1]), 'audit', writer({ create: 'AccessDeniedException' }).logs, new Set()), /AccessDeniedException/);
    await assert.rejects(
      forward(batch('DATA_MESSAGE', [1]), 'audit', writer({ rejected: { tooOldLogEventEndIndex: 0 } }).logs, new Set()),
      /audit lines rejected/,
    );
  });
});
