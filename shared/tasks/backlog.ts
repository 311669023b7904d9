// The container task queue's backlog as metrics: what a worker's poll read (queue.ts `waiting`),
// as one EMF line at most every 15 s per process: `TaskQueueOldestAge`, how long the oldest waiting
// run has waited since it last became claimable (when it was queued, which its sort key starts
// with, or, for a run restarted after a lost or released lease, when that lease ended), and
// `TaskQueueWaiting`, how many waiting runs that poll read: at most the room the worker had, and at
// least one when any waits (a full worker reads one), so a floor on the backlog, not its size. The
// lines are written whether or not MCP_METRICS is on (kit.ts): the container tier's alarm and
// autoscaling read them (infra/endpoint/).
import { emitMetrics } from '../metrics.ts';
import { claimableSince, type QueuedRun } from './queue.ts';

/** The metrics' names (namespace McpKit, dimensions Server and Stage). */
export const BACKLOG_METRICS = { oldestAge: 'TaskQueueOldestAge', waiting: 'TaskQueueWaiting' } as const;
/** At most one line this often: enough points for one-minute alarms, few log lines. */
export const BACKLOG_EVERY_MS = 15_000;

/** A poll's report: call it with every read of the queue; it writes when BACKLOG_EVERY_MS has passed. */
export function backlogReporter(server: string, stage: string, write?: (line: string) => void): (waiting: readonly QueuedRun[], now?: number) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (waiting, now = Date.now()) => {
    if (now - last < BACKLOG_EVERY_MS) return;
    last = now;
    const oldest = Math.min(now, ...waiting.map(claimableSince).filter(Number.isFinite));
    emitMetrics(
      { Server: server, Stage: stage },
      {
        [BACKLOG_METRICS.oldestAge]: { value: now - oldest, unit: 'Milliseconds' },
        [BACKLOG_METRICS.waiting]: { value: waiting.length, unit: 'Count' },
      },
      write,
    );
  };
}
