// The MCP server's Lambda function: its log group, a role that may write only there, and its code
// bundled by local esbuild (infra/bundle.ts) with the settings infra/function-bundle.ts owns (split into the handler
// and chunks loaded on demand, which NodejsFunction's single output file cannot carry). Gets its
// environment whole; what goes into it is decided in settings.ts. Created in the endpoint's own
// scope, under the construct ids of earlier releases, so updates replace nothing.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { bundleFunctionSync } from '../bundle.ts';
import { LAMBDA_NODE_MAJOR } from '../function-bundle.ts';

/** Where `entry` paths are resolved from: the repository root, two levels above this file. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerFunctionProps {
  readonly serverName: string;
  readonly stage: string;
  /** Entry file exporting `handler`, absolute or relative to the project root. */
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  /** @default - none: the account's unreserved pool */
  readonly reservedConcurrency?: number;
  readonly architecture: lambda.Architecture;
  readonly environment: Record<string, string>;
  readonly bundleAwsSdk: boolean;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Lambda active tracing (its daemon receives the kit's spans) and `MCP_TRACING=true`. */
  readonly tracing: boolean;
}

/** The Lambda runtime of the Node.js major the bundle targets, as this aws-cdk-lib names it. */
export function nodeRuntime(): lambda.Runtime {
  const name = `nodejs${LAMBDA_NODE_MAJOR}.x`;
  const runtime = lambda.Runtime.ALL.find((candidate) => candidate.name === name && !candidate.isVariable);
  if (!runtime) throw new Error(`This aws-cdk-lib does not know the Lambda runtime ${name} (LAMBDA_NODE_MAJOR); upgrade aws-cdk-lib.`);
  return runtime;
}

/**
 * The function's code: the entry bundled on this machine (esbuild is a dependency of the project;
 * no Docker), identified by the bundle's own hash so an unchanged bundle deploys nothing.
 */
function bundledCode(entry: string, bundleAwsSdk: boolean): lambda.Code {
  return lambda.Code.fromAsset(dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type, never pulled: local bundling always succeeds or throws.
      image: DockerImage.fromRegistry('unused-local-bundling'),
      local: {
        tryBundle(outputDir) {
          bundleFunctionSync({ entry, outdir: outputDir, options: { excludeAwsSdk: !bundleAwsSdk }, workingDir: PROJECT_ROOT });
          return true;
        },
      },
    },
  });
}

export function createServerFunction(scope: Construct, props: ServerFunctionProps): lambda.Function {
  const logGroup = new logs.LogGroup(scope, 'FunctionLogs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
  // A role of our own instead of AWSLambdaBasicExecutionRole: it may write to this log group only.
  const role = new iam.Role(scope, 'FunctionRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `MCP server ${props.serverName} (${props.stage})`,
  });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));

  const fn = new lambda.Function(scope, 'Function', {
    description: `MCP server ${props.serverName} (${props.stage})`,
    // The runtime ships AWS SDK v3; bundling it pins the version the kit was tested with instead.
    code: bundledCode(resolve(PROJECT_ROOT, props.entry), props.bundleAwsSdk),
    handler: 'index.handler',
    runtime: nodeRuntime(),
    architecture: props.architecture,
    memorySize: props.memorySizeMb,
    ...(props.reservedConcurrency !== undefined && { reservedConcurrentExecutions: props.reservedConcurrency }),
    timeout: Duration.seconds(props.timeoutSeconds),
    role,
    logGroup,
    environment: { ...props.environment, ...(props.tracing && { MCP_TRACING: 'true' }) },
    // ACTIVE also grants the role xray:PutTraceSegments and xray:PutTelemetryRecords.
    tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
  });
  if (props.tracing) {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords (Lambda active tracing) take no resource but *.',
    });
  }
  return fn;
}
