// A service the kit depends on that did not answer as it should: DynamoDB (unreachable, throttled,
// a missing table, refused credentials), S3, or Lambda when a task's worker cannot be started; or
// one that refused a call as malformed (an item or key over its limits). Stores and the task
// dispatcher throw these. Their message names only the dependency: what the service said is
// `detail`, for the log, never for a caller (it names tables, keys and limits). Where one reaches
// a caller (the HTTP layer, a tool's result, an SDK method) the caller gets `callerMessage`: the
// dependency, whether to retry, and the request id that finds the detail in the log.
export type Dependency = 'DynamoDB' | 'S3' | 'Lambda';

export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: Dependency,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
  }
}

/** The service refused the call itself (DynamoDB's ValidationException): a kit bug or an unbounded input, not an outage. */
export class DependencyRefusedError extends Error {
  override name = 'DependencyRefusedError';
  constructor(
    readonly dependency: Dependency,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} refused a request`, options);
  }
}

export type DependencyError = DependencyUnavailableError | DependencyRefusedError;

export const isDependencyError = (err: unknown): err is DependencyError => err instanceof DependencyUnavailableError || err instanceof DependencyRefusedError;

/** What a caller is told about a dependency's failure, without the service's own words. */
export function callerMessage(err: DependencyError, requestId: string): string {
  if (err instanceof DependencyUnavailableError) return `${err.message} (request id ${requestId}); retry shortly`;
  return `Internal error (request id ${requestId})`;
}

/** The log fields of a dependency's failure: everything the caller was not told. */
export const failureFields = (err: DependencyError, requestId: string) => ({ requestId, dependency: err.dependency, error: err.name, detail: err.detail });

/** "Name: message", or the connection error's code (a connection failure's message may be empty). */
export function describeFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  const what = e?.message || e?.code || e?.cause?.code;
  return [e?.name && e.name !== 'Error' ? e.name : undefined, what].filter(Boolean).join(': ') || String(err);
}
