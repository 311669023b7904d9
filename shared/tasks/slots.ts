// The per-principal limit on container tasks: one small item per unfinished container task of a
// principal (`TASKSLOTS#<server>#<principal>` / slot number), taken by a conditional write before
// the task is written and deleted when the task ends; a slot expires with its task, so a task that
// never ended frees its slot by itself. A slot number is taken by one task only (the write is
// conditional on it being free), so concurrent calls cannot together pass the limit.
import { nowSeconds, type Table } from '../store/table.ts';

/** A principal has as many unfinished container tasks as MCP_CONTAINER_TASKS_PER_PRINCIPAL allows. */
export class TaskLimitError extends Error {
  override name = 'TaskLimitError';
  constructor(readonly limit: number) {
    super(
      `Too many container tasks: at most ${limit} unfinished per caller at once (MCP_CONTAINER_TASKS_PER_PRINCIPAL); wait for one to end (tasks/get), or cancel one you no longer need with tasks/cancel, then call again`,
    );
  }
}

const partition = (server: string, principalId: string) => `TASKSLOTS#${server}#${principalId}`;

export class TaskSlots {
  constructor(
    private readonly table: Table,
    private readonly server: string,
    readonly limit: number,
  ) {}

  /** The slots in use (live items), by number. */
  private async used(principalId: string): Promise<Set<number>> {
    return new Set((await this.table.query(partition(this.server, principalId))).map((item) => Number(item.sk!.S)));
  }

  /** Throws TaskLimitError when the principal has no slot left; writes nothing. */
  async check(principalId: string): Promise<void> {
    if ((await this.used(principalId)).size >= this.limit) throw new TaskLimitError(this.limit);
  }

  /** Takes a free slot for the task until `expiresAtMs`; throws TaskLimitError when none is left. */
  async take(principalId: string, taskId: string, expiresAtMs: number): Promise<void> {
    for (let tries = 0; tries < 5; tries++) {
      const used = await this.used(principalId);
      const free = Array.from({ length: this.limit }, (_, n) => n).find((n) => !used.has(n));
      if (free === undefined || used.size >= this.limit) throw new TaskLimitError(this.limit);
      const taken = await this.table.put(
        {
          pk: { S: partition(this.server, principalId) },
          sk: { S: String(free) },
          taskId: { S: taskId },
          expiresAt: { N: String(Math.ceil(expiresAtMs / 1000)) },
        },
        'attribute_not_exists(pk) OR expiresAt <= :now',
        { ':now': { N: String(nowSeconds()) } },
      );
      if (taken) return;
    }
    // Another call took each free slot this one found, five times over: the principal is at its limit.
    throw new TaskLimitError(this.limit);
  }

  /** Frees the task's slot (it ended); nothing when it holds none. */
  async release(principalId: string, taskId: string): Promise<void> {
    const items = await this.table.query(partition(this.server, principalId));
    const slot = items.find((item) => item.taskId?.S === taskId);
    if (slot) await this.table.deleteIf(slot.pk!.S!, slot.sk!.S!, 'taskId = :id', { ':id': { S: taskId } });
  }
}
