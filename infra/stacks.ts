// The kit's stacks. They only compose constructs and publish outputs: one data-plane stack shared
// by any number of server stacks (one MCP server each), a gateway stack in front of servers, and
// an optional us-east-1 stack holding the CloudFront web ACL. A server that takes API keys
// outputs the commands for its first key.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { ApiGatewayAccountLogging } from './api-gateway-logging.ts';
import type { McpAuth } from './auth.ts';
import { McpDataPlane } from './data-plane.ts';
import { McpEdgeFirewall, type McpEdgeFirewallProps } from './edge-firewall.ts';
import { McpGateway, type McpGatewayProps } from './mcp-gateway.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from './mcp-server-endpoint.ts';

export interface DataPlaneStackProps extends StackProps {
  readonly stage: string;
  /** @default - true for the stages `prod` and `production` */
  readonly retainData?: boolean;
  /**
   * Email address subscribed to an alarm topic that every server's alarms notify.
   * @default - no topic
   */
  readonly alarmEmail?: string;
  /**
   * Set the account's API Gateway CloudWatch role, without which stages cannot write access logs.
   * It is one setting per account and region, so it is written only when asked: on the first
   * deploy into an account and region that has none.
   * @default false
   */
  readonly apiGatewayLogging?: boolean;
  /**
   * Serve from a table restored from a backup (see `McpDataPlaneProps.restoredTableName`).
   * @default - the table the data plane creates
   */
  readonly restoredTableName?: string;
}

export class DataPlaneStack extends Stack {
  readonly dataPlane: McpDataPlane;
  /** @default undefined without `alarmEmail` */
  readonly alarmTopic?: sns.Topic;

  constructor(scope: Construct, id: string, props: DataPlaneStackProps) {
    super(scope, id, props);
    if (props.alarmEmail) {
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: `MCP kit alarms (${props.stage})`, enforceSSL: true });
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'SNS topic for alarms' });
    }
    this.dataPlane = new McpDataPlane(this, 'DataPlane', {
      stage: props.stage,
      retainData: props.retainData,
      alarmTopic: this.alarmTopic,
      restoredTableName: props.restoredTableName,
    });
    if (props.apiGatewayLogging === true) new ApiGatewayAccountLogging(this, 'ApiGatewayLogging');
  }
}

export interface McpServerStackProps extends StackProps {
  readonly dataPlaneStack: DataPlaneStack;
  readonly server: Omit<McpServerEndpointProps, 'dataPlane' | 'domain' | 'apiGatewayLogging'>;
  /**
   * Custom domain, with the ARN of its us-east-1 ACM certificate.
   * @default - the distribution's cloudfront.net name
   */
  readonly domain?: { readonly domainNames: string[]; readonly certificateArn: string };
}

export class McpServerStack extends Stack {
  readonly endpoint: McpServerEndpoint;

  constructor(scope: Construct, id: string, props: McpServerStackProps) {
    super(scope, id, props);
    const { dataPlaneStack } = props;
    this.endpoint = new McpServerEndpoint(this, 'Server', {
      ...props.server,
      dataPlane: dataPlaneStack.dataPlane,
      // The data-plane stack owns the account's API Gateway logging setting (or leaves it to the account).
      apiGatewayLogging: false,
      domain: props.domain && {
        domainNames: props.domain.domainNames,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
      },
      alarms: { topic: dataPlaneStack.alarmTopic, ...props.server.alarms },
    });
    // The stage's access logs need the account's API Gateway role in place first.
    this.addStackDependency(dataPlaneStack);
    new CfnOutput(this, 'McpUrl', { value: this.endpoint.mcpUrl, description: 'Public MCP endpoint' });
    new CfnOutput(this, 'ApiUrl', {
      value: this.endpoint.apiUrl,
      description: "MCP endpoint on API Gateway, bypassing CloudFront: refuses requests without CloudFront's origin header",
    });
    new CfnOutput(this, 'FunctionLogGroup', {
      value: this.endpoint.fn.logGroup.logGroupName,
      description: "The function's log group (npm run verify --log-group reads its REPORT lines)",
    });
    if (this.endpoint.distribution) {
      new CfnOutput(this, 'DistributionDomainName', {
        value: this.endpoint.distribution.distributionDomainName,
        description: "CloudFront host name; point a custom domain's CNAME or alias here",
      });
    }
    rollbackOutput(this, this.endpoint);
    new CfnOutput(this, 'DashboardName', { value: this.endpoint.monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard' });
    new CfnOutput(this, 'AuditLogGroup', {
      value: this.endpoint.auditLog.logGroup.logGroupName,
      description: 'Audit log: security events (aws logs tail <this> --follow)',
    });
    if (acceptsApiKeys(props.server.auth)) this.apiKeyOutputs(dataPlaneStack);
    const auth = this.endpoint.authorizationServer;
    if (auth) {
      new CfnOutput(this, 'AuthorizationServer', { value: auth.issuer, description: 'OAuth issuer (Cognito user pool) that MCP clients discover' });
      new CfnOutput(this, 'UserPoolId', { value: auth.userPool.userPoolId, description: 'Cognito user pool: create users here' });
      new CfnOutput(this, 'ClientId', { value: auth.client.userPoolClientId, description: 'Pre-registered OAuth client ID to configure in MCP clients' });
      if (auth.domain)
        new CfnOutput(this, 'LoginDomain', { value: auth.domain.baseUrl(), description: 'Cognito managed login (authorize and token endpoints)' });
    }
  }

  /**
   * Commands to paste after the deploy: a key for the deployed table (the key goes into
   * MCP_API_KEY, never onto a command line), then the smoke check, which reads it from there.
   */
  private apiKeyOutputs(dataPlaneStack: DataPlaneStack): void {
    const table = dataPlaneStack.dataPlane.table.tableName;
    new CfnOutput(this, 'CreateApiKeyCommand', {
      value: `export MCP_API_KEY="$(npm run --silent keys -- create --table ${table} --region ${this.region} --principal me --name 'first key')"`,
      description:
        'Creates an API key in the deployed table with your AWS credentials and keeps it in MCP_API_KEY; it is shown only once: store it (echo "$MCP_API_KEY")',
    });
    new CfnOutput(this, 'SmokeCommand', {
      value: `npm run smoke -- --url ${this.endpoint.mcpUrl}`,
      description: 'Checks the endpoint in both protocol eras with the API key in MCP_API_KEY',
    });
    new CfnOutput(this, 'VerifyCommand', {
      value: `npm run verify -- --url ${this.endpoint.mcpUrl} --api-url ${this.endpoint.apiUrl} --log-group ${this.endpoint.fn.logGroup.logGroupName} --region ${this.region}`,
      description: 'Checks on the deployment what only AWS can show (npm run verify, docs/deploy.md); point it at the echo server, whose tools it uses',
    });
  }
}

/** The `npm run rollback` command filled in for an endpoint's alias and deployment group (none on the `local` stage). */
function rollbackOutput(stack: Stack, endpoint: McpServerEndpoint): void {
  if (!endpoint.canary) return;
  const { alias, deploymentGroup } = endpoint.canary;
  new CfnOutput(stack, 'RollbackCommand', {
    value:
      `npm run rollback -- --function ${endpoint.fn.functionName} --alias ${alias.aliasName} --application ${deploymentGroup.application.applicationName} ` +
      `--deployment-group ${deploymentGroup.deploymentGroupName} --region ${stack.region}`,
    description:
      'Puts the live alias back on the version before; during a release, on the old version, and prints how to stop the CodeDeploy deployment (docs/deploy.md)',
  });
}

/** The modes that accept API keys (`apikey`, `oauth,apikey`, `cognito,apikey`); an endpoint without `auth` is open. */
const acceptsApiKeys = (auth: McpAuth | undefined) => auth !== undefined && (auth.mode === 'apikey' || auth.mode.endsWith(',apikey'));

export interface McpGatewayStackProps extends StackProps {
  readonly dataPlaneStack: DataPlaneStack;
  readonly gateway: Omit<McpGatewayProps, 'dataPlane' | 'domain' | 'apiGatewayLogging'>;
  /**
   * A tool of an upstream that gives its `text` argument back (e.g. `notes__echo`), for the
   * `SmokeCommand` output.
   * @default - no SmokeCommand output
   */
  readonly smokeTool?: string;
}

/** An MCP gateway in front of servers of the app (and external URLs), on the shared data plane. */
export class McpGatewayStack extends Stack {
  readonly gateway: McpGateway;

  constructor(scope: Construct, id: string, props: McpGatewayStackProps) {
    super(scope, id, props);
    const { dataPlaneStack } = props;
    this.gateway = new McpGateway(this, 'Gateway', {
      ...props.gateway,
      dataPlane: dataPlaneStack.dataPlane,
      apiGatewayLogging: false,
      alarms: { topic: dataPlaneStack.alarmTopic, ...props.gateway.alarms },
    });
    this.addStackDependency(dataPlaneStack);
    new CfnOutput(this, 'McpUrl', { value: this.gateway.mcpUrl, description: 'Public MCP endpoint of the gateway' });
    new CfnOutput(this, 'DashboardName', { value: this.gateway.endpoint.monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard' });
    rollbackOutput(this, this.gateway.endpoint);
    new CfnOutput(this, 'AuditLogGroup', {
      value: this.gateway.endpoint.auditLog.logGroup.logGroupName,
      description: 'Audit log of the gateway: security events (aws logs tail <this> --follow)',
    });
    if (props.smokeTool) {
      new CfnOutput(this, 'SmokeCommand', {
        value: `npm run smoke -- --url ${this.gateway.mcpUrl} --tool ${props.smokeTool}`,
        description: 'Checks the gateway in both protocol eras through one upstream tool, with the API key in MCP_API_KEY',
      });
    }
    const keyed = props.gateway.upstreams.map((u) => u.apiKeyVariable).filter((v): v is string => v !== undefined);
    if (keyed.length > 0) {
      new CfnOutput(this, 'UpstreamCredentials', {
        value: `The data plane's secret (${dataPlaneStack.dataPlane.secret.secretName}) needs ${[...new Set(keyed)].join(', ')}: a key from npm run keys -- create --principal gateway`,
        description: 'What the gateway needs before it can call its upstreams (docs/deploy.md, "The gateway")',
      });
    }
  }
}

export interface EdgeFirewallStackProps extends StackProps, McpEdgeFirewallProps {}

export class EdgeFirewallStack extends Stack {
  readonly firewall: McpEdgeFirewall;

  constructor(scope: Construct, id: string, props: EdgeFirewallStackProps = {}) {
    super(scope, id, { ...props, env: { ...props.env, region: 'us-east-1' } });
    this.firewall = new McpEdgeFirewall(this, 'Firewall', props);
    new CfnOutput(this, 'WebAclArn', { value: this.firewall.webAclArn, description: 'Pass as -c webAclArn=<this> to the server stacks' });
  }
}
