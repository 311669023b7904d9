// Where a task's worker runs. On Lambda: an asynchronous invoke of this same function, so the
// task gets an invocation (and a 15-minute budget) of its own and nothing runs in the frozen
// remains of the request that created it; Lambda retries a crashed run and reports one that
// never succeeds to the on-failure destination (the construct points it back at the function).
// The worker runs the version that created the task (`Qualifier`), not whichever one the alias
// points at by then: during a canary, or after a rollback, a task's code does not change under it.
// Anywhere else (`npm start`, tests): the same process, after the response.
import { DependencyUnavailableError, describeFailure, isDependencyError } from '../dependency.ts';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import type { TaskDispatcher } from './service.ts';

/** The event a worker invocation receives. */
export interface TaskEvent {
  mcpKitTask: { taskId: string; run: number };
}

/**
 * What Lambda hands the on-failure destination when a worker invocation never succeeded. When
 * handling such a record fails too, Lambda sends a record of that one: `requestPayload` is then
 * the earlier record.
 */
export interface TaskFailureRecord {
  requestContext: { condition: string; approximateInvokeCount?: number };
  requestPayload: TaskEvent | TaskFailureRecord;
  responsePayload?: { errorType?: string; errorMessage?: string };
}

export const isTaskEvent = (event: unknown): event is TaskEvent => typeof (event as TaskEvent)?.mcpKitTask?.taskId === 'string';
export const isTaskFailure = (event: unknown): event is TaskFailureRecord =>
  typeof (event as TaskFailureRecord)?.requestContext?.condition === 'string' &&
  (isTaskEvent((event as TaskFailureRecord).requestPayload) || isTaskFailure((event as TaskFailureRecord).requestPayload));

/** The task a failure record is about, and whether the record reports a failed failure record. */
export function failedTask(record: TaskFailureRecord): { taskId: string; nested: boolean } {
  let payload = record.requestPayload;
  let nested = false;
  while (!isTaskEvent(payload)) {
    payload = payload.requestPayload;
    nested = true;
  }
  return { taskId: payload.mcpKitTask.taskId, nested };
}

export function inlineDispatcher(run: (taskId: string, run: number) => Promise<void>, pending: PendingWork, log: KitLogger): TaskDispatcher {
  return {
    async dispatch(taskId, n) {
      const running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => run(taskId, n));
      // A run that cannot even record its failure (the table is down) is logged; the task then
      // reads as failed once it goes stale.
      pending.track(
        running.catch((error: unknown) =>
          log.error('task run failed', { taskId, run: n, error: describeFailure(error), ...(isDependencyError(error) && { detail: error.detail }) }),
        ),
      );
    },
  };
}

export interface LambdaDispatcherOptions {
  functionName: string;
  /** `AWS_LAMBDA_FUNCTION_VERSION`: the published version running this code (or `$LATEST`). @default - unqualified */
  version?: string;
  region: string;
  /** `AWS_ENDPOINT_URL_LAMBDA`: the local model's Invoke API, or LocalStack. */
  endpoint?: string;
}

export function lambdaDispatcher(options: LambdaDispatcherOptions): TaskDispatcher {
  type Sdk = typeof import('@aws-sdk/client-lambda');
  let client: Promise<{ sdk: Sdk; lambda: InstanceType<Sdk['LambdaClient']> }> | undefined;
  const open = () =>
    (client ??= import('@aws-sdk/client-lambda').then((sdk) => ({
      sdk,
      lambda: new sdk.LambdaClient({ region: options.region, ...(options.endpoint && { endpoint: options.endpoint }), maxAttempts: 3 }),
    })));
  return {
    async dispatch(taskId, run) {
      const { sdk, lambda } = await open();
      const event: TaskEvent = { mcpKitTask: { taskId, run } };
      try {
        const invoke = new sdk.InvokeCommand({
          FunctionName: options.functionName,
          ...(options.version && { Qualifier: options.version }),
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        });
        await lambda.send(invoke, { abortSignal: AbortSignal.timeout(5000) });
      } catch (error) {
        throw new DependencyUnavailableError('Lambda', `could not start the task's worker (${describeFailure(error)})`, { cause: error });
      }
    },
  };
}
