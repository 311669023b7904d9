// McpServerEndpoint: deploys one MCP server on a public HTTPS endpoint. The Lambda function
// (bundled locally by esbuild) streams through a regional REST API, with CloudFront in front;
// state lives in an McpDataPlane, shared or private. Auth (infra/auth.ts), alarms and a dashboard
// come with it.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AUTH_VARIABLES, authEnvironment, type McpAuth, McpCognitoAuthorizationServer, usesOAuth, validateAuth } from './auth.ts';
import { isProductionStage, McpDataPlane } from './data-plane.ts';
import { type McpAlarmOptions, McpServerMonitoring } from './monitoring.ts';

/**
 * The kit's per-principal rate limit, enforced in the function with Redis: while it is on, the
 * secret must hold Upstash credentials or the function refuses to start.
 */
export interface McpRateLimit {
  /** `MCP_RATE_LIMIT_ENABLED`. @default true */
  readonly enabled?: boolean;
  /** `MCP_RATE_LIMIT_REQUESTS` over a 60-second window. @default 120 */
  readonly requestsPerMinute?: number;
}

/** API Gateway stage throttling: the ceiling before any request reaches the function. */
export interface McpStageThrottle {
  /** Steady-state requests per second. @default 50 */
  readonly rateLimit?: number;
  /** Burst bucket size. @default 100 */
  readonly burstLimit?: number;
}

/** A custom domain served by CloudFront. */
export interface McpCustomDomain {
  /** Host names, e.g. `['mcp.example.com']`; point a CNAME/alias at the distribution. */
  readonly domainNames: string[];
  /** ACM certificate covering every name. CloudFront requires it in us-east-1. */
  readonly certificate: acm.ICertificate;
}

export interface McpServerEndpointProps {
  /** Short lowercase name: names the API, POWERTOOLS_SERVICE_NAME, the dashboard's titles. */
  readonly serverName: string;
  /** Entry file exporting `handler`, absolute or relative to the project root. */
  readonly entry: string;
  /**
   * State store; pass one to several servers so they share it.
   * @default - a data plane private to this server
   */
  readonly dataPlane?: McpDataPlane;
  /**
   * Where Redis credentials and the request-state key come from, for the private data plane
   * (a shared `McpDataPlane` takes its own `secret`): JSON with `UPSTASH_REDIS_REST_URL`,
   * `UPSTASH_REDIS_REST_TOKEN`, `MCP_REQUEST_STATE_KEY`, read once per cold start.
   * @default - a generated secret, see `McpDataPlaneProps.secret`
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * Stage name: API Gateway stage, `MCP_STAGE`, retention and auth defaults. `local` is the
   * stage for SAM and LocalStack, where an unauthenticated server is allowed without asking.
   * @default 'dev'
   */
  readonly stage?: string;
  /**
   * Production deployment: logs, and a private data plane, are retained when the stack is deleted.
   * @default - true for the stages `prod` and `production`
   */
  readonly production?: boolean;
  /**
   * Path of the MCP endpoint (`MCP_PATH`).
   * @default '/mcp'
   */
  readonly path?: string;
  /**
   * Function memory in MB; CPU share grows with it, and so does cold-start speed.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout, and the API integration timeout (streamed responses may run this long).
   * At most 15 minutes.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Graviton (arm64) costs less per GB-second than x86_64 for the same work.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * How callers authenticate (`MCP_AUTH_MODE` and the `MCP_OAUTH_*` settings): `none`, `apikey`,
   * `oauth` with an issuer of yours, or `cognito` with a user pool built here; the OAuth modes
   * combine with API keys (`oauth,apikey`, `cognito,apikey`). See infra/auth.ts.
   * `none` needs `allowUnauthenticated: true` on every stage but `local`.
   * @default { mode: 'none' }
   */
  readonly auth?: McpAuth;
  /**
   * The MCP URL as clients reach it (`MCP_PUBLIC_URL`): the resource in OAuth protected resource
   * metadata, the origin of the metadata URL in 401 challenges, and the default token audience.
   * Set it when something of yours fronts the endpoint; on the `local` stage, the OAuth modes
   * need it.
   * @default - `https://<first custom domain name><path>`, else the distribution's
   * `https://<id>.cloudfront.net<path>`, else the API stage URL; none on the `local` stage
   */
  readonly publicUrl?: string;
  /**
   * Longest a tool handler may run before its call ends with an error result
   * (`MCP_TOOL_TIMEOUT_MS`). At most `timeout` minus 10 s, so the kit can still answer and close
   * the stream before Lambda stops the function.
   * @default - 60 s, or `timeout` minus 10 s when that is shorter
   */
  readonly toolTimeout?: Duration;
  /**
   * Per-principal rate limit (`MCP_RATE_LIMIT_ENABLED`, `MCP_RATE_LIMIT_REQUESTS`,
   * `MCP_RATE_LIMIT_WINDOW_SECONDS`). Needs Upstash credentials in the secret while enabled.
   * @default { enabled: true, requestsPerMinute: 120 }
   */
  readonly rateLimit?: McpRateLimit;
  /**
   * API Gateway stage throttling, the ceiling in front of the function and its cost.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: McpStageThrottle;
  /**
   * Retention of the function log and the API access log.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * `LOG_LEVEL` of the function.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Origins browsers may call from (`MCP_ALLOWED_ORIGINS`). Requests without Origin always pass.
   * @default - none listed
   */
  readonly allowedOrigins?: string[];
  /**
   * Host header allow-list (`MCP_ALLOWED_HOSTS`). API Gateway only routes requests addressed to
   * its own host, so in AWS this adds nothing unless you front the API some other way.
   * @default - none listed (any host)
   */
  readonly allowedHosts?: string[];
  /**
   * Put CloudFront in front. Off leaves only the raw API URL (e.g. on LocalStack, which does not
   * emulate CloudFront in its free edition).
   * @default true
   */
  readonly cloudFront?: boolean;
  /**
   * Custom domain and certificate for the distribution.
   * @default - the distribution's cloudfront.net name
   */
  readonly domain?: McpCustomDomain;
  /**
   * ARN of a WAFv2 web ACL with scope CLOUDFRONT. Such ACLs exist only in us-east-1, so create it
   * there (see `McpEdgeFirewall`) and pass the ARN in.
   * @default - no web ACL
   */
  readonly webAclArn?: string;
  /**
   * How long CloudFront waits for the next bytes from the API. Must stay above the server's SSE
   * keep-alive interval (15 s) so idle streams survive.
   * @default Duration.seconds(60)
   */
  readonly originReadTimeout?: Duration;
  /**
   * CloudFront edge locations used (and paid for).
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;
  /**
   * Alarm thresholds and the topic alarms notify.
   * @default - see McpAlarmOptions
   */
  readonly alarms?: McpAlarmOptions;
  /**
   * Bundle the AWS SDK into the function instead of using the copy the nodejs22.x runtime ships.
   * The runtime's copy keeps the bundle small and cold starts short, but its version is Lambda's
   * choice; bundling pins the version the kit was built and tested with.
   * @default false
   */
  readonly bundleAwsSdk?: boolean;
  /**
   * Extra environment variables for the function (tool settings, endpoint overrides for SAM or
   * LocalStack). They cannot replace the kit's own variables.
   * @default - none
   */
  readonly environment?: Record<string, string>;
}

const DEFAULT_PATH = '/mcp';
const RESERVED_PATHS = ['/health', '/.well-known'];
const STREAMING_LIMIT = Duration.minutes(15);
const DEFAULT_TOOL_TIMEOUT = Duration.seconds(60);
/** Time the kit needs after a tool timeout to write the error result and end the stream. */
const TOOL_TIMEOUT_MARGIN = Duration.seconds(10);
/** Where `entry` paths are resolved from: the repository root, one level above infra/. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESTORE_WWW_AUTHENTICATE = fileURLToPath(new URL('./edge/restore-www-authenticate.js', import.meta.url));

// esbuild's ESM output has no `require`; CommonJS dependencies bundled into it call one.
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __mcpKitCreateRequire } from 'node:module'; const require = __mcpKitCreateRequire(import.meta.url);";

export class McpServerEndpoint extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly api: apigateway.RestApi;
  readonly dataPlane: McpDataPlane;
  /** @default undefined when `cloudFront` is false */
  readonly distribution?: cloudfront.Distribution;
  readonly monitoring: McpServerMonitoring;
  /** Public MCP URL: `publicUrl`, else the custom domain, else CloudFront, else the raw API. */
  readonly mcpUrl: string;
  /** @default undefined unless `auth.mode` is `cognito` or `cognito,apikey` */
  readonly authorizationServer?: McpCognitoAuthorizationServer;
  /** The MCP URL on the API Gateway stage, bypassing CloudFront. */
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: McpServerEndpointProps) {
    super(scope, id);
    const stage = props.stage ?? 'dev';
    const production = props.production ?? isProductionStage(stage);
    const path = validatePath(props.path ?? DEFAULT_PATH);
    const timeout = props.timeout ?? STREAMING_LIMIT;
    const auth: McpAuth = props.auth ?? { mode: 'none' };
    const rateLimit = { enabled: props.rateLimit?.enabled ?? true, requestsPerMinute: props.rateLimit?.requestsPerMinute ?? 120 };
    const owner = `McpServerEndpoint "${props.serverName}"`;
    validateServerName(props.serverName);
    if (!timeout.isUnresolved() && timeout.toSeconds() > STREAMING_LIMIT.toSeconds()) {
      throw new Error(`${owner}: timeout is ${timeout.toHumanString()}; Lambda and streamed API responses stop at 15 minutes.`);
    }
    const toolTimeout = resolveToolTimeout(timeout, props.toolTimeout, owner);
    if (!Number.isInteger(rateLimit.requestsPerMinute) || rateLimit.requestsPerMinute < 1) {
      throw new Error(`${owner}: rateLimit.requestsPerMinute must be a positive whole number, got ${rateLimit.requestsPerMinute}.`);
    }
    validateAuth(auth, owner);
    if (auth.mode === 'none' && stage !== 'local' && auth.allowUnauthenticated !== true) {
      throw new Error(
        `${owner}: stage "${stage}" would serve MCP with auth "none", so anyone who finds the URL can call ` +
          "its tools. Configure the `auth` prop (`{ mode: 'apikey' }`, `'oauth'` or `'cognito'`), or set " +
          "`auth: { mode: 'none', allowUnauthenticated: true }` to publish an open endpoint on purpose (in this " +
          'repo\'s app: `-c auth=…`, or `-c allowUnauthenticated=true` / the "allowUnauthenticated" context value in cdk.json).',
      );
    }
    if (props.publicUrl !== undefined) validatePublicUrl(props.publicUrl, owner);
    if (usesOAuth(auth) && stage === 'local' && props.publicUrl === undefined) {
      throw new Error(
        `${owner}: auth "${auth.mode}" needs the endpoint's public URL (the token audience and the resource in its ` +
          'OAuth metadata), which the `local` stage cannot derive: set the `publicUrl` prop to the URL clients use, ' +
          'e.g. the API URL SAM or LocalStack prints.',
      );
    }
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    if (props.dataPlane && props.secret) {
      throw new Error(`McpServerEndpoint "${props.serverName}": give the secret to the shared McpDataPlane, not to one server.`);
    }
    this.dataPlane = props.dataPlane ?? new McpDataPlane(this, 'DataPlane', { stage, retainData: production, secret: props.secret });

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', { retention: logRetention, removalPolicy });
    // A role of our own instead of AWSLambdaBasicExecutionRole: it may write to this log group only.
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `MCP server ${props.serverName} (${stage})`,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));

    if (auth.mode === 'cognito' || auth.mode === 'cognito,apikey') {
      this.authorizationServer = new McpCognitoAuthorizationServer(this, 'Auth', { settings: auth, serverName: props.serverName, stage, production });
    }

    const kitEnvironment: Record<string, string> = {
      MCP_TABLE_NAME: this.dataPlane.table.tableName,
      MCP_BUCKET_NAME: this.dataPlane.bucket.bucketName,
      MCP_SECRETS_ARN: this.dataPlane.secret.secretArn,
      MCP_STAGE: stage,
      MCP_PATH: path,
      ...authEnvironment(auth, this.authorizationServer),
      MCP_TOOL_TIMEOUT_MS: String(toolTimeout.toMilliseconds()),
      MCP_ALLOWED_ORIGINS: (props.allowedOrigins ?? []).join(','),
      MCP_ALLOWED_HOSTS: (props.allowedHosts ?? []).join(','),
      MCP_RATE_LIMIT_ENABLED: String(rateLimit.enabled),
      MCP_RATE_LIMIT_REQUESTS: String(rateLimit.requestsPerMinute),
      MCP_RATE_LIMIT_WINDOW_SECONDS: '60',
      LOG_LEVEL: props.logLevel ?? 'INFO',
      POWERTOOLS_SERVICE_NAME: props.serverName,
      NODE_OPTIONS: '--enable-source-maps',
    };
    const reserved = new Set<string>([...Object.keys(kitEnvironment), ...AUTH_VARIABLES]);
    const clashes = Object.keys(props.environment ?? {}).filter((name) => reserved.has(name));
    if (clashes.length > 0) {
      throw new Error(`${owner}: environment may not set ${clashes.join(', ')}; use the matching props.`);
    }

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      description: `MCP server ${props.serverName} (${stage})`,
      entry: resolve(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout,
      role,
      logGroup,
      environment: { ...props.environment, ...kitEnvironment },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The nodejs22.x runtime ships AWS SDK v3 (see bundleAwsSdk).
        externalModules: props.bundleAwsSdk ? [] : ['@aws-sdk/*'],
        banner: CREATE_REQUIRE_BANNER,
        forceDockerBundling: false,
      },
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The kit targets nodejs22.x on purpose: its build, tests and bundle target are Node 22. A newer ' +
        'runtime is a deliberate upgrade, not a drift to follow automatically.',
    });
    this.dataPlane.grantServer(role);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `mcp-${props.serverName}-${stage}`,
      description: `MCP server ${props.serverName} (${stage})`,
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      cloudWatchRole: false,
      deployOptions: {
        stageName: stage,
        throttlingRateLimit: props.throttle?.rateLimit ?? 50,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 100,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: accessLogFormat(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: false,
      },
    });
    // RestApi publishes the stage root as an output; the stack publishes the MCP URLs instead.
    this.api.node.tryRemoveChild('Endpoint');
    // API Gateway creates the execution-log group on first write, without retention; creating
    // it first, under the name API Gateway uses, puts it under this stack's retention and removal.
    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${stage}`,
      retention: logRetention,
      removalPolicy,
    });
    this.api.deploymentStage.node.addDependency(executionLogs);
    const integration = new apigateway.LambdaIntegration(this.fn, {
      responseTransferMode: apigateway.ResponseTransferMode.STREAM,
      timeout,
      allowTestInvoke: false,
    });
    // OPTIONS reaches the function so its CORS handling can answer browser preflights.
    const mcp = this.api.root.resourceForPath(path);
    for (const method of ['POST', 'GET', 'DELETE', 'OPTIONS']) mcp.addMethod(method, integration);
    this.api.root.addResource('health').addMethod('GET', integration);
    const wellKnown = this.api.root.addResource('.well-known').addResource('{proxy+}');
    for (const method of ['GET', 'OPTIONS']) wellKnown.addMethod(method, integration);
    acknowledgeOpenApi(this.api);

    this.apiUrl = this.api.urlForPath(path);
    if (props.cloudFront ?? true) {
      this.distribution = this.createDistribution(props, stage);
      const host = props.domain?.domainNames[0] ?? this.distribution.distributionDomainName;
      this.mcpUrl = props.publicUrl ?? `https://${host}${path}`;
    } else {
      // The stage's URL spelled from the API id and the stage name, not from the Stage resource,
      // so the function may name it without depending on its own deployment.
      this.mcpUrl = props.publicUrl ?? `https://${this.api.restApiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${stage}${path}`;
    }
    // SAM and LocalStack serve the local stage under URLs of their own: only an explicit one there.
    const publicUrl = stage === 'local' ? props.publicUrl : this.mcpUrl;
    if (publicUrl !== undefined) this.fn.addEnvironment('MCP_PUBLIC_URL', publicUrl);

    this.monitoring = new McpServerMonitoring(this, 'Monitoring', {
      serverName: props.serverName,
      stage,
      fn: this.fn,
      functionTimeout: timeout,
      api: this.api,
      dataPlane: this.dataPlane,
      distribution: this.distribution,
      alarms: props.alarms,
    });
  }

  private createDistribution(props: McpServerEndpointProps, stage: string): cloudfront.Distribution {
    if (props.domain && props.domain.domainNames.length === 0) {
      throw new Error(`McpServerEndpoint "${props.serverName}": domain.domainNames is empty.`);
    }
    // The API's host and stage path spelled out rather than RestApiOrigin, which reads them off the
    // Stage: the distribution then depends on the RestApi alone, and the function can take the
    // distribution's domain as MCP_PUBLIC_URL without a dependency cycle (function → distribution
    // → RestApi; methods → function; deployment → methods; stage → deployment).
    const stack = Stack.of(this);
    const origin = new origins.HttpOrigin(`${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
      originPath: `/${stage}`,
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      readTimeout: props.originReadTimeout ?? Duration.seconds(60),
      keepaliveTimeout: Duration.seconds(60),
    });
    const restoreWwwAuthenticate = new cloudfront.Function(this, 'RestoreWwwAuthenticate', {
      comment: 'Restore WWW-Authenticate renamed by API Gateway',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromFile({ filePath: RESTORE_WWW_AUTHENTICATE }),
    });
    const functionAssociations = [{ function: restoreWwwAuthenticate, eventType: cloudfront.FunctionEventType.VIEWER_RESPONSE }];
    // Nothing the API answers may be cached or transformed: MCP responses are per-caller JSON
    // or SSE streams, and compression would buffer a stream.
    const uncached = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      compress: false,
      functionAssociations,
    };
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `MCP server ${props.serverName} (${stage})`,
      defaultBehavior: { ...uncached, allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL },
      // OAuth discovery looks for metadata at the host's root, where the stage prefix is absent.
      additionalBehaviors: {
        '/.well-known/*': { ...uncached, allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS },
      },
      domainNames: props.domain?.domainNames,
      certificate: props.domain?.certificate,
      // Only settable with a certificate of our own; the cloudfront.net default is fixed.
      minimumProtocolVersion: props.domain ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      webAclId: props.webAclArn,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
    });

    const acknowledgements = [
      {
        id: 'AwsSolutions-CFR1',
        reason: 'An MCP endpoint serves AI clients wherever they run; geographic limits are a per-deployment choice (WAF).',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Every request that reaches the server is in the API access log; CloudFront legacy logging needs an ' +
          'ACL-enabled S3 bucket, which this kit avoids. Turn on CloudFront standard logging v2 if viewer-level logs are needed.',
      },
    ];
    if (!props.webAclArn) {
      acknowledgements.push({
        id: 'AwsSolutions-CFR2',
        reason:
          'A CLOUDFRONT-scoped web ACL must live in us-east-1 and so cannot be created in this region-agnostic ' +
          'stack; it is opt-in through `webAclArn` (see McpEdgeFirewall and docs/deploy.md). Stage throttling applies meanwhile.',
      });
    }
    if (!props.domain) {
      acknowledgements.push({
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose TLS policy cannot be set; with a domain the policy is TLSv1.2_2021.',
      });
    }
    Validations.of(distribution).acknowledge(...acknowledgements);
    return distribution;
  }
}

function resolveToolTimeout(timeout: Duration, toolTimeout: Duration | undefined, owner: string): Duration {
  if (timeout.isUnresolved()) {
    if (toolTimeout === undefined) throw new Error(`${owner}: timeout is a token; set toolTimeout explicitly, at most the timeout minus ${TOOL_TIMEOUT_MARGIN.toHumanString()}.`);
    return toolTimeout;
  }
  const ceiling = timeout.toMilliseconds() - TOOL_TIMEOUT_MARGIN.toMilliseconds();
  if (toolTimeout === undefined) {
    if (ceiling < 1_000) {
      throw new Error(`${owner}: timeout ${timeout.toHumanString()} leaves no room for tools after the ${TOOL_TIMEOUT_MARGIN.toHumanString()} the kit keeps to end a call; give the function more time.`);
    }
    return Duration.millis(Math.min(DEFAULT_TOOL_TIMEOUT.toMilliseconds(), ceiling));
  }
  const ms = toolTimeout.toMilliseconds();
  if (ms < 100 || ms > ceiling) {
    throw new Error(
      `${owner}: toolTimeout is ${toolTimeout.toHumanString()}; it must be at least 100 ms and at most timeout (${timeout.toHumanString()}) ` +
        `minus ${TOOL_TIMEOUT_MARGIN.toHumanString()}, so a slow tool ends with an error result instead of a function timeout.`,
    );
  }
  return toolTimeout;
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

function validateServerName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) {
    throw new Error(`McpServerEndpoint: serverName "${name}" must be lowercase letters, digits and hyphens, starting with a letter, at most 40 characters.`);
  }
}

function validatePath(path: string): string {
  if (Token.isUnresolved(path) || !/^(\/[A-Za-z0-9._-]+)+$/.test(path)) {
    throw new Error(`McpServerEndpoint: path "${path}" must look like "/mcp" (segments of letters, digits, ".", "_", "-").`);
  }
  if (RESERVED_PATHS.some((reserved) => path === reserved || path.startsWith(`${reserved}/`))) {
    throw new Error(`McpServerEndpoint: path "${path}" collides with ${RESERVED_PATHS.join(' or ')}.`);
  }
  return path;
}

/** One JSON line per request, including how long the function took and why the gateway failed. */
function accessLogFormat(): apigateway.AccessLogFormat {
  const f = apigateway.AccessLogField;
  return apigateway.AccessLogFormat.custom(
    JSON.stringify({
      requestId: f.contextRequestId(),
      requestTime: f.contextRequestTime(),
      ip: f.contextIdentitySourceIp(),
      userAgent: f.contextIdentityUserAgent(),
      method: f.contextHttpMethod(),
      path: f.contextPath(),
      resource: f.contextResourcePath(),
      protocol: f.contextProtocol(),
      status: f.contextStatus(),
      responseLength: f.contextResponseLength(),
      responseLatency: f.contextResponseLatency(),
      integrationStatus: f.contextIntegrationStatus(),
      integrationLatency: f.contextIntegrationLatency(),
      integrationError: f.contextIntegrationErrorMessage(),
      error: f.contextErrorMessage(),
      errorType: f.contextErrorResponseType(),
    }),
  );
}

/** The gateway deliberately leaves request checks and auth to the function; say so once per API. */
function acknowledgeOpenApi(api: apigateway.RestApi): void {
  Validations.of(api).acknowledge(
    {
      id: 'AwsSolutions-APIG2',
      reason:
        'The MCP SDK validates every JSON-RPC body in the function; a gateway model would duplicate the ' +
        'schema and reject messages of protocol revisions the server negotiates.',
    },
    {
      id: 'AwsSolutions-APIG3',
      reason: 'WAF attaches at CloudFront (`webAclArn`), which fronts this API; stage throttling limits direct calls.',
    },
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'MCP authentication (API keys, OAuth 2.1 bearer tokens with discovery) is done by the kit in the function, ' +
        'which must also answer unauthenticated discovery and health requests; the gateway authorizer would not speak it.',
    },
    {
      id: 'AwsSolutions-COG4',
      reason:
        'The kit verifies bearer tokens in the function, a Cognito pool\'s included (auth mode cognito); a gateway ' +
        'Cognito authorizer would refuse API keys and answer 401 without the MCP challenge that points clients at discovery.',
    },
  );
}
