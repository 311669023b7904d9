// The regional REST API in front of the function: its stage (throttling, JSON access logs,
// error-level execution logs), the account's logging role when asked, and the routes of
// infra/deployed-path.ts streamed from the function. Does no auth and no request checks: the
// function does both. Created in the endpoint's own scope, under the ids of earlier releases.
import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ApiGatewayAccountLogging } from '../api-gateway-logging.ts';
import { apiRoutes } from '../deployed-path.ts';

export interface EndpointApiProps {
  readonly serverName: string;
  readonly stage: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Set the account's API Gateway CloudWatch role here (one per stack), before the stage. */
  readonly setAccountLogging: boolean;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** X-Ray tracing on the stage: API Gateway continues or starts the trace and passes it on. */
  readonly tracing: boolean;
}

/** Id of the stack-wide account logging construct, shared by every endpoint in the stack. */
const ACCOUNT_LOGGING_ID = 'ApiGatewayAccountLogging';

export function createRestApi(scope: Construct, props: EndpointApiProps): apigateway.RestApi {
  const { stage, logRetention, removalPolicy } = props;
  const accessLogs = new logs.LogGroup(scope, 'AccessLogs', { retention: logRetention, removalPolicy });
  const api = new apigateway.RestApi(scope, 'Api', {
    restApiName: `mcp-${props.serverName}-${stage}`,
    description: `MCP server ${props.serverName} (${stage})`,
    endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
    cloudWatchRole: false,
    deployOptions: {
      stageName: stage,
      throttlingRateLimit: props.throttle.rateLimit,
      throttlingBurstLimit: props.throttle.burstLimit,
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: accessLogFormat(),
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      dataTraceEnabled: false,
      metricsEnabled: false,
      tracingEnabled: props.tracing,
    },
  });
  // RestApi publishes the stage root as an output; the stack publishes the MCP URLs instead.
  api.node.tryRemoveChild('Endpoint');
  // API Gateway creates the execution-log group on first write, without retention; creating
  // it first, under the name API Gateway uses, puts it under this stack's retention and removal.
  const executionLogs = new logs.LogGroup(scope, 'ExecutionLogs', {
    logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${stage}`,
    retention: logRetention,
    removalPolicy,
  });
  api.deploymentStage.node.addDependency(executionLogs);
  // A stage with logging is refused until the account has its CloudWatch role.
  if (props.setAccountLogging) api.deploymentStage.node.addDependency(accountLogging(Stack.of(scope)));
  acknowledgeOpenApi(api);
  return api;
}

/** Every route of the deployed path, each streaming from the function for up to its timeout. */
export function addRoutes(api: apigateway.RestApi, fn: lambda.IFunction, mcpPath: string, timeoutSeconds: number): void {
  const integration = new apigateway.LambdaIntegration(fn, {
    responseTransferMode: apigateway.ResponseTransferMode.STREAM,
    timeout: Duration.seconds(timeoutSeconds),
    allowTestInvoke: false,
  });
  for (const { resource, methods } of apiRoutes(mcpPath)) {
    const node = api.root.resourceForPath(resource);
    for (const method of methods) node.addMethod(method, integration);
  }
}

/** The URL of a path on the stage, spelled from the API id and the stage name, not the Stage resource. */
export function stageUrl(api: apigateway.RestApi, stage: string, path: string): string {
  const stack = Stack.of(api);
  return `https://${api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${stage}${path}`;
}

function accountLogging(stack: Stack): ApiGatewayAccountLogging {
  const existing = stack.node.tryFindChild(ACCOUNT_LOGGING_ID);
  return existing instanceof ApiGatewayAccountLogging ? existing : new ApiGatewayAccountLogging(stack, ACCOUNT_LOGGING_ID);
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
        "The kit verifies bearer tokens in the function, a Cognito pool's included (auth mode cognito); a gateway " +
        'Cognito authorizer would refuse API keys and answer 401 without the MCP challenge that points clients at discovery.',
    },
  );
}
