// What McpServerEndpoint deploys for tasks (infra/endpoint/task-workers.ts, infra/monitoring.ts):
// the function may invoke itself, and only itself, without a dependency cycle in the template;
// its worker events are retried twice, age out with the task, and end at the function itself when
// they never succeed; the worker's run fits the function's timeout; failed tasks raise an alarm on
// exactly the metric the function emits; the dashboard graphs every task state. Bundling skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildKitApp, SERVERS } from '../../infra/kit-app.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';
import { TASK_STATES } from '../../infra/monitoring.ts';
import { taskStateMetric } from '../../shared/metrics.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-tasks-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function newApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

/** One endpoint alone in a stack; `extend` may change the construct before the template is read. */
function synthEndpoint(props: Partial<McpServerEndpointProps> = {}, extend?: (endpoint: McpServerEndpoint) => void, context: Record<string, unknown> = {}) {
  const stack = new Stack(newApp(context), 'Endpoint');
  const endpoint = new McpServerEndpoint(stack, 'Server', {
    serverName: 'notes',
    entry: 'functions/notes/handler.ts',
    auth: { mode: 'none', allowUnauthenticated: true },
    ...props,
  });
  extend?.(endpoint);
  return { endpoint, template: Template.fromStack(stack) };
}

/** The server function's logical id (CDK's custom-resource providers are functions too). */
function functionId(template: Template): string {
  const ids = Object.keys(
    template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) } } }),
  );
  assert.equal(ids.length, 1, 'expected exactly one server function');
  return ids[0]!;
}

/** Every statement of every IAM policy attached to the server function's role. */
function roleStatements(template: Template): { policy: string; statement: Record<string, any> }[] {
  const fn = template.toJSON().Resources[functionId(template)];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) } });
  return Object.entries(policies).flatMap(([policy, p]: [string, any]) =>
    (p.Properties.PolicyDocument.Statement as Record<string, any>[]).map((statement) => ({ policy, statement })),
  );
}

/** The one EMF line `taskStateMetric` writes, as CloudWatch reads it: its first dimension set, the per-server one. */
function emittedTaskMetric(server: string, stage: string, state: string): { namespace: string; name: string; dimensions: Record<string, string> } {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((line: string) => (lines.push(line), true)) as typeof process.stdout.write;
  try {
    taskStateMetric(server, stage, 'some_tool', state);
  } finally {
    process.stdout.write = write;
  }
  assert.equal(lines.length, 1);
  const emf = JSON.parse(lines[0]!);
  const [directive] = emf._aws.CloudWatchMetrics;
  const [names] = directive.Dimensions as string[][];
  return { namespace: directive.Namespace, name: directive.Metrics[0].Name, dimensions: Object.fromEntries(names!.map((n) => [n, emf[n]])) };
}

describe("a task's worker: the function invoking itself", () => {
  const { template } = synthEndpoint();
  const fnId = functionId(template);
  const ownArn = { 'Fn::GetAtt': [fnId, 'Arn'] };

  // Template.fromStack refuses a template with a dependency cycle ("Template is undeployable"), and
  // cdk.json's @aws-cdk/core:validateAgainstDefaultRules makes synth itself refuse one.
  it('synthesizes, so its template has no dependency cycle', () => {
    assert.doesNotThrow(() => synthEndpoint());
  });

  it("where the plain grant, into the role's default policy, would close a cycle: function → policy → function", () => {
    const plainGrant = (endpoint: McpServerEndpoint) => endpoint.fn.grantInvoke(endpoint.fn.role!);
    assert.throws(() => synthEndpoint({}, plainGrant), /Validation failed/);
    assert.throws(
      () => synthEndpoint({}, plainGrant, { '@aws-cdk/core:validateAgainstDefaultRules': false }),
      /dependency cycle: .*ServerFunction[0-9A-F]{8} -> ServerFunctionRoleDefaultPolicy[0-9A-F]{8} -> ServerFunction[0-9A-F]{8}/,
    );
  });

  it('allows exactly lambda:InvokeFunction, on the function itself and its versions, in a policy of its own', () => {
    const lambdaStatements = roleStatements(template).filter(({ statement }) => [statement.Action].flat().some((a: string) => a.startsWith('lambda:')));
    assert.equal(lambdaStatements.length, 1);
    const [{ policy, statement }] = lambdaStatements as [{ policy: string; statement: Record<string, any> }];
    assert.deepEqual(statement, { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [ownArn, { 'Fn::Join': ['', [ownArn, ':*']] }] });
    assert.doesNotMatch(policy, /DefaultPolicy/);
    // The function does not wait for it (that would be the cycle); the async-invoke settings do.
    assert.ok(![template.toJSON().Resources[fnId].DependsOn ?? []].flat().includes(policy));
  });

  it('puts the stage live only after that policy exists, so no task is created that its worker may not run', () => {
    const resources = template.toJSON().Resources as Record<string, { Type: string; DependsOn?: string | string[] }>;
    const [policy] = roleStatements(template)
      .filter(({ statement }) => statement.Action === 'lambda:InvokeFunction')
      .map((s) => s.policy);
    const stages = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Stage');
    assert.equal(stages.length, 1);
    assert.ok([stages[0]![1].DependsOn ?? []].flat().includes(policy!), `the stage depends on ${policy}`);
  });

  it('retries a failed worker event twice, drops it after an hour, and reports it to the function itself (the version that ran it)', () => {
    const configs = template.findResources('AWS::Lambda::EventInvokeConfig');
    assert.equal(Object.keys(configs).length, 1);
    const [config] = Object.values(configs) as any[];
    const [versionId] = Object.keys(template.findResources('AWS::Lambda::Version'));
    assert.deepEqual(config.Properties, {
      FunctionName: { Ref: fnId },
      Qualifier: { 'Fn::GetAtt': [versionId, 'Version'] },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { Ref: versionId } } },
    });
    // Lambda refuses a destination the role may not invoke: the self-invoke policy comes first.
    const [selfInvoke] = roleStatements(template).filter(({ statement }) => statement.Action === 'lambda:InvokeFunction');
    assert.deepEqual(config.DependsOn, [selfInvoke!.policy]);
  });

  it("runs the worker with the function's own timeout, and ends a task's run before Lambda would", () => {
    const env = (props: Partial<McpServerEndpointProps>) => {
      const { template } = synthEndpoint(props);
      const fn = template.toJSON().Resources[functionId(template)].Properties;
      return { timeout: fn.Timeout, taskTimeoutMs: fn.Environment.Variables.MCP_TASK_TIMEOUT_MS };
    };
    assert.deepEqual(env({}), { timeout: 900, taskTimeoutMs: '840000' });
    assert.deepEqual(env({ timeout: Duration.minutes(5) }), { timeout: 300, taskTimeoutMs: '290000' });
    assert.deepEqual(env({ timeout: Duration.minutes(5), taskTimeout: Duration.minutes(2) }), { timeout: 300, taskTimeoutMs: '120000' });
    assert.throws(
      () => env({ timeout: Duration.minutes(5), taskTimeout: Duration.minutes(5) }),
      /taskTimeout is 300 s; .*at most timeout \(300 s\) minus 10 s/,
    );
    assert.throws(() => env({ environment: { MCP_TASK_TIMEOUT_MS: '1000' } }), /environment may not set MCP_TASK_TIMEOUT_MS; use the matching props/);
  });

  it("holds in the app's server stacks too", () => {
    const app = newApp({ region: 'eu-west-1', alarmEmail: 'ops@example.com' });
    const { servers } = buildKitApp(app);
    for (const server of servers) {
      const template = Template.fromStack(server);
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
      assert.equal(roleStatements(template).filter(({ statement }) => statement.Action === 'lambda:InvokeFunction').length, 1);
    }
  });
});

describe('the failed-tasks alarm', () => {
  const { template } = synthEndpoint();
  const failedAlarm = () => {
    const [alarm, ...others] = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'TaskStateChanges' } })) as any[];
    assert.deepEqual(others, []);
    return alarm.Properties;
  };

  it('watches exactly the metric the function emits when a task fails', () => {
    const emitted = emittedTaskMetric('notes', 'dev', 'failed');
    const alarm = failedAlarm();
    assert.deepEqual(
      {
        namespace: alarm.Namespace,
        name: alarm.MetricName,
        dimensions: Object.fromEntries(alarm.Dimensions.map((d: { Name: string; Value: string }) => [d.Name, d.Value])),
      },
      emitted,
    );
  });

  it('fires on 5 failed tasks in five minutes by default, and a quiet server is not failing', () => {
    assert.deepEqual(
      (({ Statistic, Period, EvaluationPeriods, Threshold, ComparisonOperator, TreatMissingData }) => ({
        Statistic,
        Period,
        EvaluationPeriods,
        Threshold,
        ComparisonOperator,
        TreatMissingData,
      }))(failedAlarm()),
      {
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    );
  });

  it('takes its threshold from alarms.failedTasks, and refuses one that cannot fire sensibly', () => {
    synthEndpoint({ alarms: { failedTasks: 1 } }).template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'TaskStateChanges', Threshold: 1 });
    assert.throws(() => synthEndpoint({ alarms: { failedTasks: 0 } }), /alarms.failedTasks must be a whole number, at least 1, got 0/);
    assert.throws(() => synthEndpoint({ alarms: { failedTasks: 2.5 } }), /alarms.failedTasks must be a whole number/);
  });

  it('notifies the alarm topic like every other alarm of the server', () => {
    const app = newApp({ region: 'eu-west-1', alarmEmail: 'ops@example.com' });
    const { servers } = buildKitApp(app);
    for (const server of servers) {
      const [alarm] = Object.values(
        Template.fromStack(server).findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'TaskStateChanges' } }),
      ) as any[];
      assert.match(JSON.stringify(alarm.Properties.AlarmActions), /AlarmTopic/);
      assert.match(JSON.stringify(alarm.Properties.OKActions), /AlarmTopic/);
    }
  });

  it("watches the name each of the app's servers emits its metrics under", async () => {
    for (const { serverName, entry } of SERVERS) {
      const definition = (await import(new URL(`../../${entry.replace(/handler\.ts$/, 'server.ts')}`, import.meta.url).href)).default as { name: string };
      assert.equal(definition.name, serverName, `${entry}: the metrics' Server dimension would not match the alarm's`);
    }
  });
});

describe('the dashboard', () => {
  const { template } = synthEndpoint();
  const widgets = () => {
    const body = template.toJSON().Resources[Object.keys(template.findResources('AWS::CloudWatch::Dashboard'))[0]!].Properties.DashboardBody;
    // The body is an Fn::Join of literal JSON and tokens, each token inside a JSON string.
    const text = (body['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
    return JSON.parse(text).widgets as { properties: { title: string; metrics: unknown[][] } }[];
  };

  it('graphs every task state of this server', () => {
    const graph = widgets().find((w) => w.properties.title === 'Task state changes');
    assert.ok(graph, 'no task state widget');
    const lines = graph.properties.metrics.map((m) => ({ metric: m.slice(0, 8), label: (m[8] as { label: string }).label }));
    assert.deepEqual(
      lines,
      TASK_STATES.map((state) => ({ metric: ['McpKit', 'TaskStateChanges', 'Server', 'notes', 'Stage', 'dev', 'State', state], label: state })),
    );
  });

  it('graphs the worker events Lambda received, dropped, failed to report, and their age', () => {
    const graph = widgets().find((w) => w.properties.title === 'Task workers: asynchronous invocations');
    assert.ok(graph, 'no task worker widget');
    const names = graph.properties.metrics.map((m) => m[1]);
    assert.deepEqual(names, ['AsyncEventsReceived', 'AsyncEventsDropped', 'DestinationDeliveryFailures', 'AsyncEventAge']);
  });
});
