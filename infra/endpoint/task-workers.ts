// What lets the server function run tasks in invocations of its own (shared/tasks/dispatch.ts):
// permission to invoke itself asynchronously, and the asynchronous-invoke settings of those worker
// events (two retries, an age limit, failures reported back to the function, which marks the task
// failed). Does not choose how long a worker runs: that is the function's timeout and
// MCP_TASK_TIMEOUT_MS (settings.ts).
//
// A worker runs the version that created its task (shared/tasks/dispatch.ts invokes with that
// version as `Qualifier`), so the policy covers the function's qualified ARNs, and the async-invoke
// settings belong to each published version: they are kept when the next deploy publishes another
// (as the versions are), so a task created before a release still retries and reports its failure
// to the code that created it.
//
// Why a policy of its own: the function depends on its role and everything under it (its default
// policy included), so a statement there naming the function's own ARN would close a cycle
// (function → role policy → function). A separate policy attached to the role depends on the
// function instead, and nothing the function needs depends on it.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { AWS_LIMITS, PATH_DEFAULTS } from '../deployed-path.ts';

/** The worker events' maximum age (PATH_DEFAULTS.taskEventMaxAgeSeconds, which the model keeps too). */
export const TASK_EVENT_MAX_AGE = Duration.seconds(PATH_DEFAULTS.taskEventMaxAgeSeconds);

export interface TaskWorkers {
  /** `lambda:InvokeFunction` on the function itself and its versions: the dispatch, and the on-failure destination. */
  readonly selfInvokePolicy: iam.Policy;
  /** Retries, event age and the on-failure destination of the asynchronous invocations of this deploy's version. */
  readonly asyncInvokeConfig: lambda.EventInvokeConfig;
}

/**
 * The function as a destination, without `LambdaDestination`'s grant, which would land in the
 * role's default policy and close the cycle; the self-invoke policy allows the delivery instead.
 */
class SelfDestination implements lambda.IDestination {
  constructor(private readonly fn: lambda.IFunction) {}

  bind(): lambda.DestinationConfig {
    return { destination: this.fn.functionArn };
  }
}

/**
 * `versioned`: the function runs as published versions behind an alias (infra/endpoint/canary.ts);
 * else as `$LATEST` (the `local` stage), whose settings are the unqualified function's.
 */
export function enableTaskWorkers(scope: Construct, fn: lambda.Function, versioned: boolean): TaskWorkers {
  const selfInvokePolicy = new iam.Policy(scope, 'TaskWorkerInvoke', {
    statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn, `${fn.functionArn}:*`] })],
    roles: [fn.role!],
  });
  const functionId = Stack.of(fn).getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  Validations.of(selfInvokePolicy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
    reason: "The function's own versions: each deploy publishes one, and a task's worker runs the version that created the task.",
  });
  const version = versioned ? fn.currentVersion : undefined;
  const asyncInvokeConfig = new lambda.EventInvokeConfig(scope, 'TaskWorkerEvents', {
    function: fn,
    ...(version && { qualifier: version.version }),
    // Lambda's default and its maximum: a run that failed before claiming its task gets two more.
    retryAttempts: AWS_LIMITS.lambdaAsyncRetries,
    maxEventAge: TASK_EVENT_MAX_AGE,
    onFailure: new SelfDestination(version ?? fn),
  });
  // The next deploy replaces this resource (its qualifier changes); the old version keeps its settings.
  if (version) asyncInvokeConfig.applyRemovalPolicy(RemovalPolicy.RETAIN);
  // Lambda refuses a destination the function's role may not invoke.
  asyncInvokeConfig.node.addDependency(selfInvokePolicy);
  return { selfInvokePolicy, asyncInvokeConfig };
}
