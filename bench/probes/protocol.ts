// Messages between the runner and its probe processes (over the child's IPC channel).

/** Runner → warm probe: run this many timed calls and report them. */
export interface RoundRequest {
  calls: number;
}

export type ProbeMessage =
  | { kind: 'ready' }
  | { kind: 'samples'; micros: number[] }
  | { kind: 'cold'; importMs: number; totalMs: number }
  | { kind: 'externals'; ms: number }
  | { kind: 'failed'; error: string };
