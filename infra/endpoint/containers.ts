// The container tier beside the function: the same app and settings on ECS Fargate (arm64), behind
// an internal Application Load Balancer that CloudFront reaches through a VPC origin. Notification
// streams are sent here by the viewer-request function (infra/edge/route-streams.js; the
// distribution attaches it). Network: a VPC without NAT gateway, tasks in public subnets with a
// public IP (egress to Upstash and AWS APIs) admitting only the load balancer, the load balancer in
// isolated subnets admitting only CloudFront (its managed prefix list). Without streams (tasks
// only) there is no load balancer or origin, and the tasks admit nothing. What runs in
// the task: infra/endpoint/container-image.ts. Alarms and widgets: container-monitoring.ts.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import { METRICS_NAMESPACE } from '../../shared/metrics.ts';
import { BACKLOG_METRICS } from '../../shared/tasks/backlog.ts';
import { bootstrapContainer, containerBundleAsset, NODE_IMAGE } from './container-image.ts';
import { containerEnvironment, streamsPerTaskFor } from './settings.ts';

/** Where `entry` and `server` paths are resolved from: the repository root. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Origin id of the containers; the id route-streams.js selects. */
export const CONTAINER_ORIGIN_ID = 'containers';
/** Port the container adapter listens on (PORT). */
export const CONTAINER_PORT = 8080;
/** Fargate's longest stopTimeout: time between SIGTERM and SIGKILL for the adapter to end streams. */
export const STOP_TIMEOUT_SECONDS = 120;
/** A run waiting this long (ms) scales the tasks out by one; five times as long, by two more. */
const BACKLOG_SCALE_OUT_MS = 60_000;
/** The VPC's addresses. */
const VPC_CIDR = '10.0.0.0/16';
/** AWS's managed prefix list of CloudFront's origin-facing addresses, VPC origins included. */
const CLOUDFRONT_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';
/** Time a new task gets before its /health checks count: the bootstrap downloads and loads the bundle first. */
const HEALTH_CHECK_GRACE_SECONDS = 60;
/**
 * ECS's own check of a task with no load balancer (tasks only): node, the image's one sure
 * program, asks the server's /health on its port, bounded inside ECS's 5 s timeout. A process whose
 * event loop is stuck, or whose server died while the process lived, fails it; ECS replaces the task.
 */
export const CONTAINER_HEALTH_COMMAND =
  "node -e \"fetch('http://127.0.0.1:'+process.env.PORT+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))\"";
/** The target group's health check: every 15 s; two passes register a task, three failures take it out. */
const HEALTH_CHECK = { intervalSeconds: 15, healthyThreshold: 2, unhealthyThreshold: 3, timeoutSeconds: 5 };
/** Fargate starting a task (placement, image pull) and the bootstrap loading the bundle, typically. */
const TASK_START_SECONDS = 30;
/**
 * How long a new task takes to take streams: started, then healthy twice. The edge's 503 for a
 * stream no task took says to retry after this (infra/edge/stream-unavailable.mjs RETRY_AFTER_SECONDS).
 */
export const REGISTRATION_SECONDS = TASK_START_SECONDS + HEALTH_CHECK.healthyThreshold * HEALTH_CHECK.intervalSeconds;
/** What a draining task gets beyond the stream cap: a stream opened just before draining ends at its cap, plus a keep-alive or two. */
const DRAIN_MARGIN_SECONDS = 30;
/** Fargate's CPU units and the memory sizes (MiB) each allows. */
const FARGATE_SIZES: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
};

/** McpServerEndpoint's `containers` prop. */
export interface McpContainers {
  /** Send notification streams (`subscriptions/listen`, 2025 GET streams) to the containers. @default true */
  readonly streams?: boolean;
  /** Long tasks may run on the containers (see docs/deploy.md, "Containers"). @default false */
  readonly tasks?: boolean;
  /** Fargate CPU units: 256, 512, 1024, 2048 or 4096. @default 512 */
  readonly cpu?: number;
  /** Task memory in MiB, within what Fargate allows for `cpu`. @default - twice `cpu` */
  readonly memory?: number;
  /** Tasks always running; at least 1, so a stream always has somewhere to go. @default 1 */
  readonly minTasks?: number;
  /** Ceiling of autoscaling. @default 4 */
  readonly maxTasks?: number;
  /**
   * Server definition file (its default export), absolute or relative to the project root.
   * @default - `server.ts` beside the endpoint's `entry`
   */
  readonly server?: string;
  /**
   * The image the bootstrap runs on: any arm64 image with Node.js 24 or later as `node` on its
   * PATH. Pin it by digest (`…/node:24-slim@sha256:…`) so a deploy never picks up a new
   * image unseen (docs/deploy.md, "Containers").
   * @default - NODE_IMAGE, `public.ecr.aws/docker/library/node:24-slim`, by tag
   */
  readonly image?: string;
}

export interface ContainerSettings {
  readonly streams: boolean;
  readonly tasks: boolean;
  readonly cpu: number;
  readonly memory: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Absolute path of the server definition. */
  readonly serverFile: string;
  readonly image: string;
}

/** The prop with its defaults, checked against what Fargate and autoscaling take. */
export function resolveContainers(options: McpContainers, entry: string, owner: string): ContainerSettings {
  const fail = (problem: string): never => {
    throw new Error(`${owner}: containers.${problem}`);
  };
  const cpu = options.cpu ?? 512;
  const sizes = FARGATE_SIZES[cpu] ?? fail(`cpu is ${cpu}; Fargate takes ${Object.keys(FARGATE_SIZES).join(', ')}.`);
  const memory = options.memory ?? cpu * 2;
  if (!Number.isInteger(memory) || memory < sizes.min || memory > sizes.max || (memory - sizes.min) % sizes.step !== 0) {
    fail(`memory is ${memory} MiB; with cpu ${cpu} Fargate takes ${sizes.min} to ${sizes.max} MiB in steps of ${sizes.step}.`);
  }
  const minTasks = options.minTasks ?? 1;
  const maxTasks = options.maxTasks ?? Math.max(4, minTasks);
  if (!Number.isInteger(minTasks) || minTasks < 1)
    fail(`minTasks is ${minTasks}; it must be a whole number, at least 1, so streams always have a task to go to.`);
  if (!Number.isInteger(maxTasks) || maxTasks < minTasks || maxTasks > 1000)
    fail(`maxTasks is ${maxTasks}; it must be a whole number from minTasks (${minTasks}) to 1000.`);
  const streams = options.streams ?? true;
  const tasks = options.tasks ?? false;
  if (!streams && !tasks) fail('streams and containers.tasks are both false: nothing would run on the containers; leave `containers` out instead.');
  const serverFile = resolve(PROJECT_ROOT, options.server ?? resolve(dirname(resolve(PROJECT_ROOT, entry)), 'server.ts'));
  const image = options.image ?? NODE_IMAGE;
  if (!/^[^\s@]+(@sha256:[0-9a-f]{64})?$/.test(image))
    fail(`image is "${image}"; give a reference such as ${NODE_IMAGE} or ${NODE_IMAGE}@sha256:<64 hex digits>.`);
  return { streams, tasks, cpu, memory, minTasks, maxTasks, serverFile, image };
}

export interface ContainerServiceProps {
  readonly settings: ContainerSettings;
  /** The function's environment, which the containers share. */
  readonly environment: Record<string, string>;
  /** Variables of `environment` the user chose, which the containers keep (settings.ts containerEnvironment). @default - none */
  readonly explicitVariables?: readonly string[];
  /** Grants the task role what the function's role has on the data plane. */
  readonly grantData: (role: iam.IRole) => void;
  /** The stream cap (MCP_STREAM_MAX_SECONDS): a draining task waits for its streams to end at it. */
  readonly streamMaxSeconds: number;
  readonly originReadTimeoutSeconds: number;
  /** The origin-verify header's value, as the function origin sends it. @default - no header */
  readonly originSecret?: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** The Server and Stage dimensions of the kit's metrics (the task queue's backlog). */
  readonly serverName: string;
  readonly stage: string;
}

export class McpContainerService extends Construct {
  /** The `containers` prop with its defaults. */
  readonly settings: ContainerSettings;
  readonly vpc: ec2.Vpc;
  readonly service: ecs.FargateService;
  /** @default undefined for containers without streams: nothing reaches them from outside */
  readonly loadBalancer?: elbv2.ApplicationLoadBalancer;
  /** @default undefined for containers without streams */
  readonly targetGroup?: elbv2.ApplicationTargetGroup;
  readonly logGroup: logs.LogGroup;
  /** The distribution's second origin, id `containers`. @default undefined for containers without streams */
  readonly origin?: cloudfront.IOrigin;
  /** Seconds a replaced task keeps serving its open streams before SIGTERM. */
  readonly drainSeconds: number;

  constructor(scope: Construct, id: string, props: ContainerServiceProps) {
    super(scope, id);
    const settings = (this.settings = props.settings);
    this.drainSeconds = Math.min(3600, props.streamMaxSeconds + DRAIN_MARGIN_SECONDS);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'Tasks', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        ...(settings.streams ? [{ name: 'Origin', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }] : []),
      ],
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.service = this.createService(props);
    // Without streams nothing comes in: no load balancer, no origin, and the tasks' security group
    // admits nothing (its only rule is the way out).
    if (settings.streams) {
      [this.loadBalancer, this.targetGroup] = this.createLoadBalancer();
      this.origin = origins.VpcOrigin.withApplicationLoadBalancer(this.loadBalancer, {
        originId: CONTAINER_ORIGIN_ID,
        httpPort: 80,
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
        readTimeout: Duration.seconds(props.originReadTimeoutSeconds),
        keepaliveTimeout: Duration.seconds(60),
        ...(props.originSecret !== undefined && { customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecret } }),
      });
    }
    this.createScaling(settings, props);
    this.acknowledge();
  }

  private createService(props: ContainerServiceProps): ecs.FargateService {
    const { settings } = props;
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memory,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const bundle = containerBundleAsset(this, settings.serverFile);
    // That one object, not the whole asset bucket grantRead would open.
    task.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bundle.bucket.arnForObjects(bundle.s3ObjectKey)] }));
    props.grantData(task.taskRole);
    const { image, command } = bootstrapContainer(settings.image);
    task.addContainer('Server', {
      image,
      command,
      environment: {
        ...containerEnvironment(props.environment, {
          tasks: settings.maxTasks,
          streamsPerTask: streamsPerTaskFor(settings.cpu),
          explicit: props.explicitVariables,
        }),
        PORT: String(CONTAINER_PORT),
        AWS_REGION: Stack.of(this).region,
        MCP_BUNDLE_BUCKET: bundle.s3BucketName,
        MCP_BUNDLE_KEY: bundle.s3ObjectKey,
      },
      portMappings: [{ containerPort: CONTAINER_PORT }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'server', logGroup: this.logGroup }),
      // SIGTERM to SIGKILL: the adapter ends open streams with their final result and exits.
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      // An init process as PID 1 passes SIGTERM on to Node.js and reaps its children.
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      // With streams the load balancer checks /health; without, nothing would notice a wedged task.
      ...(!settings.streams && {
        healthCheck: {
          command: ['CMD-SHELL', CONTAINER_HEALTH_COMMAND],
          interval: Duration.seconds(30),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(HEALTH_CHECK_GRACE_SECONDS),
        },
      }),
    });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ecs.ContainerInsights.DISABLED });
    // Task workers protect their own task from scale-in while they run a queued task (shared/adapters/ecs-protection.ts).
    const clusterTasks = Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` });
    task.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:UpdateTaskProtection'], resources: [clusterTasks] }));
    // The finding names the ARN as synthesized: a stack with a concrete region has its partition and region written out.
    const stack = Stack.of(this);
    const named = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    Validations.of(task.taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${named(stack.partition, 'Partition')}:ecs:${named(stack.region, 'Region')}:${named(stack.account, 'AccountId')}:task/<${stack.getLogicalId(cluster.node.defaultChild as ecs.CfnCluster)}>/*]`,
      reason: "A task's ARN is known only once it runs: the tasks of this service's own cluster, for their scale-in protection.",
    });
    const service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      // No NAT gateway: tasks reach Upstash, AWS APIs and ECR Public through the internet gateway.
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      circuitBreaker: { rollback: true },
      // The bootstrap downloads and loads the bundle before /health answers (the load balancer's check: streams only).
      ...(settings.streams && { healthCheckGracePeriod: Duration.seconds(HEALTH_CHECK_GRACE_SECONDS) }),
    });
    // Autoscaling owns the count (from minTasks up). A DesiredCount in the template would be sent
    // again with every update and scale a busy service back down; left out, ECS starts one task
    // and keeps the current count on updates.
    (service.node.defaultChild as ecs.CfnService).addPropertyDeletionOverride('DesiredCount');
    return service;
  }

  private createLoadBalancer(): [elbv2.ApplicationLoadBalancer, elbv2.ApplicationTargetGroup] {
    const securityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'MCP containers load balancer: HTTP from CloudFront only (its managed prefix list)',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(ec2.Peer.prefixList(this.cloudFrontPrefixListId()), ec2.Port.tcp(80), 'CloudFront VPC origin');
    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroup,
      // Above CloudFront's keep-alive (60 s) so CloudFront never reuses a connection the ALB closed,
      // and far above the SSE keep-alive, so idle streams stay open.
      idleTimeout: Duration.seconds(120),
      dropInvalidHeaderFields: true,
    });
    const listener = loadBalancer.addListener('Http', { port: 80, open: false });
    const targetGroup = listener.addTargets('Tasks', {
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: {
        path: '/health',
        interval: Duration.seconds(HEALTH_CHECK.intervalSeconds),
        healthyThresholdCount: HEALTH_CHECK.healthyThreshold,
        unhealthyThresholdCount: HEALTH_CHECK.unhealthyThreshold,
        timeout: Duration.seconds(HEALTH_CHECK.timeoutSeconds),
      },
      deregistrationDelay: Duration.seconds(this.drainSeconds),
    });
    return [loadBalancer, targetGroup];
  }

  /**
   * The prefix list's id differs per region and only AWS knows it, so a custom resource asks EC2
   * at deploy time (synth stays offline). It counts as its maximum entries against the security
   * group's rule quota, well within it for this one rule.
   */
  private cloudFrontPrefixListId(): string {
    const lookup = new cr.AwsCustomResource(this, 'CloudFrontPrefixList', {
      onUpdate: {
        service: 'EC2',
        action: 'describeManagedPrefixLists',
        parameters: { Filters: [{ Name: 'prefix-list-name', Values: [CLOUDFRONT_PREFIX_LIST] }] },
        physicalResourceId: cr.PhysicalResourceId.of(CLOUDFRONT_PREFIX_LIST),
        outputPaths: ['PrefixLists.0.PrefixListId'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeManagedPrefixLists takes no resource but *; the lookup only reads the id of an AWS-managed list.',
    });
    // The provider is one function per stack, shared by every such lookup in it.
    Validations.of(lookup.grantPrincipal as iam.Role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "The role of aws-cdk-lib's AwsCustomResource provider: AWS's basic execution policy lets it write its own log group and nothing else.",
    });
    return lookup.getResponseField('PrefixLists.0.PrefixListId');
  }

  /**
   * Streams mostly hold memory and connections, calls CPU: with streams, scale on whichever runs
   * out first. Tasks add scaling out on the queue's backlog; for tasks alone the backlog also
   * scales in, and CPU does not steer (a busy worker is the point, a waiting run the signal).
   */
  private createScaling(settings: ContainerSettings, props: ContainerServiceProps): void {
    const scaling = this.service.autoScaleTaskCount({ minCapacity: settings.minTasks, maxCapacity: settings.maxTasks });
    const cooldowns = { scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) };
    if (this.targetGroup) {
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, ...cooldowns });
      scaling.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: 70, ...cooldowns });
      scaling.scaleOnRequestCount('Requests', { requestsPerTarget: 1000, targetGroup: this.targetGroup, ...cooldowns });
    }
    if (!settings.tasks) return;
    const backlog = backlogAgeMetric(props.serverName, props.stage);
    // A free worker takes a run within a poll (2 s): a run that waited a minute found every worker busy.
    scaling.scaleOnMetric('BacklogOut', {
      metric: backlog,
      scalingSteps: [
        { lower: BACKLOG_SCALE_OUT_MS, change: +1 },
        { lower: 5 * BACKLOG_SCALE_OUT_MS, change: +2 },
      ],
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      cooldown: cooldowns.scaleOutCooldown,
    });
    // Step scale-in beside target tracking would fight it: with streams, CPU and memory scale in.
    if (this.targetGroup) return;
    scaling.scaleOnMetric('BacklogIn', {
      metric: backlog,
      // Nothing waited for five minutes in a row: one task fewer (runs in progress keep their tasks while protected).
      scalingSteps: [
        { upper: 0, change: -1 },
        { lower: 0, change: 0 },
      ],
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      evaluationPeriods: 5,
      cooldown: cooldowns.scaleInCooldown,
    });
  }

  private acknowledge(): void {
    Validations.of(this.vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason:
        "The VPC carries only CloudFront-to-ALB-to-task traffic (with streams) and the tasks' own calls out, all of it in the server logs; flow logs are a per-deployment choice (their cost grows with every stream's keep-alives).",
    });
    if (this.loadBalancer)
      Validations.of(this.loadBalancer).acknowledge({
        id: 'AwsSolutions-ELB2',
        reason:
          'Every request that reaches a task is logged by the server itself (and by CloudFront when its logging is on); ALB access logs need an S3 bucket with an ELB-writable policy, left to the deployment.',
      });
    Validations.of(this.service.cluster).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason:
        "Container Insights bills custom metrics per task; the alarms and dashboard use the service's own CPU and memory metrics and the target group's, which are free. Turn it on per deployment if task-level detail is needed.",
    });
    Validations.of(this.service.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        "The environment holds names and settings only (the same as the function's); secrets are read at start from Secrets Manager (MCP_SECRETS_ARN) with the task role.",
    });
  }
}

/**
 * The container task queue's backlog: the oldest waiting run's age in ms, the most any worker
 * reported in the period (shared/tasks/backlog.ts, an EMF line at most every 15 s a task).
 */
export function backlogAgeMetric(serverName: string, stage: string, period = Duration.minutes(1)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: BACKLOG_METRICS.oldestAge,
    dimensionsMap: { Server: serverName, Stage: stage },
    statistic: 'Maximum',
    period,
    label: 'oldest queued task, ms',
  });
}
