// McpGateway: one public MCP endpoint in front of several MCP servers, the kit's own
// (McpServerEndpoint) and external URLs. It is an McpServerEndpoint running functions/gateway,
// so it gets the same function, streaming REST API, CloudFront, auth, alarms and dashboard; this
// construct adds the upstream wiring (MCP_GATEWAY_CONFIG, checked at synth) and, per upstream, an
// alarm on its failures and a dashboard graph. A kit endpoint it fronts sees each caller as itself:
// the construct makes the endpoint trust this gateway (its key comes from the shared data plane's
// secret), and the gateway sends an assertion per caller. Upstream credentials for servers reached
// as the gateway are never in the template: each names a key of the data plane's secret.
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../shared/metrics.ts';
import { UPSTREAM_NAME } from '../shared/gateway/config.ts';
import { ORIGIN_SECRET_KEYS } from './data-plane.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from './mcp-server-endpoint.ts';

/** OAuth client credentials the gateway uses toward an upstream. */
export interface McpGatewayOAuthClient {
  readonly clientId: string;
  /** Key of the data plane's secret holding the client secret. */
  readonly clientSecretVariable: string;
  /** The authorization server the credentials belong to; they are sent to no other. */
  readonly issuer: string;
  /** @default - no scope requested */
  readonly scope?: string;
}

export interface McpGatewayUpstream {
  /**
   * Prefix of the upstream's tool and prompt names (`<name>__<tool>`) and resource URIs
   * (`<name>+<uri>`): lowercase letters, digits and hyphens, at most 32 characters.
   */
  readonly name: string;
  /**
   * A kit server deployed here. On the gateway's data plane it is called on its API Gateway URL
   * with the origin header CloudFront would add (the value from the shared origin secret), so calls
   * pay no second CloudFront hop and do not share the WAF's per-IP rate rule; on another data plane,
   * or with `oauth` (whose resource is the public URL), on its public URL. Give this or `url`.
   */
  readonly endpoint?: McpServerEndpoint;
  /** Any other MCP server's Streamable HTTP URL. Give this or `endpoint`. */
  readonly url?: string;
  /**
   * Key of the data plane's secret holding the API key the gateway sends (as `Authorization:
   * Bearer`), e.g. a key made with `npm run keys -- create --principal gateway`.
   * @default - no API key
   */
  readonly apiKeyVariable?: string;
  /** @default - no OAuth */
  readonly oauth?: McpGatewayOAuthClient;
  /**
   * Who the upstream sees: each caller as itself (`on-behalf-of`: the gateway's signed assertion;
   * for kit servers, which then trust this gateway), or the gateway (`gateway`: its API key or
   * OAuth credentials, every caller one principal there).
   * @default - 'on-behalf-of' for an `endpoint`, 'gateway' for a `url`
   */
  readonly identity?: 'on-behalf-of' | 'gateway';
  /**
   * With `identity: 'gateway'` on a gateway that authenticates its callers: accept that they all
   * share one identity upstream (its state, quotas, confirmations). Required then; right for a
   * server that keeps nothing per caller.
   * @default false
   */
  readonly shareIdentity?: boolean;
  /**
   * On-behalf-of: the caller's scopes the upstream may see (the assertion carries those of them
   * the caller holds).
   * @default - none
   */
  readonly forwardScopes?: string[];
  /** `auto` asks `server/discover` and falls back to a 2025-era session. @default 'auto' */
  readonly protocol?: 'auto' | 'modern' | 'legacy';
  /** Time limit of one `tools/call` (progress restarts it). @default Duration.seconds(60) */
  readonly callTimeout?: Duration;
  /** Time limit of lists, reads, prompts. @default Duration.seconds(10) */
  readonly requestTimeout?: Duration;
  /** Consecutive failures that open the upstream's circuit. @default 5 */
  readonly failureThreshold?: number;
  /** How long an open circuit refuses calls before one trial. @default Duration.seconds(30) */
  readonly cooldown?: Duration;
  /**
   * The most of one answer read from the upstream (a JSON body, one SSE event), in bytes; past it
   * the call fails, without opening the circuit (README, "Gateway"). At least 65536.
   * @default 8388608 (8 MiB)
   */
  readonly maxAnswerBytes?: number;
  /**
   * Who may reach the upstream through the gateway: these principals only (e.g. `apikey:ci-bot`),
   * holding every one of these scopes.
   * @default - every caller the gateway admits
   */
  readonly access?: { readonly principals?: string[]; readonly scopes?: string[] };
}

export interface McpGatewayProps extends Omit<McpServerEndpointProps, 'serverName' | 'entry'> {
  /** @default 'gateway' */
  readonly serverName?: string;
  /** @default 'functions/gateway/handler.ts' */
  readonly entry?: string;
  readonly upstreams: McpGatewayUpstream[];
  /** How long a list waits for each upstream before answering without it. @default Duration.seconds(5) */
  readonly listTimeout?: Duration;
  /**
   * Upstream failures (down, slow, 5xx, circuit open) in five minutes that raise an upstream's alarm.
   * @default 10
   */
  readonly upstreamFailuresAlarm?: number;
}

const GATEWAY_VARIABLES = ['MCP_GATEWAY_CONFIG', 'MCP_GATEWAY_UPSTREAMS', 'MCP_GATEWAY_LIST_TIMEOUT_MS'];

export class McpGateway extends Construct {
  readonly endpoint: McpServerEndpoint;
  /** Public MCP URL of the gateway. */
  readonly mcpUrl: string;
  /** One per upstream, by name. */
  readonly upstreamAlarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: McpGatewayProps) {
    super(scope, id);
    const serverName = props.serverName ?? 'gateway';
    const owner = `McpGateway "${serverName}"`;
    const { upstreams: _upstreams, listTimeout, upstreamFailuresAlarm, ...endpointProps } = props;
    const clash = Object.keys(props.environment ?? {}).filter((v) => GATEWAY_VARIABLES.includes(v));
    if (clash.length > 0) throw new Error(`${owner}: environment may not set ${clash.join(', ')}; use the upstreams prop.`);
    const config = gatewayConfig(props, owner);
    this.endpoint = new McpServerEndpoint(this, 'Endpoint', {
      ...endpointProps,
      serverName,
      entry: props.entry ?? 'functions/gateway/handler.ts',
      environment: { ...props.environment, MCP_GATEWAY_CONFIG: Stack.of(this).toJsonString(config) },
    });
    this.mcpUrl = this.endpoint.mcpUrl;
    this.trustFromEndpoints(serverName, props, owner);
    this.monitorUpstreams(serverName, props);
  }

  /** Kit endpoints reached on behalf of callers accept this gateway's assertions. */
  private trustFromEndpoints(serverName: string, props: McpGatewayProps, owner: string) {
    for (const u of props.upstreams) {
      if (!u.endpoint || identityOf(u) !== 'on-behalf-of') continue;
      if (u.endpoint.dataPlane !== this.endpoint.dataPlane) {
        throw new Error(
          `${owner}: upstream "${u.name}" is on another data plane, so it cannot derive this gateway's key from their shared secret. ` +
            'Give it the gateway\'s public key in its trustedGateways prop (docs/deploy.md, "Trusted gateways"), and the url of it here instead of endpoint.',
        );
      }
      u.endpoint.trustGateway(serverName);
    }
  }

  private monitorUpstreams(serverName: string, props: McpGatewayProps) {
    const threshold = props.upstreamFailuresAlarm ?? 10;
    if (!Number.isInteger(threshold) || threshold < 1)
      throw new Error(`McpGateway "${serverName}": upstreamFailuresAlarm must be a whole number, at least 1, got ${threshold}`);
    const topic = props.alarms?.topic;
    const metrics: cloudwatch.Metric[] = [];
    for (const upstream of props.upstreams) {
      const metric = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'UpstreamFailures',
        dimensionsMap: { Server: serverName, Upstream: upstream.name },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
      metrics.push(metric.with({ label: upstream.name }));
      const alarm = new cloudwatch.Alarm(this, `UpstreamFailures-${upstream.name}`, {
        alarmDescription: `MCP gateway "${serverName}": upstream "${upstream.name}" failed at least ${threshold} times in 5 minutes (unreachable, slow, 5xx, or its circuit open).`,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (topic) {
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
        alarm.addOkAction(new cloudwatchActions.SnsAction(topic));
      }
      this.upstreamAlarms[upstream.name] = alarm;
    }
    this.endpoint.monitoring.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Upstream alarms', alarms: Object.values(this.upstreamAlarms), width: 12, height: 4 }),
      new cloudwatch.GraphWidget({
        title: 'Upstream failures',
        left: metrics,
        leftAnnotations: [{ value: threshold, label: 'alarm', color: cloudwatch.Color.RED }],
        width: 12,
      }),
    );
  }
}

const millis = (d: Duration | undefined) => d?.toMilliseconds();
const identityOf = (u: McpGatewayUpstream) => u.identity ?? (u.endpoint ? 'on-behalf-of' : 'gateway');

/**
 * Where the gateway calls an upstream: a kit endpoint on the same data plane around its CloudFront.
 * Not with OAuth client credentials: the upstream's metadata names its public URL as the resource,
 * and a client calling another URL would refuse it.
 */
function upstreamAddress(u: McpGatewayUpstream, props: McpGatewayProps): { url: string | undefined; originVerifyVariable?: string } {
  if (!u.endpoint) return { url: u.url };
  const direct = u.endpoint.settings.originVerify && !u.oauth && props.dataPlane !== undefined && u.endpoint.dataPlane === props.dataPlane;
  return direct ? { url: u.endpoint.apiUrl, originVerifyVariable: ORIGIN_SECRET_KEYS[0] } : { url: u.endpoint.mcpUrl };
}

/** MCP_GATEWAY_CONFIG for the props, checked as far as synth can (URLs from other stacks are tokens). */
function gatewayConfig(props: McpGatewayProps, owner: string) {
  if (props.upstreams.length === 0) throw new Error(`${owner}: upstreams is empty; name at least one MCP server to front.`);
  const upstreams: Record<string, object> = {};
  for (const u of props.upstreams) {
    if (!UPSTREAM_NAME.test(u.name))
      throw new Error(
        `${owner}: upstream name "${u.name}" must be lowercase letters, digits and hyphens, starting with a letter, at most 32 characters (it prefixes tool names).`,
      );
    if (u.name in upstreams) throw new Error(`${owner}: upstream "${u.name}" is named twice.`);
    if ((u.endpoint === undefined) === (u.url === undefined)) throw new Error(`${owner}: upstream "${u.name}" needs exactly one of endpoint and url.`);
    if (u.url !== undefined && !Token.isUnresolved(u.url) && !/^https:\/\//.test(u.url))
      throw new Error(`${owner}: upstream "${u.name}" url "${u.url}" must be https.`);
    if (u.apiKeyVariable && u.oauth) throw new Error(`${owner}: upstream "${u.name}" takes an API key or OAuth client credentials, not both.`);
    if (u.maxAnswerBytes !== undefined && !(Number.isInteger(u.maxAnswerBytes) && u.maxAnswerBytes >= 65_536))
      throw new Error(`${owner}: upstream "${u.name}" maxAnswerBytes must be a whole number of at least 65536, got ${u.maxAnswerBytes}.`);
    checkIdentity(u, props, owner);
    const callMs = millis(u.callTimeout);
    const functionMs = millis(props.timeout) ?? 900_000;
    if (callMs !== undefined && callMs > functionMs - 10_000)
      throw new Error(`${owner}: upstream "${u.name}" callTimeout must stay 10 s below the gateway's function timeout.`);
    upstreams[u.name] = {
      ...upstreamAddress(u, props),
      ...(u.protocol && { protocol: u.protocol }),
      ...(u.apiKeyVariable && { auth: { apiKeyVariable: u.apiKeyVariable } }),
      ...(u.oauth && {
        auth: {
          clientId: u.oauth.clientId,
          clientSecretVariable: u.oauth.clientSecretVariable,
          issuer: u.oauth.issuer,
          ...(u.oauth.scope && { scope: u.oauth.scope }),
        },
      }),
      timeouts: { ...(callMs !== undefined && { callMs }), ...(u.requestTimeout && { requestMs: millis(u.requestTimeout) }) },
      breaker: { ...(u.failureThreshold !== undefined && { failureThreshold: u.failureThreshold }), ...(u.cooldown && { cooldownMs: millis(u.cooldown) }) },
      ...(u.maxAnswerBytes !== undefined && { maxAnswerBytes: u.maxAnswerBytes }),
      ...(u.access && { access: { ...(u.access.principals && { principals: u.access.principals }), scopes: u.access.scopes ?? [] } }),
      identity: identityOf(u),
      ...(u.shareIdentity && { shareIdentity: true }),
      ...(u.forwardScopes && { forwardScopes: u.forwardScopes }),
    };
  }
  // Its name signs its assertions: the one the endpoints it fronts are told to trust.
  return { name: props.serverName ?? 'gateway', upstreams, ...(props.listTimeout && { listTimeoutMs: millis(props.listTimeout) }) };
}

/** What the gateway would refuse at start (shared/gateway/config.ts), refused at synth instead. */
function checkIdentity(u: McpGatewayUpstream, props: McpGatewayProps, owner: string) {
  const identity = identityOf(u);
  if (identity === 'on-behalf-of' && (u.apiKeyVariable || u.oauth)) {
    throw new Error(
      `${owner}: upstream "${u.name}" is reached on behalf of each caller, with the gateway's signed assertion as its credential: drop apiKeyVariable/oauth, or set identity 'gateway' (every caller one principal there).`,
    );
  }
  const manyCallers = (props.auth?.mode ?? 'none') !== 'none';
  if (identity === 'gateway' && manyCallers && !u.shareIdentity) {
    throw new Error(
      `${owner}: upstream "${u.name}" is reached as the gateway, so every caller would be one principal there (its state, handles, quotas, confirmations shared). ` +
        "Use identity 'on-behalf-of' for a kit server, or set shareIdentity: true for a server that keeps nothing per caller.",
    );
  }
  if (identity === 'gateway' && u.forwardScopes?.length)
    throw new Error(`${owner}: upstream "${u.name}": forwardScopes applies to identity 'on-behalf-of' only.`);
}
