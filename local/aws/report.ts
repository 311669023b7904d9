// The accounting of one invocation, as Lambda writes it: the REPORT line (duration, billed
// duration, memory size, peak memory, init duration for a cold start, status on failure) and the
// record tests, benchmarks and the cost meter read. Both are made from the same measured numbers;
// nothing is read back out of the line.
import { readFileSync } from 'node:fs';

/** How the function was invoked: synchronously (API Gateway) or as an asynchronous event. */
export type InvocationType = 'RequestResponse' | 'Event';

export interface InvocationRecord {
  id: string;
  type: InvocationType;
  environment: number;
  /** Peak resident memory of the environment so far, as the REPORT line gives it. */
  maxMemoryMb?: number;
  /** Epoch ms. */
  startedAt: number;
  endedAt: number;
  durationMs: number;
  initDurationMs?: number;
  error?: string;
}

/** What an environment measured when one of its invocations ended. */
export interface Measured {
  id: string;
  type: InvocationType;
  environment: number;
  /** Epoch ms. */
  startedAt: number;
  endedAt: number;
  /** The function's memory size. */
  memoryMb: number;
  /** The environment process's peak resident memory, where this machine tells it. */
  maxMemoryMb?: number;
  /** Set on the first invocation of an environment: its init phase. */
  initDurationMs?: number;
  /** The error type that ended the invocation, if one did. */
  error?: string;
}

/** The REPORT line and the record of an ended invocation. */
export function account(measured: Measured): { report: string; record: InvocationRecord } {
  const { id, type, environment, startedAt, endedAt, memoryMb, maxMemoryMb, initDurationMs, error } = measured;
  const durationMs = endedAt - startedAt;
  const init = initDurationMs === undefined ? '' : `\tInit Duration: ${initDurationMs.toFixed(2)} ms`;
  const report =
    `REPORT RequestId: ${id}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(durationMs))} ms\t` +
    `Memory Size: ${memoryMb} MB\tMax Memory Used: ${maxMemoryMb ?? '?'} MB${init}${error ? `\tStatus: ${error}` : ''}`;
  return { report, record: { id, type, environment, maxMemoryMb, startedAt, endedAt, durationMs, initDurationMs, error } };
}

/** Peak resident memory of a process, as Lambda's REPORT line states it. */
export function maxMemoryMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
