// CloudFront in front of the REST API: the behaviors of infra/deployed-path.ts, nothing cached or
// compressed, no error caching, the secret origin header the function checks, and (when callers
// authenticate) a Lambda@Edge origin-response function that restores the WWW-Authenticate header
// API Gateway renames. With containers, the viewer-request function route-streams.js on the MCP
// route and the container origin it selects (addContainerOrigin). Knows nothing of the function
// behind the API. Created in the endpoint's own scope, under the ids of earlier releases.
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import { CLOUDFRONT_ERROR_CACHING, DISTRIBUTION_BEHAVIORS, PATH_DEFAULTS } from '../deployed-path.ts';

/** Lambda@Edge code: the edge folder, of which the function ships its handler alone (route-streams.js is a CloudFront Function). */
const EDGE_CODE = fileURLToPath(new URL('../edge/', import.meta.url));
const EDGE_HANDLER_FILE = 'restore-www-authenticate.mjs';
/** With containers: the origin-response function that also answers 503 + Retry-After for a stream no task could take; it imports the one above. */
const STREAMS_EDGE_HANDLER_FILE = 'stream-unavailable.mjs';
/** Id of the stack-wide restore function, shared by every endpoint in the stack. */
const RESTORE_CHALLENGES_ID = 'McpRestoreWwwAuthenticate';
/**
 * The newest Node.js runtime "Restrictions on Lambda@Edge" lists as supported (Node.js 22, checked
 * Dec 2026; the page does not list 24), pinned rather than following the function's own runtime.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html#lambda-at-edge-restrictions-runtime
 */
export const EDGE_RUNTIME = lambda.Runtime.NODEJS_22_X;

export interface EndpointDistributionProps {
  readonly serverName: string;
  readonly stage: string;
  readonly api: apigateway.RestApi;
  readonly originReadTimeoutSeconds: number;
  /** Callers authenticate, so 401/403 challenges must reach them intact. */
  readonly restoreChallenges: boolean;
  readonly domain?: { readonly domainNames: string[]; readonly certificate: acm.ICertificate };
  readonly webAclArn?: string;
  readonly priceClass: cloudfront.PriceClass;
  /**
   * The origin header's value (a CloudFormation dynamic reference to the origin secret, resolved
   * when the distribution is created or updated). @default - no origin header
   */
  readonly originSecret?: string;
  /** Written into the distribution's comment, so changing it makes CloudFormation read the origin secret again. @default - none */
  readonly originSecretVersion?: string;
  /**
   * Notification streams go to the container origin (id `containers`, added by addContainerOrigin),
   * chosen per request by the viewer-request function route-streams.js on the MCP route.
   * @default false
   */
  readonly routeStreams?: boolean;
}

/** Origin id of the API (the function); route-streams.js leaves every request but streams on it. */
export const FUNCTION_ORIGIN_ID = 'function';
/** The CloudFront Function (runtime 2.0) that picks the container origin for notification streams. */
const ROUTE_STREAMS_FILE = fileURLToPath(new URL('../edge/route-streams.js', import.meta.url));

export function createDistribution(scope: Construct, props: EndpointDistributionProps): cloudfront.Distribution {
  if (props.domain && props.domain.domainNames.length === 0) {
    throw new Error(`McpServerEndpoint "${props.serverName}": domain.domainNames is empty.`);
  }
  // The API's host and stage path spelled out rather than RestApiOrigin, which reads them off the
  // Stage: the distribution then depends on the RestApi alone, and the function can take the
  // distribution's domain as MCP_PUBLIC_URL without a dependency cycle (function → distribution
  // → RestApi; methods → function; deployment → methods; stage → deployment).
  const stack = Stack.of(scope);
  const origin = new origins.HttpOrigin(`${props.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
    originId: FUNCTION_ORIGIN_ID,
    originPath: `/${props.stage}`,
    protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    readTimeout: Duration.seconds(props.originReadTimeoutSeconds),
    keepaliveTimeout: Duration.seconds(60),
    // Only CloudFront sends it, so the function can refuse requests to the raw API URL.
    // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html
    ...(props.originSecret !== undefined && { customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecret } }),
  });
  // With containers the origin-response function runs even without auth: it turns an ALB's bare
  // 502/503/504 for a stream into a JSON-RPC 503 with Retry-After (and restores challenges too).
  const edge = props.routeStreams ? 'streams' : props.restoreChallenges ? 'challenges' : undefined;
  const edgeLambdas = edge
    ? [{ functionVersion: originResponseFunction(scope, props.serverName, edge), eventType: cloudfront.LambdaEdgeEventType.ORIGIN_RESPONSE }]
    : undefined;
  const functionAssociations = props.routeStreams
    ? [{ function: routeStreamsFunction(scope, props), eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }]
    : undefined;
  const [defaultBehavior, additionalBehaviors] = behaviors(origin, edgeLambdas, functionAssociations);
  const distribution = new cloudfront.Distribution(scope, 'Distribution', {
    comment: `MCP server ${props.serverName} (${props.stage})${props.originSecretVersion ? `, origin secret ${props.originSecretVersion}` : ''}`,
    defaultBehavior,
    additionalBehaviors,
    // Every MCP answer is per caller: an error CloudFront kept would reach the next caller. Every
    // code a distribution can set (412 and 415 cannot; CloudFront caches them only with a max-age,
    // which the kit never sends). No response page, so the origin's body (a JSON-RPC error) passes.
    errorResponses: CLOUDFRONT_ERROR_CACHING.configurable.map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(PATH_DEFAULTS.errorCachingSeconds) })),
    domainNames: props.domain?.domainNames,
    certificate: props.domain?.certificate,
    // Only settable with a certificate of our own; the cloudfront.net default is fixed.
    minimumProtocolVersion: props.domain ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
    webAclId: props.webAclArn,
    priceClass: props.priceClass,
    httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    enableIpv6: true,
  });
  acknowledgeDistribution(distribution, props);
  return distribution;
}

function routeStreamsFunction(scope: Construct, props: EndpointDistributionProps): cloudfront.Function {
  return new cloudfront.Function(scope, 'RouteStreams', {
    comment: `MCP server ${props.serverName} (${props.stage}): notification streams to the containers`,
    code: cloudfront.FunctionCode.fromFile({ filePath: ROUTE_STREAMS_FILE }),
    runtime: cloudfront.FunctionRuntime.JS_2_0,
  });
}

/**
 * An origin no behavior targets, there only for `cf.selectRequestOriginById`, which needs the id
 * among the distribution's origins. aws-cdk-lib adds origins only through behaviors; its own
 * (private) addOrigin binds one as a behavior's would be, so it is called here, and the synth
 * tests fail if a later aws-cdk-lib drops it.
 */
export function addContainerOrigin(distribution: cloudfront.Distribution, origin: cloudfront.IOrigin): void {
  const internal = distribution as unknown as { addOrigin?: (origin: cloudfront.IOrigin) => string };
  if (typeof internal.addOrigin !== 'function') {
    throw new Error(
      "This aws-cdk-lib's Distribution has no addOrigin; the container origin cannot be added without a behavior. Pin aws-cdk-lib to a version the kit was tested with.",
    );
  }
  internal.addOrigin.call(distribution, origin);
}

/**
 * The default behavior (the MCP route, with the edge function) and the more specific ones. Nothing
 * the API answers may be cached or transformed: MCP responses are per-caller JSON or SSE streams,
 * and compression would buffer a stream.
 */
function behaviors(
  origin: cloudfront.IOrigin,
  edgeLambdas: cloudfront.EdgeLambda[] | undefined,
  functionAssociations: cloudfront.FunctionAssociation[] | undefined,
): [cloudfront.BehaviorOptions, Record<string, cloudfront.BehaviorOptions>] {
  const uncached = {
    origin,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    compress: false,
  };
  let defaultBehavior: cloudfront.BehaviorOptions | undefined;
  const additional: Record<string, cloudfront.BehaviorOptions> = {};
  for (const { pathPattern, methods } of DISTRIBUTION_BEHAVIORS) {
    const allowedMethods = allowedMethodsFor(methods);
    if (pathPattern === '*') defaultBehavior = { ...uncached, allowedMethods, edgeLambdas, functionAssociations };
    else additional[pathPattern] = { ...uncached, allowedMethods };
  }
  if (!defaultBehavior) throw new Error('DISTRIBUTION_BEHAVIORS has no "*" behavior for the MCP route.');
  return [defaultBehavior, additional];
}

/** CloudFront takes three method sets only; anything else in deployed-path.ts is a mistake there. */
function allowedMethodsFor(methods: readonly string[]): cloudfront.AllowedMethods {
  const sets = [cloudfront.AllowedMethods.ALLOW_GET_HEAD, cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS, cloudfront.AllowedMethods.ALLOW_ALL];
  const key = (list: readonly string[]) => [...list].sort().join(',');
  const match = sets.find((set) => key(set.methods) === key(methods));
  if (!match) throw new Error(`CloudFront cannot allow exactly ${methods.join(', ')}; use GET,HEAD / GET,HEAD,OPTIONS / all methods.`);
  return match;
}

/**
 * API Gateway REST renames a function's WWW-Authenticate to x-amzn-Remapped-WWW-Authenticate, and
 * CloudFront skips viewer-response functions on answers >= 400; origin-response triggers run on
 * every origin answer, errors included. One function per stack serves all its endpoints. Lambda@Edge
 * lives in us-east-1, so CDK puts it in a stack of its own there, which needs this stack's region.
 */
function originResponseFunction(scope: Construct, serverName: string, kind: 'challenges' | 'streams'): cloudfront.experimental.EdgeFunction {
  const stack = Stack.of(scope);
  const id = kind === 'streams' ? `${RESTORE_CHALLENGES_ID}Streams` : RESTORE_CHALLENGES_ID;
  const files = kind === 'streams' ? [STREAMS_EDGE_HANDLER_FILE, EDGE_HANDLER_FILE] : [EDGE_HANDLER_FILE];
  const existing = stack.node.tryFindChild(id);
  if (existing instanceof cloudfront.experimental.EdgeFunction) return existing;
  if (Token.isUnresolved(stack.region)) {
    throw new Error(
      `McpServerEndpoint "${serverName}": ${kind === 'streams' ? 'with containers' : 'callers authenticate, so'} CloudFront needs a Lambda@Edge function to restore ` +
        `WWW-Authenticate on 401/403${kind === 'streams' ? ' and answer for an absent container' : ''}, and CDK deploys it through us-east-1 only from a stack with a known region. Give stack ` +
        `"${stack.stackName}" an env, e.g. \`env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }\`, ` +
        'or set `cloudFront: false`.',
    );
  }
  const fn = new cloudfront.experimental.EdgeFunction(stack, id, {
    stackId: `${stack.stackName}-Edge`,
    description: `MCP: restore WWW-Authenticate renamed by API Gateway${kind === 'streams' ? ', and 503 + Retry-After for a stream no container took' : ''}, on every origin response`,
    runtime: EDGE_RUNTIME,
    handler: `${files[0]!.replace(/\.mjs$/, '')}.handler`,
    code: lambda.Code.fromAsset(EDGE_CODE, { exclude: ['*', ...files.map((f) => `!${f}`)] }),
    // Lambda@Edge runs x86_64 only, and header renaming needs no more than the smallest size.
    architecture: lambda.Architecture.X86_64,
    memorySize: 128,
    timeout: Duration.seconds(5),
    // CloudFront keeps replicas of a version for hours after it is replaced; deleting it before fails.
    currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
  });
  // Lambda@Edge logs to /aws/lambda/us-east-1.<name> in the region of each edge location that ran
  // it, created at run time; the group CDK makes in us-east-1 under the plain name is never written
  // and, retained, would outlive `cdk destroy`. So none is made.
  (fn.lambda as lambda.Function).node.tryRemoveChild('LogGroup');
  Validations.of(fn.lambda).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Lambda@Edge supports fewer runtimes than Lambda; this is the newest Node.js one its restrictions page lists (EDGE_RUNTIME).',
  });
  Validations.of(fn.lambda.role!).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      'Lambda@Edge writes its logs in the region of whichever edge location ran it, into log groups it names at run ' +
      "time (/aws/lambda/us-east-1.<name>); AWS's basic execution policy is the role for exactly that.",
  });
  return fn;
}

function acknowledgeDistribution(distribution: cloudfront.Distribution, props: EndpointDistributionProps): void {
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
        'A CLOUDFRONT-scoped web ACL must live in us-east-1, so it is not created beside the server but in a stack of ' +
        'its own and attached through `webAclArn` (see McpEdgeFirewall and docs/deploy.md). Stage throttling applies meanwhile.',
    });
  }
  if (!props.domain) {
    acknowledgements.push({
      id: 'AwsSolutions-CFR4',
      reason:
        'Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose TLS policy cannot be set; with a domain the policy is TLSv1.2_2021.',
    });
  }
  Validations.of(distribution).acknowledge(...acknowledgements);
}
