// Messages between the runner and its probe processes (over the child's IPC channel).

/** Runner → warm probe: run this many timed calls and report them. */
export interface RoundRequest {
  calls: number;
}

/** Runner → load probe: keep `concurrency` calls in flight against `url` for `seconds`. */
export interface LoadRequest {
  url: string;
  seconds: number;
  concurrency: number;
}

export type ProbeMessage =
  | { kind: 'ready' }
  /** One round: a time per call (to the handler's return, as billed; `respondedMicros` to the response's end, as the caller waits), and what the calls did besides (both counted over the round). */
  | { kind: 'samples'; micros: number[]; redisRequests: number; toolRuns: number; respondedMicros?: number[] }
  /** `stackMs`: formatting the stack of the first error thrown in the bundle's code, after the first call. */
  | { kind: 'cold'; importMs: number; totalMs: number; stackMs: number }
  /** The live heap a bundle and its first call left (a process of its own: collections change V8's flags). */
  | { kind: 'heap'; heapBytes: number }
  | { kind: 'externals'; ms: number }
  /** An HTTP server probe listening. */
  | { kind: 'listening'; url: string }
  /** A load probe's run: answers checked and counted over `seconds`. */
  | { kind: 'load'; requests: number; seconds: number }
  | { kind: 'failed'; error: string };
