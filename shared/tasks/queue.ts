// The queue of tasks that run on containers: one partition of the kit's table per stage and server
// (`TASKQ#<stage>#<server>`, one item per queued run, oldest first, naming its tool and the code
// version that queued it), read by the workers' poll a page at a time (consistent, `Limit`ed,
// filtered to runs no one holds). A worker takes a run by a conditional write that sets its lease
// (owner, token, expiry) and counts the attempt (attempt numbers are never reused: they fence a
// run's writes to its task, store.ts); it renews the lease while the run goes on and
// removes the item when the run ends. A lease left to expire (the container was replaced or
// crashed) lets another worker take the run again: the run restarts from the top. Runs queued
// before the stage joined the partition (`TASKQ#<server>`) are still read after it (one poll in
// thirty), so a deploy strands none. Each worker also announces the tools it runs
// (`TASKW#<stage>#<server>` / its id, lapsing unless renewed), so a run of a tool no running
// container has can be told from one that waits its turn. No new table, index or service: the
// same item operations the other stores use.
import type { Item, Table } from '../store/table.ts';

/** A queued run as the poll reads it. */
export interface QueuedRun {
  pk: string;
  sk: string;
  /** The tool it runs, and the server version that queued it (absent on runs queued before either was kept). */
  tool?: string;
  version?: string;
  taskId: string;
  run: number;
  /** Runs of it started so far. */
  attempts: number;
  /** Of those, how many were given back by a stopping worker (release): they do not count toward MCP_TASK_MAX_ATTEMPTS. */
  released: number;
  /**
   * Until when a worker holds it (ms), which is also when it became claimable again: its lease's
   * expiry, or when it was released. 0: never taken.
   */
  leaseUntil: number;
}

/** A worker's hold on a queued run. */
export interface Lease {
  readonly pk: string;
  readonly sk: string;
  readonly taskId: string;
  readonly run: number;
  /** This run's attempt, from 1; never reused, a released attempt's number included. */
  readonly attempt: number;
  /** Earlier attempts that ended without finishing or being released (their lease lapsed): what MCP_TASK_MAX_ATTEMPTS bounds. */
  readonly lost: number;
  /** Unique to this claim: a replayed or stale claim holds another. */
  readonly token: string;
  /** When the lease ends unless renewed (ms). */
  until: number;
}

/** Items a poll reads per page: its read units stay bounded whatever the backlog. */
const PAGE = 25;
/** The partition without the stage is read one poll in this many (once a minute at 2 s), not doubling every idle poll's cost. */
const UNSTAGED_EVERY = 30;

export interface TaskQueueOptions {
  server: string;
  stage: string;
  /** The server's version (its definition's), recorded on each run it queues. */
  version: string;
  leaseMs: number;
}

/** When a waiting run last became claimable: queued (its sort key starts with that time), or its last lease ended (expired or released). */
export function claimableSince(run: QueuedRun): number {
  return Math.max(Number.parseInt(run.sk, 10), run.leaseUntil);
}

export class TaskQueue {
  private readonly pk: string;
  /** Where workers announce the tools they run. */
  private readonly workersPk: string;
  /** Where runs were queued before the partition named the stage. */
  private readonly unstaged: string;
  readonly leaseMs: number;
  readonly version: string;
  private polls = 0;

  constructor(
    private readonly table: Table,
    options: TaskQueueOptions,
  ) {
    this.pk = `TASKQ#${options.stage}#${options.server}`;
    this.unstaged = `TASKQ#${options.server}`;
    this.workersPk = `TASKW#${options.stage}#${options.server}`;
    this.leaseMs = options.leaseMs;
    this.version = options.version;
  }

  /** Queues run `run` of a task of `tool`; the item goes when the task's record does. */
  async enqueue(taskId: string, run: number, expiresAtMs: number, tool: string): Promise<void> {
    await this.table.put({
      pk: { S: this.pk },
      sk: { S: `${String(Date.now()).padStart(15, '0')}#${taskId}#${run}` },
      taskId: { S: taskId },
      tool: { S: tool },
      version: { S: this.version },
      run: { N: String(run) },
      attempts: { N: '0' },
      leaseUntil: { N: '0' },
      expiresAt: { N: String(Math.ceil(expiresAtMs / 1000)) },
    });
  }

  /**
   * Up to `want` runs no worker holds (never taken, released, or whose lease expired) that `takes`
   * accepts, oldest first: page after page, since held or refused runs may fill the first pages.
   */
  async waiting(want: number, takes: (run: QueuedRun) => boolean = () => true, now = Date.now()): Promise<QueuedRun[]> {
    const found: QueuedRun[] = [];
    for (const pk of this.polls++ % UNSTAGED_EVERY === 0 ? [this.pk, this.unstaged] : [this.pk]) {
      let start: Item | undefined;
      do {
        const page = await this.table.queryPage(pk, { limit: PAGE, filter: 'leaseUntil < :now', values: { ':now': { N: String(now) } }, start });
        for (const run of page.items.map(fromItem)) if (run.leaseUntil < now && takes(run) && found.push(run) >= want) return found;
        start = page.next;
      } while (start);
    }
    return found;
  }

  /**
   * Takes a waiting run as `owner` and counts the attempt. Only one claim of what one poll read
   * can win: the write is conditional on the attempts it saw and on no live lease. Undefined when
   * another worker took it first.
   */
  async claim(queued: QueuedRun, owner: string): Promise<Lease | undefined> {
    const now = Date.now();
    const lease: Lease = {
      pk: queued.pk,
      sk: queued.sk,
      taskId: queued.taskId,
      run: queued.run,
      attempt: queued.attempts + 1,
      lost: queued.attempts - queued.released,
      token: crypto.randomUUID(),
      until: now + this.leaseMs,
    };
    const won = await this.table.update(
      queued.pk,
      queued.sk,
      'SET attempts = :next, leaseUntil = :until, leaseOwner = :owner, leaseToken = :token',
      'attribute_exists(pk) AND attempts = :seen AND leaseUntil < :now',
      {
        ':next': { N: String(lease.attempt) },
        ':seen': { N: String(queued.attempts) },
        ':until': { N: String(lease.until) },
        ':owner': { S: owner },
        ':token': { S: lease.token },
        ':now': { N: String(now) },
      },
    );
    return won ? lease : undefined;
  }

  /** Extends a lease still held; false when it was lost (expired and taken, or the run is gone). */
  async renew(lease: Lease): Promise<boolean> {
    const until = Date.now() + this.leaseMs;
    const held = await this.table.update(lease.pk, lease.sk, 'SET leaseUntil = :until', 'leaseToken = :token', {
      ':until': { N: String(until) },
      ':token': { S: lease.token },
    });
    if (held) lease.until = until;
    return held;
  }

  /**
   * Gives a run back at once (the worker is stopping): another worker restarts it as the next
   * attempt, but the release is counted apart and not toward MCP_TASK_MAX_ATTEMPTS. Its lease ends
   * now, so the backlog counts its wait from here (backlog.ts).
   */
  async release(lease: Lease): Promise<boolean> {
    return this.table.update(lease.pk, lease.sk, 'SET leaseUntil = :now REMOVE leaseToken ADD released :one', 'leaseToken = :token', {
      ':now': { N: String(Date.now()) },
      ':one': { N: '1' },
      ':token': { S: lease.token },
    });
  }

  /** Says worker `owner` (of this version) runs `tools` until `untilMs`; renewed while it polls. */
  async announce(owner: string, tools: ReadonlySet<string>, untilMs: number): Promise<void> {
    await this.table.put({
      pk: { S: this.workersPk },
      sk: { S: owner },
      tools: { SS: [...tools] },
      version: { S: this.version },
      until: { N: String(untilMs) },
      expiresAt: { N: String(Math.ceil(untilMs / 1000)) },
    });
  }

  /** Takes back `owner`'s announcement: it runs nothing from now on. */
  async withdraw(owner: string): Promise<void> {
    await this.table.remove(this.workersPk, owner);
  }

  /** The tools some worker of this stage runs now: its announcement has not lapsed. */
  async toolsRunning(now = Date.now()): Promise<Set<string>> {
    const live = (await this.table.query(this.workersPk)).filter((item) => Number(item.until?.N) > now);
    return new Set(live.flatMap((item) => item.tools?.SS ?? []));
  }

  /** Removes the run from the queue: it ended (or has nothing left to run). */
  async remove(lease: Lease): Promise<void> {
    await this.table.deleteIf(lease.pk, lease.sk, 'leaseToken = :token', { ':token': { S: lease.token } });
  }
}

function fromItem(item: Item): QueuedRun {
  return {
    pk: item.pk!.S!,
    sk: item.sk!.S!,
    ...(item.tool?.S !== undefined && { tool: item.tool.S }),
    ...(item.version?.S !== undefined && { version: item.version.S }),
    taskId: item.taskId!.S!,
    run: Number(item.run!.N),
    attempts: Number(item.attempts!.N),
    released: Number(item.released?.N ?? 0),
    leaseUntil: Number(item.leaseUntil!.N),
  };
}
