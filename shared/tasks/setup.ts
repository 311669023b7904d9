// Puts the task machinery together for one kit: the store on the kit's table, the service, the
// dispatcher that fits where the kit runs (an asynchronous self-invoke on Lambda, this process
// elsewhere), and the container queue and per-principal slots when MCP_CONTAINER_TASKS is on.
import type { ArtifactStore } from '../artifacts/store.ts';
import type { KitConfig } from '../config.ts';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import type { Relay } from '../relay/relay.ts';
import type { Table } from '../store/table.ts';
import { inlineDispatcher, lambdaDispatcher } from './dispatch.ts';
import { TaskQueue } from './queue.ts';
import { TaskSlots } from './slots.ts';
import { TaskService, type TaskServiceOptions } from './service.ts';
import { TaskStore } from './store.ts';
import type { Tracer } from '../trace.ts';

/** Results up to this size (JSON) stay in the task's item; DynamoDB items stop at 400 KB. */
const INLINE_RESULT_BYTES = 300_000;

export interface TaskSetup {
  server: string;
  /** The server's version, recorded on the runs it queues. */
  version: string;
  table: Table;
  relay: Relay;
  artifacts: ArtifactStore;
  log: KitLogger;
  pending: PendingWork;
  /** Absent when tracing is off. */
  tracer?: Tracer;
  execute: TaskServiceOptions['execute'];
}

export function createTasks(config: Readonly<KitConfig>, setup: TaskSetup): { service: TaskService; queue?: TaskQueue } {
  const queue = config.tasks.containers
    ? new TaskQueue(setup.table, { server: setup.server, stage: config.stage, version: setup.version, leaseMs: config.tasks.leaseSeconds * 1000 })
    : undefined;
  const slots = queue && new TaskSlots(setup.table, setup.server, config.tasks.containerTasksPerPrincipal);
  const store = new TaskStore(setup.table, {
    ttlMs: config.tasks.ttlSeconds * 1000,
    pollIntervalMs: config.tasks.pollIntervalMs,
    inlineResultBytes: INLINE_RESULT_BYTES,
  });
  const service = new TaskService({
    store,
    relay: setup.relay,
    artifacts: setup.artifacts,
    log: setup.log,
    execute: setup.execute,
    staleAfterMs: config.tasks.staleAfterSeconds * 1000,
    maxTtlMs: config.tasks.maxTtlSeconds * 1000,
    server: setup.server,
    stage: config.stage,
    metrics: config.metrics,
    tracer: setup.tracer,
    queue,
    slots,
    reportEveryMs: config.tasks.progressEveryMs,
    containerTimeoutMs: config.tasks.containerTimeoutSeconds * 1000,
  });
  service.dispatcher = config.lambdaFunctionName
    ? lambdaDispatcher({
        functionName: config.lambdaFunctionName,
        region: config.region,
        ...(config.lambdaFunctionVersion && { version: config.lambdaFunctionVersion }),
        ...(config.lambdaEndpoint && { endpoint: config.lambdaEndpoint }),
      })
    : inlineDispatcher((id, run) => service.run(id, run), setup.pending, setup.log);
  return { service, queue };
}
