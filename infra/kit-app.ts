// The kit's CDK app: reads deploy settings from CDK context (cdk.json, `-c key=value`), deploys
// the example servers (notes, echo) and a gateway in front of them on one shared data plane with
// the auth mode chosen by `-c auth=…` (API keys unless told otherwise), in the account and region
// the CDK CLI resolved, and runs the AwsSolutions checks on every synth. Kept apart from app.ts so
// tests build the same app in-process.
import { type App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AUTH_MODES, type McpAuth, type McpAuthMode, usesOAuth } from './auth.ts';
import { PipelineRoleStack } from './pipeline-role.ts';
import { DataPlaneStack, EdgeFirewallStack, McpGatewayStack, McpServerStack } from './stacks.ts';

/** The servers this repository deploys; add yours here. */
export const SERVERS = [
  { id: 'Notes', serverName: 'notes', entry: 'functions/notes/handler.ts' },
  { id: 'Echo', serverName: 'echo', entry: 'functions/echo/handler.ts' },
] as const;

/**
 * On the `local` stage (SAM, LocalStack) the function declares these, empty, so
 * `sam local --env-vars` may set them: SAM only overrides variables the template declares.
 */
const LOCAL_OVERRIDABLE = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_S3', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'MCP_REQUEST_STATE_KEY'];

/** Redirect URIs of the MCP Inspector (`npx @modelcontextprotocol/inspector`), for trying the cognito modes. */
export const INSPECTOR_CALLBACK_URLS = ['http://localhost:6274/oauth/callback', 'http://localhost:6274/oauth/callback/debug'];

export interface KitStacks {
  readonly stage: string;
  readonly dataPlane: DataPlaneStack;
  readonly servers: McpServerStack[];
  /** @default undefined when context `gateway` is false, or the auth mode takes no API keys */
  readonly gateway?: McpGatewayStack;
  /** @default undefined unless context `edgeFirewall` is true */
  readonly edgeFirewall?: EdgeFirewallStack;
  /** The role GitHub Actions deploys with. @default undefined unless context `githubRepository` is set */
  readonly pipeline?: PipelineRoleStack;
}

/** Stack id (and cdk.out template name) for one of the app's stacks on a stage. */
export function stackId(stage: string, part: string): string {
  return `McpKit-${stage}-${part}`;
}

export function buildKitApp(app: App): KitStacks {
  const context = new Context(app);
  const stage = context.string('stage') ?? 'dev';
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(stage) || stage.length > 20) {
    throw new Error(`context "stage": "${stage}" must be lowercase letters, digits and single hyphens, at most 20 characters.`);
  }
  const domainName = context.string('domainName');
  const certificateArn = context.string('certificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('context "domainName" and "certificateArn" go together: set both (the certificate in us-east-1), or neither.');
  }
  const production = context.flag('production');
  const local = stage === 'local';
  const auth = authFromContext(context, local);
  if (local && usesOAuth(auth)) {
    throw new Error(
      `context "auth" is "${auth.mode}", which needs each server's public URL; the local stage (SAM, LocalStack) cannot derive it. Use auth none or apikey there.`,
    );
  }
  const cloudFront = context.flag('cloudFront') ?? true;
  // Behind CloudFront, authenticating servers get a Lambda@Edge function, which needs a region.
  const env = deployEnvironment(context, cloudFront && auth.mode !== 'none');
  const rateLimit = context.flag('rateLimit');
  const originSecretVersion = context.string('originSecretVersion');
  // Off by default: an account whose Lambda quota is still the new-account 10 cannot reserve.
  const reserved = context.string('reservedConcurrency');
  const reservedConcurrency = reserved === undefined ? undefined : Number(reserved);

  const dataPlane = new DataPlaneStack(app, stackId(stage, 'DataPlane'), {
    env,
    description: `MCP kit data plane (${stage}): DynamoDB table, S3 artifacts, secrets`,
    stage,
    retainData: production,
    alarmEmail: context.string('alarmEmail'),
    apiGatewayLogging: context.flag('apiGatewayLogging') ?? false,
    restoredTableName: context.string('restoredTableName'),
  });

  // What every endpoint of the app, each server and the gateway, is deployed with.
  const endpoint = {
    stage,
    production,
    auth,
    cloudFront,
    webAclArn: context.string('webAclArn'),
    bundleAwsSdk: context.flag('bundleAwsSdk'),
    tracing: context.flag('tracing'),
    // Unset, the kit turns the limit on when the secret holds Upstash credentials.
    rateLimit: rateLimit === undefined ? undefined : { enabled: rateLimit },
    originSecretVersion,
    reservedConcurrency,
    environment: local ? Object.fromEntries(LOCAL_OVERRIDABLE.map((name) => [name, ''])) : undefined,
  };

  const servers = SERVERS.map(
    ({ id, serverName, entry }) =>
      new McpServerStack(app, stackId(stage, id), {
        env,
        description: `MCP server ${serverName} (${stage})`,
        dataPlaneStack: dataPlane,
        server: {
          serverName,
          entry,
          ...endpoint,
          // Off by default: tasks and a load balancer cost money every hour (docs/deploy.md, "Containers").
          containers: context.flag('containers') ? {} : undefined,
        },
        domain: domainName && certificateArn ? { domainNames: [domainName], certificateArn } : undefined,
      }),
  );

  const gateway = gatewayWanted(context, auth)
    ? new McpGatewayStack(app, stackId(stage, 'Gateway'), {
        env,
        description: `MCP gateway (${stage}) in front of ${SERVERS.map((s) => s.serverName).join(' and ')}`,
        dataPlaneStack: dataPlane,
        smokeTool: `${SERVERS[0].serverName}__echo`,
        gateway: {
          ...endpoint,
          // On behalf of each caller: the servers trust the gateway by the data plane's secret.
          upstreams: servers.map((server, i) => ({ name: SERVERS[i]!.serverName, endpoint: server.endpoint })),
        },
      })
    : undefined;

  const edgeFirewall = context.flag('edgeFirewall')
    ? new EdgeFirewallStack(app, stackId(stage, 'EdgeFirewall'), { env, description: `MCP kit CloudFront web ACL (${stage})` })
    : undefined;

  const repository = context.string('githubRepository');
  const pipeline = repository
    ? new PipelineRoleStack(app, stackId(stage, 'Pipeline'), {
        env,
        description: `MCP kit (${stage}): the role GitHub Actions in ${repository} deploys with`,
        stage,
        repository,
        branch: context.string('githubBranch'),
        environment: context.string('githubEnvironment'),
        oidcProviderArn: context.string('githubOidcProviderArn'),
      })
    : undefined;

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stage, dataPlane, servers, gateway, edgeFirewall, pipeline };
}

/**
 * The example gateway is deployed when callers can use API keys (its smoke check uses one) or no
 * credentials: `-c gateway=false` leaves it out, and OAuth-only modes leave it out unless forced.
 */
function gatewayWanted(context: Context, auth: McpAuth): boolean {
  const wanted = context.flag('gateway');
  const canAuthenticate = auth.mode === 'none' || auth.mode.endsWith('apikey');
  if (wanted === true && !canAuthenticate) {
    throw new Error(
      `context "gateway" is true, but auth "${auth.mode}" takes no API keys, which the example gateway's callers and its smoke check use; use "${auth.mode},apikey", or configure McpGateway in your own app.`,
    );
  }
  return wanted ?? canAuthenticate;
}

/**
 * The account and region to deploy to: `-c region=…`, else the region the CDK CLI resolved from
 * AWS_REGION or the profile (CDK_DEFAULT_REGION), with the CLI's account. Without either, the
 * stacks stay environment-agnostic, unless a Lambda@Edge function needs the region.
 */
function deployEnvironment(context: Context, needsRegion: boolean): Environment | undefined {
  const region = context.string('region') ?? process.env.CDK_DEFAULT_REGION;
  if (region === undefined) {
    if (!needsRegion) return undefined;
    throw new Error(
      'No AWS region to deploy to: with auth other than "none" behind CloudFront, each server gets a Lambda@Edge function ' +
        '(restoring WWW-Authenticate), which CDK deploys through us-east-1 only from stacks with a known region. Set AWS_REGION ' +
        'or a region in your AWS profile (the CDK CLI passes it on as CDK_DEFAULT_REGION), or pass -c region=<region>.',
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
    throw new Error(`region "${region}" (-c region or CDK_DEFAULT_REGION) is not an AWS region name such as eu-west-1.`);
  return { account: process.env.CDK_DEFAULT_ACCOUNT, region };
}

/**
 * `auth` and the settings of its mode: `allowUnauthenticated` for `none`; `oauthIssuer`
 * (required), `oauthJwksUrl`, `oauthAudience`, `oauthScopes` for `oauth`; `cognitoCallbackUrls`
 * for `cognito` (default: the MCP Inspector's). Every server gets the same. The default is
 * `apikey`, which needs no issuer, so a plain deploy is never open; the `local` stage, meant for
 * SAM and LocalStack on the developer's machine, defaults to `none` as the construct allows there.
 */
function authFromContext(context: Context, local: boolean): McpAuth {
  const mode = context.string('auth') ?? (local ? 'none' : 'apikey');
  if (!(AUTH_MODES as readonly string[]).includes(mode)) {
    throw new Error(`context "auth" must be one of ${AUTH_MODES.join(', ')}; got "${mode}".`);
  }
  switch (mode as McpAuthMode) {
    case 'none':
      return { mode: 'none', allowUnauthenticated: context.flag('allowUnauthenticated') ?? false };
    case 'apikey':
      return { mode: 'apikey' };
    case 'oauth':
    case 'oauth,apikey': {
      const issuer = context.string('oauthIssuer');
      if (issuer === undefined)
        throw new Error(`context "auth" is "${mode}": set "oauthIssuer" to the authorization server's issuer URL (-c oauthIssuer=https://…).`);
      return {
        mode: mode as 'oauth' | 'oauth,apikey',
        issuer,
        jwksUrl: context.string('oauthJwksUrl'),
        audience: context.list('oauthAudience'),
        scopes: context.list('oauthScopes'),
      };
    }
    case 'cognito':
    case 'cognito,apikey':
      return { mode: mode as 'cognito' | 'cognito,apikey', callbackUrls: context.list('cognitoCallbackUrls') ?? INSPECTOR_CALLBACK_URLS };
  }
}

/** CDK context values arrive as JSON from cdk.json and as strings from `-c key=value`. */
class Context {
  constructor(private readonly app: App) {}

  string(key: string): string | undefined {
    const value: unknown = this.app.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new Error(`context "${key}" must be a string, got ${JSON.stringify(value)}.`);
    return value;
  }

  /** A JSON array of strings, or a comma-separated string. */
  list(key: string): string[] | undefined {
    const value: unknown = this.app.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
    if (typeof value !== 'string') throw new Error(`context "${key}" must be a comma-separated string or a list of strings, got ${JSON.stringify(value)}.`);
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  }

  flag(key: string): boolean | undefined {
    const value: unknown = this.app.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new Error(`context "${key}" must be true or false, got ${JSON.stringify(value)}.`);
  }
}
