// The container tier McpServerEndpoint adds with `containers` (infra/endpoint/containers.ts), read
// from synthesized templates with bundling skipped (the pack's own build is tested in
// container-bootstrap.test.ts): a Fargate service on arm64 with /health checks and autoscaling
// between the props' bounds, no NAT gateway, an internal load balancer reached by a CloudFront VPC
// origin with id `containers` beside the function's origin, and the stream route on viewer
// request; GET streams on for both. The app's `-c containers=true` turns it on, cdk-nag clean
// (the app registers the checks, so a finding fails synth). Control: without it, none of it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildKitApp, stackId } from '../../infra/kit-app.ts';
import { RETRY_AFTER_SECONDS } from '../../infra/edge/stream-unavailable.mjs';
import { CONTAINER_HEALTH_COMMAND, REGISTRATION_SECONDS } from '../../infra/endpoint/containers.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import echo from '../../functions/echo/server.ts';
import { startInProcess } from '../helpers/server.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const ROUTE_CODE = readFileSync(new URL('../../infra/edge/route-streams.js', import.meta.url), 'utf8');
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-containers-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function newApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1', ...context } });
}

/** The repository's app as `cdk synth -c …` builds it: the Notes server's template. */
function kitTemplate(context: Record<string, unknown>): Template {
  const app = newApp(context);
  const { servers, stage } = buildKitApp(app);
  app.synth();
  assert.equal(servers[0]!.stackName, stackId(stage, 'Notes'));
  return Template.fromStack(servers[0]!);
}

function endpoint(props: Partial<McpServerEndpointProps>): McpServerEndpoint {
  const app = newApp();
  return new McpServerEndpoint(new Stack(app, 'Endpoint', { env: { region: 'eu-west-1' } }), 'Server', {
    serverName: 'echo',
    entry: 'functions/echo/handler.ts',
    auth: { mode: 'apikey' },
    ...props,
  });
}

const resources = (template: Template, type: string) => Object.values(template.findResources(type)) as any[];
const distributionConfig = (template: Template) => resources(template, 'AWS::CloudFront::Distribution')[0].Properties.DistributionConfig;
const functionVariables = (template: Template) =>
  resources(template, 'AWS::Lambda::Function').find((fn) => fn.Properties.Environment?.Variables?.MCP_PATH).Properties.Environment.Variables;
const containerDefinition = (template: Template) => resources(template, 'AWS::ECS::TaskDefinition')[0].Properties.ContainerDefinitions[0];
const containerVariables = (template: Template) => Object.fromEntries(containerDefinition(template).Environment.map((e: any) => [e.Name, e.Value]));

describe('-c containers=true: the example app with streams on Fargate', () => {
  let template: Template;
  before(() => {
    template = kitTemplate({ containers: 'true' });
  });

  it('runs a Fargate service on arm64 from the public Node.js image, with the bootstrap as its command', () => {
    template.resourceCountIs('AWS::ECS::Service', 1);
    const [service] = resources(template, 'AWS::ECS::Service');
    assert.equal(service.Properties.LaunchType, 'FARGATE');
    assert.equal(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'ENABLED');
    const [task] = resources(template, 'AWS::ECS::TaskDefinition');
    assert.deepEqual(task.Properties.RuntimePlatform, { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    const container = containerDefinition(template);
    assert.match(container.Image, /^public\.ecr\.aws\/docker\/library\/node:24-slim$/);
    assert.deepEqual(container.Command.slice(0, 3), ['node', '--input-type=module', '-e']);
    assert.match(container.Command[3], /^await import\('data:text\/javascript;base64,/);
    assert.equal(container.StopTimeout, 120, "Fargate's longest grace between SIGTERM and SIGKILL");
    assert.equal(container.LinuxParameters.InitProcessEnabled, true);
    assert.equal(container.LogConfiguration.LogDriver, 'awslogs');
  });

  it("gives the containers the function's configuration, with GET streams on for both", () => {
    const fn = functionVariables(template);
    const container = containerVariables(template);
    // The stream caps and the event poll are the containers' own (settings.ts containerEnvironment).
    const own = new Set(['MCP_TRACING', 'MCP_CONTAINER_STREAMS', 'MCP_MAX_OPEN_STREAMS', 'MCP_STREAMS_PER_PRINCIPAL', 'MCP_EVENT_POLL_MAX_MS']);
    for (const [name, value] of Object.entries(fn)) {
      if (own.has(name)) continue; // MCP_TRACING: no X-Ray daemon beside the container
      assert.deepEqual(container[name], value, `${name} is the function's`);
    }
    assert.equal(fn.MCP_GET_STREAMS, 'true');
    // 2,500 streams a 0.5 vCPU task (512 units, the default), 4 tasks at most.
    assert.equal(container.MCP_CONTAINER_STREAMS, '2500');
    assert.equal(container.MCP_MAX_OPEN_STREAMS, '10000');
    assert.equal(container.MCP_STREAMS_PER_PRINCIPAL, '10');
    assert.equal(container.MCP_EVENT_POLL_MAX_MS, '1000');
    assert.equal(container.MCP_CONTAINER_TASKS, undefined, 'tasks stay on Lambda unless containers.tasks');
    assert.equal(container.PORT, '8080');
    assert.ok(container.MCP_BUNDLE_BUCKET && container.MCP_BUNDLE_KEY, 'the bootstrap is told where the pack is');
  });

  it('builds a VPC without NAT gateway: tasks in public subnets, the load balancer internal', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    const [alb] = resources(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    assert.equal(alb.Properties.Scheme, 'internal');
    const groups = resources(template, 'AWS::EC2::SecurityGroup');
    for (const group of groups) assert.equal(group.Properties.SecurityGroupIngress, undefined, 'no inline rule admits an address range');
    const ingress = resources(template, 'AWS::EC2::SecurityGroupIngress').map((r) => r.Properties);
    assert.equal(ingress.length, 2);
    const toTasks = ingress.find((r) => r.FromPort === 8080);
    assert.ok(toTasks.SourceSecurityGroupId, "tasks admit the load balancer's group on the container port only");
    const toAlb = ingress.find((r) => r.FromPort === 80);
    assert.equal(toAlb.CidrIp, undefined);
    const [lookup] = Object.entries(template.findResources('Custom::AWS')).find(([, r]: [string, any]) =>
      /cloudfront\.origin-facing/.test(r.Properties.Create),
    )!;
    assert.deepEqual(
      toAlb.SourcePrefixListId,
      { 'Fn::GetAtt': [lookup, 'PrefixLists.0.PrefixListId'] },
      "the load balancer admits CloudFront's managed prefix list only",
    );
  });

  it('checks /health and drains a replaced task for the stream cap before SIGTERM', () => {
    const [group] = resources(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(group.Properties.HealthCheckPath, '/health');
    // The edge's 503 for a stream no task took says to wait for a new task's registration: its
    // start, then healthy checks in a row; not less, or clients retry into the same 503.
    const registration = REGISTRATION_SECONDS - group.Properties.HealthCheckIntervalSeconds * group.Properties.HealthyThresholdCount;
    assert.ok(registration > 0, 'a start-up allowance on top of the checks');
    assert.equal(RETRY_AFTER_SECONDS, REGISTRATION_SECONDS);
    assert.ok(RETRY_AFTER_SECONDS >= 60, `Retry-After ${RETRY_AFTER_SECONDS} s is shorter than a task takes to start and pass two checks`);
    assert.equal(group.Properties.Port, 8080);
    const delay = group.Properties.TargetGroupAttributes.find((a: any) => a.Key === 'deregistration_delay.timeout_seconds').Value;
    assert.equal(Number(delay), Number(functionVariables(template).MCP_STREAM_MAX_SECONDS) + 30);
  });

  it('scales between 1 and 4 tasks on CPU, memory and requests per target', () => {
    const [target] = resources(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
    assert.deepEqual([target.Properties.MinCapacity, target.Properties.MaxCapacity], [1, 4]);
    const metrics = resources(template, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(
      (p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType,
    );
    assert.deepEqual(metrics.sort(), ['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization', 'ECSServiceAverageMemoryUtilization']);
  });

  it('adds the containers as a VPC origin with id "containers" beside the function origin, both with the origin header', () => {
    const config = distributionConfig(template);
    assert.deepEqual(
      config.Origins.map((o: any) => o.Id),
      ['function', 'containers'],
    );
    const containers = config.Origins[1];
    assert.ok(containers.VpcOriginConfig.VpcOriginId, 'reached through a VPC origin');
    assert.equal(containers.VpcOriginConfig.OriginReadTimeout, 60);
    for (const origin of config.Origins)
      assert.deepEqual(
        origin.OriginCustomHeaders.map((h: any) => h.HeaderName),
        [ORIGIN_VERIFY_HEADER],
      );
    template.resourceCountIs('AWS::CloudFront::VpcOrigin', 1);
    const [vpcOrigin] = resources(template, 'AWS::CloudFront::VpcOrigin');
    assert.equal(vpcOrigin.Properties.VpcOriginEndpointConfig.HTTPPort, 80);
  });

  it('routes with route-streams.js on viewer request of the MCP route (runtime 2.0), the default behavior still on the function', () => {
    const config = distributionConfig(template);
    assert.equal(config.DefaultCacheBehavior.TargetOriginId, 'function');
    assert.equal(config.DefaultCacheBehavior.FunctionAssociations.length, 1);
    assert.equal(config.DefaultCacheBehavior.FunctionAssociations[0].EventType, 'viewer-request');
    const [fn] = resources(template, 'AWS::CloudFront::Function');
    assert.equal(fn.Properties.FunctionConfig.Runtime, 'cloudfront-js-2.0');
    assert.equal(fn.Properties.FunctionCode, ROUTE_CODE);
    for (const behavior of config.CacheBehaviors ?? []) assert.equal(behavior.FunctionAssociations, undefined, `${behavior.PathPattern} is not the MCP route`);
  });

  it('alarms on unhealthy tasks, fewer healthy tasks than the minimum, task 5xx and CPU', () => {
    // A labelled metric is written as a one-metric query.
    const names = resources(template, 'AWS::CloudWatch::Alarm').map(
      (a) => a.Properties.MetricName ?? a.Properties.Metrics?.[0]?.MetricStat?.Metric?.MetricName,
    );
    for (const metric of ['UnHealthyHostCount', 'HealthyHostCount', 'HTTPCode_Target_5XX_Count', 'CPUUtilization']) assert.ok(names.includes(metric), metric);
    const [dashboard] = resources(template, 'AWS::CloudWatch::Dashboard');
    assert.match(JSON.stringify(dashboard.Properties.DashboardBody), /Container tasks/);
  });
});

describe('control: the app without containers', () => {
  it('has no service, VPC, VPC origin or route function, one origin, and GET streams off', () => {
    const template = kitTemplate({});
    for (const type of [
      'AWS::ECS::Service',
      'AWS::EC2::VPC',
      'AWS::CloudFront::VpcOrigin',
      'AWS::CloudFront::Function',
      'AWS::ElasticLoadBalancingV2::LoadBalancer',
    ])
      template.resourceCountIs(type, 0);
    const config = distributionConfig(template);
    assert.deepEqual(
      config.Origins.map((o: any) => o.Id),
      ['function'],
    );
    assert.equal(config.DefaultCacheBehavior.FunctionAssociations, undefined);
    assert.equal(functionVariables(template).MCP_GET_STREAMS, 'false');
  });
});

describe('containers props', () => {
  it('takes the task bounds and size from the props, and the server file beside the entry', () => {
    const server = endpoint({ containers: { minTasks: 2, maxTasks: 6, cpu: 1024, memory: 4096 } });
    const template = Template.fromStack(Stack.of(server));
    const [target] = resources(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
    assert.deepEqual([target.Properties.MinCapacity, target.Properties.MaxCapacity], [2, 6]);
    const [task] = resources(template, 'AWS::ECS::TaskDefinition');
    assert.deepEqual([task.Properties.Cpu, task.Properties.Memory], ['1024', '4096']);
    assert.equal(resources(template, 'AWS::ECS::Service')[0].Properties.DesiredCount, undefined, 'autoscaling owns the count; a deploy must not reset it');
  });

  it('runs the image given, pinned by digest; control: the default is the public node:24-slim by tag', () => {
    const pinned = `public.ecr.aws/docker/library/node:24-slim@sha256:${'ab'.repeat(32)}`;
    const template = Template.fromStack(Stack.of(endpoint({ containers: { image: pinned } })));
    assert.equal(containerDefinition(template).Image, pinned);
    assert.deepEqual(containerDefinition(template).Command.slice(0, 3), ['node', '--input-type=module', '-e'], 'the same bootstrap on it');
    assert.equal(endpoint({ containers: {} }).containers?.settings.image, 'public.ecr.aws/docker/library/node:24-slim');
  });

  it('keeps getStreams as given', () => {
    const server = endpoint({ containers: {}, getStreams: false });
    assert.equal(server.settings.getStreams, false);
  });

  it('keeps the stream settings the user chose on the containers, and fills only the rest', () => {
    const server = endpoint({
      containers: {},
      getStreams: false,
      maxOpenStreams: 50,
      streamsPerPrincipal: 3,
      environment: { MCP_EVENT_POLL_MAX_MS: '3000' },
    });
    const container = containerVariables(Template.fromStack(Stack.of(server)));
    assert.equal(container.MCP_GET_STREAMS, 'false');
    assert.equal(container.MCP_MAX_OPEN_STREAMS, '50');
    assert.equal(container.MCP_STREAMS_PER_PRINCIPAL, '3');
    assert.equal(container.MCP_EVENT_POLL_MAX_MS, '3000');
    assert.equal(container.MCP_CONTAINER_STREAMS, '2500', 'left unset: filled for a 0.5 vCPU task');
  });

  it("derives the per-caller cap from the user's server-wide cap when only that is chosen; control: nothing chosen, all filled", () => {
    const chosen = containerVariables(Template.fromStack(Stack.of(endpoint({ containers: {}, maxOpenStreams: 6 }))));
    assert.deepEqual([chosen.MCP_MAX_OPEN_STREAMS, chosen.MCP_STREAMS_PER_PRINCIPAL, chosen.MCP_GET_STREAMS], ['6', '3', 'true']);
    const filled = containerVariables(Template.fromStack(Stack.of(endpoint({ containers: {} }))));
    assert.deepEqual([filled.MCP_MAX_OPEN_STREAMS, filled.MCP_STREAMS_PER_PRINCIPAL, filled.MCP_EVENT_POLL_MAX_MS], ['10000', '10', '1000']);
  });

  it('checks an explicit maxOpenStreams against what the containers hold when they serve the streams, not Lambda concurrency', () => {
    // 4 tasks of 0.5 vCPU hold 4 × 2,500; the account's 1,000 executions would allow 500.
    const container = containerVariables(Template.fromStack(Stack.of(endpoint({ containers: {}, maxOpenStreams: 8000 }))));
    assert.equal(container.MCP_MAX_OPEN_STREAMS, '8000');
    assert.equal(
      containerVariables(Template.fromStack(Stack.of(endpoint({ containers: { maxTasks: 1 }, maxOpenStreams: 2500 })))).MCP_MAX_OPEN_STREAMS,
      '2500',
    );
    assert.throws(
      () => endpoint({ containers: { maxTasks: 1 }, maxOpenStreams: 2501 }),
      /maxOpenStreams is 2501; it must be a whole number from 0 to 2500, the streams the containers hold at most \(streams per task × containers\.maxTasks\)/,
    );
    assert.throws(() => endpoint({ containers: { maxTasks: 1 }, maxOpenStreams: 1.5 }), /maxOpenStreams is 1\.5; it must be a whole number/);
    // Controls: streams on the function (no containers, or containers for tasks only) keep the Lambda bound.
    assert.throws(() => endpoint({ maxOpenStreams: 8000 }), /from 0 to 500, half of the 1000 concurrent executions/);
    assert.throws(
      () => endpoint({ containers: { streams: false, tasks: true }, maxOpenStreams: 8000 }),
      /from 0 to 500, half of the 1000 concurrent executions/,
    );
  });

  it('refuses what Fargate or the path cannot take, saying what to change', () => {
    const cases: [Partial<McpServerEndpointProps>, RegExp][] = [
      [{ containers: {}, cloudFront: false }, /containers need CloudFront/],
      [{ containers: { cpu: 300 } }, /containers\.cpu is 300; Fargate takes 256, 512, 1024, 2048, 4096/],
      [{ containers: { cpu: 256, memory: 4096 } }, /containers\.memory is 4096 MiB; with cpu 256 Fargate takes 512 to 2048/],
      [{ containers: { minTasks: 0 } }, /containers\.minTasks is 0/],
      [{ containers: { minTasks: 3, maxTasks: 2 } }, /containers\.maxTasks is 2/],
      [{ containers: { streams: false } }, /nothing would run on the containers/],
      [{ containers: { image: 'node:24-slim@sha256:abc' } }, /containers\.image is "node:24-slim@sha256:abc"; give a reference such as/],
      [{ containers: { image: '' } }, /containers\.image is ""/],
    ];
    for (const [props, message] of cases) assert.throws(() => endpoint(props), message);
  });
});

describe('containers for tasks only', () => {
  it('runs the service but adds no origin or route, and leaves GET streams off', () => {
    const server = endpoint({ containers: { streams: false, tasks: true } });
    const template = Template.fromStack(Stack.of(server));
    template.resourceCountIs('AWS::ECS::Service', 1);
    template.resourceCountIs('AWS::CloudFront::Function', 0);
    assert.deepEqual(
      distributionConfig(template).Origins.map((o: any) => o.Id),
      ['function'],
    );
    assert.equal(server.settings.getStreams, false);
    assert.equal(server.containers?.settings.tasks, true);
    // The function queues container tasks and the containers run them: both must say so.
    assert.equal(functionVariables(template).MCP_CONTAINER_TASKS, 'true');
    assert.equal(containerVariables(template).MCP_CONTAINER_TASKS, 'true');
  });

  it('has no load balancer, VPC origin or inbound rule: the tasks only call out', () => {
    const server = endpoint({ containers: { streams: false, tasks: true } });
    const template = Template.fromStack(Stack.of(server));
    for (const type of ELB_AND_ORIGIN_TYPES) template.resourceCountIs(type, 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    const groups = resources(template, 'AWS::EC2::SecurityGroup');
    assert.equal(groups.length, 1, "the tasks' group alone");
    assert.equal(groups[0].Properties.SecurityGroupIngress, undefined);
    assert.deepEqual(
      groups[0].Properties.SecurityGroupEgress.map((r: any) => r.CidrIp),
      ['0.0.0.0/0'],
      'out to Upstash and AWS APIs',
    );
    assert.equal(server.containers?.loadBalancer, undefined);
    assert.equal(server.containers?.origin, undefined);
    const service = resources(template, 'AWS::ECS::Service')[0].Properties;
    assert.deepEqual(service.LoadBalancers ?? [], []);
    assert.equal(service.HealthCheckGracePeriodSeconds, undefined);
    // Only public subnets: the isolated ones held the load balancer.
    const subnets = resources(template, 'AWS::EC2::Subnet');
    assert.ok(
      subnets.every((subnet) => subnet.Properties.MapPublicIpOnLaunch === true),
      'no isolated subnet',
    );
    assert.equal(Object.keys(template.findResources('Custom::AWS')).length, 0, 'no prefix-list lookup');
  });

  it('control: with streams as well, the load balancer, VPC origin and inbound rules are there', () => {
    const template = Template.fromStack(Stack.of(endpoint({ containers: { tasks: true } })));
    for (const type of ELB_AND_ORIGIN_TYPES) assert.ok(resources(template, type).length >= 1, type);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
  });
});

/** Runs the container's health check command as ECS would (CMD-SHELL) against a server on `port`: its exit code and how long it took. */
function runHealthCheck(port: number): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const child = spawn('/bin/sh', ['-c', CONTAINER_HEALTH_COMMAND], { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, ms: Date.now() - started })));
}

/** A loopback server that answers every request with `answer` (or never, when it is undefined). */
async function serving(answer: number | undefined): Promise<Server> {
  const server = createServer((_req, res) => {
    if (answer !== undefined) res.writeHead(answer).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe("the tasks-only containers' own health check", () => {
  it('is in the task definition only without a load balancer (with streams, the load balancer checks /health)', () => {
    const tasksOnly = containerDefinition(Template.fromStack(Stack.of(endpoint({ containers: { streams: false, tasks: true } })))).HealthCheck;
    assert.deepEqual(tasksOnly, { Command: ['CMD-SHELL', CONTAINER_HEALTH_COMMAND], Interval: 30, Timeout: 5, Retries: 3, StartPeriod: 60 });
    assert.equal(containerDefinition(Template.fromStack(Stack.of(endpoint({ containers: { tasks: true } })))).HealthCheck, undefined);
  });

  it("passes against the kit's /health and fails, inside ECS's 5 s timeout, against an error, a closed port and a server that never answers", async () => {
    const kit = await startInProcess(echo, {});
    const failing = await serving(503);
    const silent = await serving(undefined);
    const closed = await serving(200);
    const closedPort = portOf(closed);
    await new Promise((resolve) => closed.close(resolve));
    try {
      assert.equal((await runHealthCheck(Number(new URL(kit.url).port))).code, 0, 'the kit answers /health');
      assert.equal((await runHealthCheck(portOf(failing))).code, 1, 'a 503');
      assert.equal((await runHealthCheck(closedPort)).code, 1, 'nothing listening');
      const hung = await runHealthCheck(portOf(silent));
      assert.equal(hung.code, 1, 'a server that never answers');
      assert.ok(hung.ms < 5000, `gave up after ${hung.ms} ms, past ECS's timeout`);
    } finally {
      silent.closeAllConnections();
      await Promise.all([kit.stop(), new Promise((r) => failing.close(r)), new Promise((r) => silent.close(r))]);
    }
  });
});

describe('container tasks: backlog and dead-letter alarms, backlog scaling', () => {
  /** An alarm's one metric, whether written plainly or as a one-metric query (a labelled metric). */
  const statOf = (a: any) =>
    a.Properties.Metrics?.[0]?.MetricStat ?? {
      Metric: { Namespace: a.Properties.Namespace, MetricName: a.Properties.MetricName, Dimensions: a.Properties.Dimensions },
      Stat: a.Properties.Statistic,
    };
  const isStep = (a: any) => (a.Properties.AlarmActions ?? []).some((action: any) => /Policy/.test(action.Ref ?? ''));
  /** The monitoring alarm on `metric` (not a scaling policy's), its metric's fields spread in. */
  const alarmOn = (template: Template, metric: string) => {
    const found = resources(template, 'AWS::CloudWatch::Alarm').find((a) => statOf(a).Metric.MetricName === metric && !isStep(a));
    return found && { ...found.Properties, ...statOf(found).Metric, Statistic: statOf(found).Stat };
  };
  const policies = (template: Template) => resources(template, 'AWS::ApplicationAutoScaling::ScalingPolicy').map((p) => p.Properties);
  /** The alarms that drive step scaling: their actions are scaling policies. */
  const stepAlarms = (template: Template) =>
    resources(template, 'AWS::CloudWatch::Alarm')
      .filter(isStep)
      .map((a) => ({ ...a, Properties: { ...a.Properties, MetricName: statOf(a).Metric.MetricName } }));

  it('tasks only: alarms on the oldest queued task (no report breaches) and on dead letters, and scales on the backlog alone', () => {
    const template = Template.fromStack(Stack.of(endpoint({ containers: { streams: false, tasks: true } })));
    const backlog = alarmOn(template, 'TaskQueueOldestAge');
    assert.ok(backlog, 'a backlog alarm');
    assert.equal(backlog.Namespace, 'McpKit');
    assert.deepEqual(backlog.Dimensions, [
      { Name: 'Server', Value: 'echo' },
      { Name: 'Stage', Value: 'dev' },
    ]);
    assert.deepEqual([backlog.Statistic, backlog.Threshold, backlog.EvaluationPeriods], ['Maximum', 300_000, 3]);
    assert.equal(backlog.TreatMissingData, 'breaching', 'no worker reporting the queue is an alarm too');
    const dead = alarmOn(template, 'TaskDeadLetters');
    assert.deepEqual([dead.Namespace, dead.Statistic, dead.Threshold, dead.TreatMissingData], ['McpKit', 'Sum', 1, 'notBreaching']);
    for (const metric of ['HealthyHostCount', 'UnHealthyHostCount', 'HTTPCode_Target_5XX_Count'])
      assert.equal(alarmOn(template, metric), undefined, `${metric}: no load balancer`);
    const all = policies(template);
    assert.deepEqual(
      all.map((p) => p.PolicyType),
      ['StepScaling', 'StepScaling'],
      'no CPU, memory or request target tracking',
    );
    const steps = stepAlarms(template).map((a) => [
      a.Properties.MetricName,
      a.Properties.ComparisonOperator,
      a.Properties.Threshold,
      a.Properties.EvaluationPeriods,
    ]);
    assert.deepEqual(steps.sort(), [
      ['TaskQueueOldestAge', 'GreaterThanOrEqualToThreshold', 60_000, 1],
      ['TaskQueueOldestAge', 'LessThanOrEqualToThreshold', 0, 5],
    ]);
  });

  it('streams and tasks: the target tracking of streams, plus scaling out on the backlog (no step scale-in to fight it)', () => {
    const template = Template.fromStack(Stack.of(endpoint({ containers: { tasks: true } })));
    const types = policies(template).map((p) => p.PolicyType);
    assert.deepEqual(types.sort(), ['StepScaling', 'TargetTrackingScaling', 'TargetTrackingScaling', 'TargetTrackingScaling']);
    assert.deepEqual(
      stepAlarms(template).map((a) => a.Properties.ComparisonOperator),
      ['GreaterThanOrEqualToThreshold'],
    );
    assert.ok(alarmOn(template, 'TaskQueueOldestAge') && alarmOn(template, 'TaskDeadLetters'));
    assert.ok(alarmOn(template, 'HealthyHostCount'));
  });

  it('control: streams alone have no queue alarms or backlog scaling', () => {
    const template = Template.fromStack(Stack.of(endpoint({ containers: {} })));
    assert.equal(alarmOn(template, 'TaskQueueOldestAge'), undefined);
    assert.equal(alarmOn(template, 'TaskDeadLetters'), undefined);
    assert.equal(stepAlarms(template).length, 0);
  });
});

const ELB_AND_ORIGIN_TYPES = [
  'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::CloudFront::VpcOrigin',
];

describe('the origin-response function with containers', () => {
  const edgeHandlers = (app: App) =>
    app.node
      .findAll()
      .filter((c) => c instanceof Stack)
      .flatMap((stack) => resources(Template.fromStack(stack as Stack), 'AWS::Lambda::Function'))
      .map((fn) => fn.Properties.Handler)
      .filter((h: string) => /restore-www-authenticate|stream-unavailable/.test(h));
  it('answers for an absent container even without auth (stream-unavailable, which also restores challenges)', () => {
    const server = endpoint({ auth: { mode: 'none', allowUnauthenticated: true }, containers: {} });
    assert.deepEqual(edgeHandlers(server.node.root as App), ['stream-unavailable.handler']);
  });
  it('control: without containers and without auth there is none; with auth alone the restore function', () => {
    assert.deepEqual(edgeHandlers(endpoint({ auth: { mode: 'none', allowUnauthenticated: true } }).node.root as App), []);
    assert.deepEqual(edgeHandlers(endpoint({}).node.root as App), ['restore-www-authenticate.handler']);
  });
});
