// McpServerEndpoint: deploys one MCP server on a public HTTPS endpoint by composing the parts in
// infra/endpoint/: settings (validated numbers and the function's environment, CDK-free), the
// function, the streaming REST API and CloudFront in front, on an McpDataPlane shared or private.
// Auth (infra/auth.ts), task workers (infra/endpoint/task-workers.ts), the audit log
// (infra/audit-log.ts), alarms and a dashboard (infra/monitoring.ts) come with it; with
// `containers`, the same app on Fargate for notification streams (infra/endpoint/containers.ts).
import { Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ConfigError, parseTrustedGateways } from '../shared/config.ts';
import { AUTH_VARIABLES, authEnvironment, type McpAuth, McpCognitoAuthorizationServer, usesOAuth, validateAuth } from './auth.ts';
import { isProductionStage, McpDataPlane } from './data-plane.ts';
import { addRoutes, createRestApi, stageUrl } from './endpoint/api.ts';
import { type Canary, createCanary, releasesByAlias } from './endpoint/canary.ts';
import { addContainerOrigin, createDistribution } from './endpoint/distribution.ts';
import { type ContainerAlarms, monitorContainers } from './endpoint/container-monitoring.ts';
import { type ContainerSettings, McpContainerService, resolveContainers } from './endpoint/containers.ts';
import { createServerFunction } from './endpoint/function.ts';
import { type McpServerEndpointProps, type McpTrustedGateway, settingsOf } from './endpoint/props.ts';
import { type EndpointSettings, KIT_VARIABLES, kitEnvironment } from './endpoint/settings.ts';
import { enableTaskWorkers, type TaskWorkers } from './endpoint/task-workers.ts';
import { McpAuditLog } from './audit-log.ts';
import { McpServerMonitoring } from './monitoring.ts';

export type { McpAccountQuotas, McpCustomDomain, McpRateLimit, McpServerEndpointProps, McpStageThrottle, McpTrustedGateway } from './endpoint/props.ts';
export type { TaskWorkers } from './endpoint/task-workers.ts';
export type { McpContainers } from './endpoint/containers.ts';
export type { Canary, McpDeploymentOptions } from './endpoint/canary.ts';

export class McpServerEndpoint extends Construct {
  readonly fn: lambda.Function;
  /**
   * The `live` alias API Gateway calls, and the CodeDeploy group that shifts it to each new version.
   * @default undefined on the `local` stage (SAM, LocalStack), where the API calls the function
   */
  readonly canary?: Canary;
  readonly api: apigateway.RestApi;
  readonly dataPlane: McpDataPlane;
  /** @default undefined when `cloudFront` is false */
  readonly distribution?: cloudfront.Distribution;
  readonly monitoring: McpServerMonitoring;
  /** The function's audit lines, kept apart for longer. */
  readonly auditLog: McpAuditLog;
  /** Public MCP URL: `publicUrl`, else the custom domain, else CloudFront, else the raw API. */
  readonly mcpUrl: string;
  /** @default undefined unless `auth.mode` is `cognito` or `cognito,apikey` */
  readonly authorizationServer?: McpCognitoAuthorizationServer;
  /** The MCP URL on the API Gateway stage, bypassing CloudFront. */
  readonly apiUrl: string;
  /** The endpoint's numbers and names, defaults applied: what the function's environment says. */
  readonly settings: EndpointSettings;
  /** How the function hands tasks to invocations of itself: its self-invoke policy and async-invoke settings. */
  readonly taskWorkers: TaskWorkers;
  /**
   * The Fargate service beside the function, its load balancer and VPC origin.
   * @default undefined without the `containers` prop
   */
  readonly containers?: McpContainerService;
  /** @default undefined without the `containers` prop */
  readonly containerAlarms?: ContainerAlarms;
  /** MCP_TRUSTED_GATEWAYS as it will be synthesized: the prop's gateways and those trustGateway adds. */
  private readonly trustedGateways: Record<string, object> = {};

  constructor(scope: Construct, id: string, props: McpServerEndpointProps) {
    super(scope, id);
    const settings = (this.settings = settingsOf(props));
    const { stage, path } = settings;
    const owner = `McpServerEndpoint "${props.serverName}"`;
    const auth: McpAuth = props.auth ?? { mode: 'none' };
    validateEndpointAuth(auth, stage, props.publicUrl, owner);
    refuseKitVariables(props.environment, owner);
    if (props.dataPlane && props.secret) throw new Error(`${owner}: give the secret to the shared McpDataPlane, not to one server.`);
    const production = props.production ?? isProductionStage(stage);
    const containerSettings = props.containers ? resolveContainers(props.containers, props.entry, owner) : undefined;
    if (containerSettings && !settings.cloudFront)
      throw new Error(`${owner}: containers need CloudFront in front (cloudFront: true): it reaches them through a VPC origin.`);
    const storage = {
      removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    };

    this.dataPlane = props.dataPlane ?? new McpDataPlane(this, 'DataPlane', { stage, retainData: production, secret: props.secret });
    if (auth.mode === 'cognito' || auth.mode === 'cognito,apikey') {
      this.authorizationServer = new McpCognitoAuthorizationServer(this, 'Auth', { settings: auth, serverName: props.serverName, stage, production });
    }
    this.api = createRestApi(this, {
      serverName: props.serverName,
      stage,
      throttle: settings.throttle,
      setAccountLogging: props.apiGatewayLogging ?? false,
      tracing: props.tracing ?? true,
      ...storage,
    });
    this.apiUrl = this.api.urlForPath(path);
    for (const [name, gateway] of Object.entries(props.trustedGateways ?? {})) this.addTrustedGateway(name, gateway, owner);
    this.distribution = settings.cloudFront ? this.createFront(props, auth, containerSettings?.streams ?? false) : undefined;
    const host = props.domain?.domainNames[0] ?? this.distribution?.distributionDomainName;
    // Without CloudFront, the stage's URL spelled from the API id, so the function may name it
    // without depending on its own deployment.
    this.mcpUrl = props.publicUrl ?? (host ? `https://${host}${path}` : stageUrl(this.api, stage, path));

    const environment = {
      ...props.environment,
      ...this.kitEnvironment(auth, props.publicUrl),
      // Container tasks are queued by the function and run by the containers; both must say so.
      ...(containerSettings?.tasks && { MCP_CONTAINER_TASKS: 'true' }),
    };
    this.fn = createServerFunction(this, {
      serverName: props.serverName,
      stage,
      entry: props.entry,
      timeoutSeconds: settings.timeoutSeconds,
      memorySizeMb: settings.memorySizeMb,
      reservedConcurrency: settings.reservedConcurrency,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      environment,
      bundleAwsSdk: props.bundleAwsSdk ?? true,
      tracing: props.tracing ?? true,
      ...storage,
    });
    this.dataPlane.grantServer(this.fn.role!);
    const versioned = releasesByAlias(stage);
    if (props.deployment && !versioned)
      throw new Error(`${owner}: \`deployment\` does not apply to the local stage (SAM, LocalStack), whose API calls the function without an alias.`);
    this.taskWorkers = enableTaskWorkers(this, this.fn, versioned);
    this.canary = versioned ? createCanary(this, this.fn, stage, props.deployment) : undefined;
    addRoutes(this.api, this.canary?.alias ?? this.fn, path, settings.timeoutSeconds);
    // The stage goes live, and the alias reaches a version, only once the function may start its
    // task workers: on a first deploy a task created earlier would fail with AccessDenied (IAM
    // changes still take seconds to apply).
    this.api.deploymentStage.node.addDependency(this.taskWorkers.selfInvokePolicy);
    this.canary?.alias.node.addDependency(this.taskWorkers.selfInvokePolicy);

    this.auditLog = new McpAuditLog(this, 'AuditLog', {
      serverName: props.serverName,
      stage,
      functionLogGroup: this.fn.logGroup,
      retention: props.auditLogRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: storage.removalPolicy,
    });
    this.monitoring = new McpServerMonitoring(this, 'Monitoring', {
      serverName: props.serverName,
      stage,
      fn: this.fn,
      functionTimeout: this.fn.timeout!,
      api: this.api,
      dataPlane: this.dataPlane,
      auditLog: this.auditLog,
      distribution: this.distribution,
      alarms: props.alarms,
      accountConcurrency: settings.accountConcurrency,
    });
    if (containerSettings) {
      this.containers = this.createContainers(containerSettings, environment, explicitVariables(props), storage);
      this.containerAlarms = monitorContainers(this.monitoring, {
        who: `MCP server "${props.serverName}" (${stage})`,
        containers: this.containers,
        minTasks: containerSettings.minTasks,
        serverName: props.serverName,
        stage,
        dashboard: this.monitoring.dashboard,
        topic: props.alarms?.topic,
      });
    }
    // What judges a release while it shifts: the new version failing, or slowing to its timeout.
    if (this.canary) for (const alarm of this.monitoring.releaseAlarms(this.canary.alias)) this.canary.deploymentGroup.addAlarm(alarm);
  }

  /** The containers share the function's environment and data grants, and join its distribution. */
  private createContainers(
    containerSettings: ContainerSettings,
    environment: Record<string, string>,
    explicit: readonly string[],
    storage: { removalPolicy: RemovalPolicy; logRetention: logs.RetentionDays },
  ): McpContainerService {
    const containers = new McpContainerService(this, 'Containers', {
      settings: containerSettings,
      environment,
      explicitVariables: explicit,
      grantData: (role) => this.dataPlane.grantServer(role),
      streamMaxSeconds: this.settings.streamMaxSeconds,
      originReadTimeoutSeconds: this.settings.originReadTimeoutSeconds,
      originSecret: this.originSecret(),
      logRetention: storage.logRetention,
      removalPolicy: storage.removalPolicy,
      serverName: this.settings.serverName,
      stage: this.settings.stage,
    });
    // Only streams come through CloudFront; tasks-only containers need no origin.
    if (containers.origin) addContainerOrigin(this.distribution!, containers.origin);
    return containers;
  }

  /** A dynamic reference: CloudFormation reads the value when it writes the distribution. */
  private originSecret(): string | undefined {
    return this.settings.originVerify ? this.dataPlane.originSecret.secretValueFromJson('MCP_ORIGIN_SECRET').unsafeUnwrap() : undefined;
  }

  private createFront(props: McpServerEndpointProps, auth: McpAuth, routeStreams: boolean): cloudfront.Distribution {
    return createDistribution(this, {
      serverName: props.serverName,
      stage: this.settings.stage,
      api: this.api,
      originReadTimeoutSeconds: this.settings.originReadTimeoutSeconds,
      restoreChallenges: auth.mode !== 'none',
      domain: props.domain,
      webAclArn: props.webAclArn,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      routeStreams,
      ...(this.settings.originVerify && { originSecret: this.originSecret(), originSecretVersion: props.originSecretVersion }),
    });
  }

  /**
   * Accept the on-behalf-of assertions of the gateway `name` (McpGateway calls this for the kit
   * endpoints it fronts on the same data plane): its key is derived from the data plane's secret,
   * so nothing is copied anywhere, and a rotation of the request-state key rotates it too.
   */
  trustGateway(name: string): void {
    this.addTrustedGateway(name, { fromRequestStateKey: true }, `McpServerEndpoint "${this.settings.serverName}"`);
  }

  private addTrustedGateway(name: string, gateway: McpTrustedGateway | { fromRequestStateKey: true; audience?: string[] }, owner: string) {
    if (name in this.trustedGateways) throw new Error(`${owner}: gateway "${name}" is trusted twice; gateway names must differ.`);
    // The API stage URL too: a gateway may call the endpoint there, bypassing CloudFront.
    const entry = { ...gateway, audience: [...(gateway.audience ?? []), stageUrl(this.api, this.settings.stage, this.settings.path)] };
    const concrete = { ...entry, audience: entry.audience.filter((a) => !Token.isUnresolved(a)) };
    try {
      if (!Token.isUnresolved(JSON.stringify(concrete))) parseTrustedGateways({ [name]: concrete });
    } catch (err) {
      throw new Error(`${owner}: trustedGateways: ${err instanceof ConfigError ? err.message.replace(/^MCP_TRUSTED_GATEWAYS: /, '') : String(err)}`);
    }
    this.trustedGateways[name] = entry;
  }

  private kitEnvironment(auth: McpAuth, publicUrl: string | undefined): Record<string, string> {
    return kitEnvironment(this.settings, {
      tableName: this.dataPlane.table.tableName,
      bucketName: this.dataPlane.bucket.bucketName,
      // Both, read in parallel: the origin secret is also what a gateway sends to kit upstreams.
      secretArn: `${this.dataPlane.secret.secretArn},${this.dataPlane.originSecret.secretArn}`,
      // SAM and LocalStack serve the local stage under URLs of their own: only an explicit one there.
      publicUrl: this.settings.stage === 'local' ? publicUrl : this.mcpUrl,
      trustedGateways: Lazy.string({ produce: () => (Object.keys(this.trustedGateways).length > 0 ? Stack.of(this).toJsonString(this.trustedGateways) : '') }),
      authEnvironment: authEnvironment(auth, this.authorizationServer),
    });
  }
}

/** The function's variables the user chose, by prop or `environment`: the containers keep them (settings.ts containerEnvironment). */
function explicitVariables(props: McpServerEndpointProps): string[] {
  const byProp: [unknown, string][] = [
    [props.getStreams, 'MCP_GET_STREAMS'],
    [props.maxOpenStreams, 'MCP_MAX_OPEN_STREAMS'],
    [props.streamsPerPrincipal, 'MCP_STREAMS_PER_PRINCIPAL'],
  ];
  return [...Object.keys(props.environment ?? {}), ...byProp.filter(([given]) => given !== undefined).map(([, name]) => name)];
}

/** What the auth mode needs from the stage: an open endpoint only on purpose, OAuth only with a URL. */
function validateEndpointAuth(auth: McpAuth, stage: string, publicUrl: string | undefined, owner: string): void {
  validateAuth(auth, owner);
  if (auth.mode === 'none' && stage !== 'local' && auth.allowUnauthenticated !== true) {
    throw new Error(
      `${owner}: stage "${stage}" would serve MCP with auth "none", so anyone who finds the URL can call ` +
        "its tools. Configure the `auth` prop (`{ mode: 'apikey' }`, `'oauth'` or `'cognito'`), or set " +
        "`auth: { mode: 'none', allowUnauthenticated: true }` to publish an open endpoint on purpose (in this " +
        'repo\'s app: `-c auth=…`, or `-c allowUnauthenticated=true` / the "allowUnauthenticated" context value in cdk.json).',
    );
  }
  if (publicUrl !== undefined) validatePublicUrl(publicUrl, owner);
  if (usesOAuth(auth) && stage === 'local' && publicUrl === undefined) {
    throw new Error(
      `${owner}: auth "${auth.mode}" needs the endpoint's public URL (the token audience and the resource in its ` +
        'OAuth metadata), which the `local` stage cannot derive: set the `publicUrl` prop to the URL clients use, ' +
        'e.g. the API URL SAM or LocalStack prints.',
    );
  }
}

function validatePublicUrl(value: string, owner: string): void {
  if (Token.isUnresolved(value)) return;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || !['https:', 'http:'].includes(url.protocol) || url.search !== '' || url.hash !== '') {
    throw new Error(`${owner}: publicUrl "${value}" must be an http(s) URL without query or fragment, e.g. "https://mcp.example.com/mcp".`);
  }
}

/** `environment` is for the server's own settings; the kit's variables come from props. */
function refuseKitVariables(environment: Record<string, string> | undefined, owner: string): void {
  const reserved = new Set<string>([...KIT_VARIABLES, ...AUTH_VARIABLES]);
  const clashes = Object.keys(environment ?? {}).filter((name) => reserved.has(name));
  if (clashes.length > 0) throw new Error(`${owner}: environment may not set ${clashes.join(', ')}; use the matching props.`);
}
