// Container task workers: the loop a long-lived process (a container) runs beside its HTTP
// server. It polls the queue (queue.ts) for runs of tools this process has (a run of a tool it
// lacks, queued by another version during a canary, is left for a container that has it; a run
// queued by another version of a tool it has is run, the mismatch logged), takes up to
// `concurrency` runs under leases, renews each lease while its run goes on, and removes the run
// from the queue when it ends. A run whose lease is lost (renewal refused, or the table unreachable
// until the lease ran out) is abandoned unrecorded: another worker has restarted it or will. A run
// whose lease lapsed `maxAttempts` times fails (dead letter; a run given back at stop is not counted). Stopping takes no new runs, lets
// running ones finish up to `drainMs`, then stops them (their last checkpoint is written) and gives
// their leases back so another container restarts them at once. `onBusy` hears when the process
// starts and stops holding runs (the container adapter protects its ECS task from scale-in then);
// after `busyLimitMs` busy it takes no new run until it has been idle `restMs`, so that protection ends.
// Workers announce the tools they run (queue.ts); a run of a tool no running worker announces,
// left unclaimed for `failUnservedAfterMs`, is failed by a worker that reads it, saying so.
import { describeFailure } from '../dependency.ts';
import type { KitLogger } from '../log.ts';
import { claimableSince, type Lease, type QueuedRun, type TaskQueue } from './queue.ts';
import type { TaskService } from './service.ts';

export interface TaskWorkerOptions {
  /** Runs this process holds at once. @default 4 */
  concurrency?: number;
  /** How often the queue is read while there is room for a run. @default 2000 */
  pollMs?: number;
  /** How long `stop()` lets running runs finish before giving their leases back. @default 10000 */
  drainMs?: number;
  /** Told what each poll read, full or not (backlog.ts reports it as metrics). @default - nothing */
  onPoll?: (waiting: readonly QueuedRun[]) => void;
  /** Told `true` when the first run is taken, `false` when the last one ends; must not throw. */
  onBusy?: (busy: boolean) => void;
  /**
   * After holding runs this long without a break, take no new run until idle, then stay idle
   * `restMs` more: with a steady backlog the process would otherwise never go idle, and its ECS
   * task's scale-in protection (onBusy) would hold a deploy off for good. @default no bound
   */
  busyLimitMs?: number;
  /** How long a worker that reached `busyLimitMs` stays idle once its runs end. @default 0 */
  restMs?: number;
  /**
   * How long a run of a tool no running worker has may wait unclaimed before it fails. Generous:
   * during a deploy or canary the containers of the version that has the tool may still be
   * starting. @default UNSERVED_WAIT_MS (15 minutes), or 10 leases when that is longer
   */
  failUnservedAfterMs?: number;
}

/** How long a run no running container can take waits, at least, before it fails (a container deploy's start and health checks fit well inside). */
export const UNSERVED_WAIT_MS = 15 * 60_000;

/** What the workers run on: the task service, its queue, and the container tools of this server. */
export interface TaskWorkerParts {
  tasks: TaskService;
  queue: TaskQueue;
  maxAttempts: number;
  /** The tools declared `runtime: 'container'` in this process's server. */
  tools: ReadonlySet<string>;
  log: KitLogger;
}

export interface TaskWorkers {
  /** Runs in progress here. */
  readonly running: number;
  /** Takes no new run; lets running ones finish up to `drainMs`, then releases the rest to other workers. */
  stop(): Promise<void>;
}

interface Held {
  lease: Lease;
  abandon: AbortController;
  done: Promise<void>;
}

const sleep = (ms: number, wake: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export function startTaskWorkers({ tasks, queue, maxAttempts, tools, log }: TaskWorkerParts, options: TaskWorkerOptions = {}): TaskWorkers {
  const concurrency = options.concurrency ?? 4;
  const pollMs = options.pollMs ?? 2000;
  const drainMs = options.drainMs ?? 10_000;
  const owner = `worker-${crypto.randomUUID()}`;
  const held = new Map<string, Held>();
  const stopping = new AbortController();
  let stopped: Promise<void> | undefined;
  let wake = new AbortController();
  const nudge = () => wake.abort();

  const unserved = unservedRuns({ tasks, queue, tools, log }, owner, options.failUnservedAfterMs ?? Math.max(UNSERVED_WAIT_MS, 10 * queue.leaseMs));
  const takes = runnableHere(tools, queue.version, log, unserved.lacking);
  const gate = claimGate(options.busyLimitMs, options.restMs ?? 0, log);

  async function fill() {
    await unserved.announce();
    // At least one run is read even when every slot is held, so the backlog report (onPoll) sees
    // the oldest waiting run's age; `waiting` holds at most the room this poll had. With no one
    // to report to, a full worker reads nothing.
    const room = concurrency - held.size;
    if (room <= 0 && !options.onPoll) return;
    const waiting = await queue.waiting(Math.max(room, 1), takes);
    options.onPoll?.(waiting);
    await unserved.failOverdue();
    if (!gate.open()) return;
    for (const queued of waiting) {
      if (stopping.signal.aborted || held.size >= concurrency) return;
      const lease = await queue.claim(queued, owner);
      if (!lease) continue;
      noteVersion(queued, queue.version, log);
      start(lease);
    }
  }

  function start(lease: Lease) {
    const abandon = new AbortController();
    const done = attempt({ tasks, queue, maxAttempts, log }, owner, lease, abandon)
      .catch((error: unknown) => failedOutside(log, lease, error))
      .finally(() => {
        held.delete(lease.token);
        if (held.size === 0) {
          gate.busy(false);
          options.onBusy?.(false);
        }
        nudge();
      });
    held.set(lease.token, { lease, abandon, done });
    if (held.size > 1) return;
    gate.busy(true);
    options.onBusy?.(true);
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      // Read even when full: the backlog is measured then most of all.
      await fill().catch((error: unknown) => log.warn('task worker: reading the queue failed; retrying', { error: describeFailure(error) }));
      await sleep(pollMs, wake.signal);
      wake = new AbortController();
    }
  })();

  return {
    get running() {
      return held.size;
    },
    stop() {
      // Once: the container stops claiming at SIGTERM, and kit.close() asks again later.
      stopped ??= (async () => {
        stopping.abort();
        nudge();
        await loop;
        await unserved.withdraw();
        await giveBack([...held.values()], queue, drainMs, log);
      })();
      return stopped;
    },
  };
}

/**
 * Whether the workers may take new runs: once busy for `limitMs` without a break (an idle spell
 * shorter than `restMs` is none, as it does not end the protection) they take none until idle,
 * then rest `restMs` (their ECS task's protection clears meanwhile). Always open without `limitMs`.
 */
function claimGate(limitMs: number | undefined, restMs: number, log: KitLogger) {
  let busySince: number | undefined;
  let idleSince: number | undefined;
  let tired = false;
  let restUntil = 0;
  return {
    busy(busy: boolean) {
      const now = Date.now();
      if (!busy) {
        idleSince = now;
        if (tired) [tired, restUntil, busySince] = [false, now + restMs, undefined];
        return;
      }
      if (busySince === undefined || (idleSince !== undefined && now - idleSince >= restMs)) busySince = now;
      idleSince = undefined;
    },
    open(now = Date.now()) {
      if (!tired && limitMs !== undefined && busySince !== undefined && now - busySince >= limitMs) {
        tired = true;
        log.info('task worker: busy for the bound; taking no new run until idle, so scale-in protection can end', { busyMs: now - busySince, restMs });
      }
      return !tired && now >= restUntil;
    },
  };
}

/** A run's failure outside its tool (the table, say): logged; the lease lapses and another worker restarts it. */
function failedOutside(log: KitLogger, lease: Lease, error: unknown) {
  log.error('task worker: a run failed outside its tool', { taskId: lease.taskId, run: lease.run, attempt: lease.attempt, error: describeFailure(error) });
}

/** One attempt at a leased run: dead-lettered past maxAttempts lost, else run under a heartbeat, and removed from the queue when it ended. */
async function attempt(parts: Pick<TaskWorkerParts, 'tasks' | 'queue' | 'maxAttempts' | 'log'>, owner: string, lease: Lease, abandon: AbortController) {
  const { tasks, queue, maxAttempts, log } = parts;
  if (lease.lost >= maxAttempts) {
    await tasks.deadLetter(lease.taskId, lease.lost);
    await queue.remove(lease);
    return;
  }
  const record = await tasks.startLeased(lease.taskId, lease.run, lease.attempt);
  if (!record) return void (await queue.remove(lease));
  log.info('task worker: run taken', { taskId: lease.taskId, run: lease.run, attempt: lease.attempt, owner });
  const beat = heartbeat(queue, lease, abandon, log, () => tasks.wanted(lease.taskId, lease.run));
  try {
    await tasks.execute(record, abandon.signal);
  } finally {
    beat.stop();
  }
  // A run given up because its task ended elsewhere leaves the queue now; one whose lease is in
  // doubt stays for another worker to restart (the remove is fenced by the lease token anyway).
  if (!abandon.signal.aborted || beat.ended) await queue.remove(lease);
}

/** A run queued by another version of a tool this process has is run, and the mismatch logged. */
function noteVersion(queued: QueuedRun, version: string, log: KitLogger) {
  if (queued.version !== undefined && queued.version !== version)
    log.warn('task worker: running a task queued by another version of the server', { taskId: queued.taskId, queuedBy: queued.version, version });
}

/** The most runs of tools this process lacks it remembers having logged. */
export const UNRUNNABLE_KEPT = 1000;

/**
 * Whether this process has a queued run's tool: one it lacks is logged once (while remembered), handed to `lacking`
 * (unservedRuns) and left to another container.
 */
export function runnableHere(tools: ReadonlySet<string>, version: string, log: KitLogger, lacking: (run: QueuedRun) => void) {
  const unrunnable = new Set<string>();
  return (queued: QueuedRun) => {
    if (queued.tool === undefined || tools.has(queued.tool)) return true;
    lacking(queued);
    // Bounded: past the cap the runs seen are forgotten (each is logged once more), not kept for the process's life.
    if (unrunnable.size >= UNRUNNABLE_KEPT) unrunnable.clear();
    if (!unrunnable.has(queued.sk) && unrunnable.add(queued.sk))
      log.warn('task worker: a queued run is left for another container: this one has no such tool', {
        taskId: queued.taskId,
        tool: queued.tool,
        queuedBy: queued.version,
        version,
      });
    return false;
  };
}

/**
 * Runs no running container can take. This worker announces its tools (renewed every lease,
 * lapsing after three), collects the runs a poll read of tools it lacks, and fails those left
 * unclaimed for `afterMs` whose tool no live announcement names, claiming each first so only one
 * worker fails it. The announcements are read at most once a lease, and only with such a run.
 */
function unservedRuns(parts: Pick<TaskWorkerParts, 'tasks' | 'queue' | 'tools' | 'log'>, owner: string, afterMs: number) {
  const { tasks, queue, tools, log } = parts;
  let announced = 0;
  let read: { at: number; tools: Set<string> } | undefined;
  let lacking: QueuedRun[] = [];
  const warn = (what: string) => (error: unknown) => log.warn(`task worker: ${what}`, { error: describeFailure(error) });
  return {
    lacking: (run: QueuedRun) => void lacking.push(run),
    async announce() {
      if (Date.now() - announced < queue.leaseMs) return;
      announced = Date.now();
      await queue.announce(owner, tools, announced + 3 * queue.leaseMs).catch(warn('announcing its tools failed'));
    },
    withdraw: () => queue.withdraw(owner).catch(warn('withdrawing its tools failed')),
    async failOverdue() {
      const now = Date.now();
      const overdue = lacking.filter((run) => now - claimableSince(run) >= afterMs);
      lacking = [];
      if (overdue.length === 0) return;
      if (!read || now - read.at >= queue.leaseMs) read = { at: now, tools: await queue.toolsRunning(now) };
      for (const run of overdue) {
        if (read.tools.has(run.tool!)) continue;
        const lease = await queue.claim(run, owner);
        if (!lease) continue;
        await tasks.failUnserved(run.taskId, run.tool!, now - claimableSince(run));
        await queue.remove(lease);
      }
    },
  };
}

/**
 * A stopping worker's runs: let finish for up to `drainMs`, then stopped (handlers see their signal
 * abort, and a stopped run writes its last checkpoint before its lease goes back; one that ignores
 * the signal is not waited for long) and their leases given back for another worker to restart.
 */
async function giveBack(runs: Held[], queue: TaskQueue, drainMs: number, log: KitLogger) {
  const finished = Promise.all(runs.map((r) => r.done)).then(() => true);
  if (await Promise.race([finished, new Promise<false>((resolve) => setTimeout(resolve, drainMs, false))])) return;
  for (const { abandon } of runs) abandon.abort(new Error('the worker is stopping; another worker restarts the task'));
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000))]);
  await Promise.all(
    runs.map(({ lease }) =>
      queue
        .release(lease)
        .catch((error: unknown) =>
          log.warn('task worker: could not release a lease; it lapses instead', { taskId: lease.taskId, error: describeFailure(error) }),
        ),
    ),
  );
}

/**
 * Renews a lease every third of its length. A refused renewal (the lease was taken) abandons the
 * run at once; renewals that fail (the table unreachable) abandon it shortly before the lease
 * would lapse, so it never runs here while another worker runs it. Each renewal also checks that
 * the task still wants the run: a cancel whose relayed message was lost (delivery is at most
 * once) still stops an hours-long run within a renewal.
 */
function heartbeat(queue: TaskQueue, lease: Lease, abandon: AbortController, log: KitLogger, wanted: () => Promise<boolean>) {
  const lost = (why: string) => {
    if (abandon.signal.aborted) return;
    log.warn('task worker: the run is abandoned here', { taskId: lease.taskId, run: lease.run, attempt: lease.attempt, why });
    abandon.abort(new Error(`the worker gave up the run (${why})`));
  };
  let ended = false;
  const margin = Math.min(1000, queue.leaseMs / 4);
  const every = Math.max(100, Math.floor(queue.leaseMs / 3));
  const renew = async () => {
    try {
      if (!(await queue.renew(lease))) lost('its lease was taken by another worker');
      else if (!(await wanted())) {
        ended = true;
        lost('the task ended elsewhere: cancelled or finished');
      }
    } catch (error) {
      if (Date.now() >= lease.until - margin) lost(describeFailure(error));
    }
  };
  const timer = setInterval(() => void renew(), every);
  // The last renewal may have failed with no tick left before the lease lapses.
  const deadline = setInterval(() => Date.now() >= lease.until - margin && lost('no renewal went through'), Math.max(50, Math.floor(margin / 2)));
  return {
    /** Whether the run was given up because its task ended elsewhere (not because of its lease). */
    get ended() {
      return ended;
    },
    stop() {
      clearInterval(timer);
      clearInterval(deadline);
    },
  };
}
