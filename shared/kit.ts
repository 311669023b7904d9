// Assembles one MCP server from its definition and the configuration (kit-core.ts), with the task
// machinery loaded at start and container task workers on request. Every adapter but Lambda's
// (which leaves the task machinery out of a cold start when it can) calls this and nothing else.
import type { ServerDefinition } from './server/define.ts';
import { taskRuntimeOf } from './server/define.ts';
import type { KitConfig } from './config.ts';
import { assembleKit, type KitOptions } from './kit-core.ts';
import * as taskSetup from './tasks/setup.ts';
import { startTaskWorkers, type TaskWorkerOptions, type TaskWorkers } from './tasks/workers.ts';

export type { KitOptions } from './kit-core.ts';

export function createKit(definition: ServerDefinition, config: Readonly<KitConfig>, options: KitOptions = {}) {
  const { tasks, ...kit } = assembleKit(definition, config, options, taskSetup);
  const taskWorkers: TaskWorkers[] = [];
  return {
    ...kit,
    /**
     * Runs queued container tasks in this process until `stop()`: for a long-lived process (a
     * container) beside its HTTP server. Does nothing when MCP_CONTAINER_TASKS is off or no tool
     * declares `runtime: 'container'` (such tasks then run where they are created). `close()`
     * stops them first (their runs finish for up to `drainMs`, the rest go back to the queue).
     */
    startTaskWorkers(workerOptions?: TaskWorkerOptions): TaskWorkers {
      const made = tasks();
      if (!made?.queue || !definition.tools.some((t) => taskRuntimeOf(t) === 'container')) {
        kit.log.info('task workers not started: MCP_CONTAINER_TASKS is off or no tool declares runtime: container');
        return { running: 0, stop: async () => {} };
      }
      const workers = startTaskWorkers(made.service, made.queue, config.tasks.maxAttempts, kit.log, workerOptions);
      taskWorkers.push(workers);
      return workers;
    },
    async close() {
      await Promise.all(taskWorkers.map((w) => w.stop()));
      await kit.close();
    },
  };
}
