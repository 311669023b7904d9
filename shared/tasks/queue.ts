// The queue of tasks that run on containers: one partition of the kit's table per server
// (`TASKQ#<server>`, one item per queued run, oldest first), read with one consistent Query by
// the workers' poll. A worker takes a run by a conditional write that sets its lease (owner,
// token, expiry) and counts the attempt; it renews the lease while the run goes on and removes the
// item when the run ends. A lease left to expire (the container was replaced or crashed) lets
// another worker take the run again: the run restarts from the top. No new table, index or
// service: the same item operations the other stores use, on DynamoDB and on dynalite alike.
import type { Item, Table } from '../store/table.ts';

/** A queued run as the poll reads it. */
export interface QueuedRun {
  sk: string;
  taskId: string;
  run: number;
  /** Runs of it started so far. */
  attempts: number;
  /** Until when a worker holds it (ms); 0: no one does. */
  leaseUntil: number;
}

/** A worker's hold on a queued run. */
export interface Lease {
  readonly sk: string;
  readonly taskId: string;
  readonly run: number;
  /** This run's attempt, from 1. */
  readonly attempt: number;
  /** Unique to this claim: a replayed or stale claim holds another. */
  readonly token: string;
  /** When the lease ends unless renewed (ms). */
  until: number;
}

const partition = (server: string) => `TASKQ#${server}`;

export class TaskQueue {
  private readonly pk: string;

  constructor(
    private readonly table: Table,
    server: string,
    readonly leaseMs: number,
  ) {
    this.pk = partition(server);
  }

  /** Queues run `run` of a task; the item goes when the task's record does. */
  async enqueue(taskId: string, run: number, expiresAtMs: number): Promise<void> {
    await this.table.put({
      pk: { S: this.pk },
      sk: { S: `${String(Date.now()).padStart(15, '0')}#${taskId}#${run}` },
      taskId: { S: taskId },
      run: { N: String(run) },
      attempts: { N: '0' },
      leaseUntil: { N: '0' },
      expiresAt: { N: String(Math.ceil(expiresAtMs / 1000)) },
    });
  }

  /** Runs no worker holds (never taken, released, or whose lease expired), oldest first. */
  async waiting(now = Date.now()): Promise<QueuedRun[]> {
    const items = await this.table.query(this.pk);
    return items.map(fromItem).filter((q) => q.leaseUntil < now);
  }

  /**
   * Takes a waiting run as `owner` and counts the attempt. Only one claim of what one poll read
   * can win: the write is conditional on the attempts it saw and on no live lease. Undefined when
   * another worker took it first.
   */
  async claim(queued: QueuedRun, owner: string): Promise<Lease | undefined> {
    const now = Date.now();
    const lease: Lease = {
      sk: queued.sk,
      taskId: queued.taskId,
      run: queued.run,
      attempt: queued.attempts + 1,
      token: crypto.randomUUID(),
      until: now + this.leaseMs,
    };
    const won = await this.table.update(
      this.pk,
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
    const held = await this.table.update(this.pk, lease.sk, 'SET leaseUntil = :until', 'leaseToken = :token', {
      ':until': { N: String(until) },
      ':token': { S: lease.token },
    });
    if (held) lease.until = until;
    return held;
  }

  /** Gives a run back at once, uncounted (the worker is stopping): another worker restarts it. */
  async release(lease: Lease): Promise<boolean> {
    return this.table.update(this.pk, lease.sk, 'SET leaseUntil = :zero, attempts = :before REMOVE leaseToken', 'leaseToken = :token', {
      ':zero': { N: '0' },
      ':before': { N: String(lease.attempt - 1) },
      ':token': { S: lease.token },
    });
  }

  /** Removes the run from the queue: it ended (or has nothing left to run). */
  async remove(lease: Lease): Promise<void> {
    await this.table.deleteIf(this.pk, lease.sk, 'leaseToken = :token', { ':token': { S: lease.token } });
  }
}

function fromItem(item: Item): QueuedRun {
  return { sk: item.sk!.S!, taskId: item.taskId!.S!, run: Number(item.run!.N), attempts: Number(item.attempts!.N), leaseUntil: Number(item.leaseUntil!.N) };
}
