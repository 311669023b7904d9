// A service the kit depends on that did not answer as it should: DynamoDB (unreachable, throttled,
// a missing table, refused credentials), S3, or Lambda when a task's worker cannot be started.
// Stores and the task dispatcher throw it. Outside a tool the HTTP layer answers 503 with
// Retry-After and names the dependency, so a client retries and an operator knows where to look;
// inside one it becomes the tool's error result, which names it too.
export type Dependency = 'DynamoDB' | 'S3' | 'Lambda';

export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(readonly dependency: Dependency, detail: string, options?: { cause?: unknown }) {
    super(`${dependency} is unavailable: ${detail}`, options);
  }
}

/** "Name: message", or the connection error's code (a connection failure's message may be empty). */
export function describeFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  const what = e?.message || e?.code || e?.cause?.code;
  return [e?.name && e.name !== 'Error' ? e.name : undefined, what].filter(Boolean).join(': ') || String(err);
}
