// Notification streams and long tasks on Fargate next to Lambda: streams per task from the measured
// cost of a stream in one server process (cost/streams.json, `npm run measure:streams`), the tasks
// and monthly bill that follow, the fixed cost of turning containers on, and the break-even.
// Pure, like estimate.ts: the CLI and the tests share it.
import { VARIABLES } from '../shared/config/variables.ts';
import { estimate, type Pricing } from './estimate.ts';
import type { MeasuredUnits } from './measure.ts';

/** What one process holding streams measured (cost/streams.json). */
export interface StreamUnits {
  measuredAt: string;
  commit: string;
  machine: string;
  /** Streams open when the per-stream numbers were taken. */
  streams: number;
  /** Resident memory of the process with the warm-up streams open. */
  baseRssMb: number;
  rssKbPerStream: number;
  heapKbPerStream: number;
  /** Share of one core the process used while idle, with the warm-up streams and with `streams`. */
  idleCpuPercentBase: number;
  idleCpuPercentAtStreams: number;
  /** Last arrival minus first for one event, per stream: the process's fan-out work. */
  fanOutMsPerStream: number;
  /** Delivery from publish to every stream at `streams`, over the measured events. */
  latencyMs: { p50: number; p99: number; max: number };
  /** MCP_EVENT_POLL_MS and MCP_EVENT_POLL_MAX_MS the server ran with. */
  pollMs: number;
  pollMaxMs: number;
}

export interface TaskSizing {
  vcpu: number;
  memoryGb: number;
  /** Share of memory and CPU the streams may fill; the rest is headroom for calls and bursts. */
  targetUtilisation: number;
  minTasks: number;
  /** Every stream gets an event within this: the poll interval plus the task's fan-out. */
  deliveryBudgetMs: number;
  /** How long a stream lives before the client reopens it (MCP_STREAM_MAX_SECONDS). */
  streamSeconds: number;
  /** Streams one process holds at most: MCP_CONTAINER_STREAMS (its default unless the container sets it). */
  processLimit: number;
}

export const DEFAULT_SIZING: TaskSizing = {
  vcpu: 0.5,
  memoryGb: 1,
  targetUtilisation: 0.7,
  minTasks: 2,
  deliveryBudgetMs: 2_000,
  streamSeconds: 3_600,
  processLimit: VARIABLES.MCP_CONTAINER_STREAMS.default,
};

/** A 30-day month, as the Lambda stream figures in docs/scale.md count it. */
export const HOURS_PER_MONTH = 720;
/** Redis commands a stream costs when it opens on a task: the rate-limit check and the stream cap's claim and release (listenStreamMinute measures the same). */
const COMMANDS_PER_STREAM_OPEN = 3;

export interface StreamsPerTask {
  streams: number;
  boundBy: 'memory' | 'cpu' | 'delivery' | 'process limit';
  byMemory: number;
  byCpu: number;
  byDelivery: number;
}

export function streamsPerTask(units: StreamUnits, sizing: TaskSizing): StreamsPerTask {
  const byMemory = Math.floor((sizing.memoryGb * 1024 * sizing.targetUtilisation - units.baseRssMb) / (units.rssKbPerStream / 1024));
  const cpuPerStream = Math.max(1e-9, (units.idleCpuPercentAtStreams - units.idleCpuPercentBase) / units.streams);
  const byCpu = Math.floor((sizing.vcpu * 100 * sizing.targetUtilisation - units.idleCpuPercentBase) / cpuPerStream);
  // Fan-out was measured on one core of the measuring machine; a task's share of a vCPU slows it.
  const byDelivery = Math.floor(((sizing.deliveryBudgetMs - units.pollMs) * sizing.vcpu) / units.fanOutMsPerStream);
  const streams = Math.max(1, Math.min(byMemory, byCpu, byDelivery, sizing.processLimit));
  const boundBy = streams === sizing.processLimit ? 'process limit' : streams === byMemory ? 'memory' : streams === byCpu ? 'cpu' : 'delivery';
  return { streams, boundBy, byMemory, byCpu, byDelivery };
}

export interface CostLine {
  item: string;
  quantity: number;
  unit: string;
  cost: number;
}

export const taskHour = (pricing: Pricing, sizing: TaskSizing) => sizing.vcpu * pricing.fargate.perVcpuHour + sizing.memoryGb * pricing.fargate.perGbHour;

/** The monthly cost of containers being on at all: the minimum tasks, their addresses and the ALB. */
export function fixedMonthly(pricing: Pricing, sizing: TaskSizing): number {
  return HOURS_PER_MONTH * (sizing.minTasks * (taskHour(pricing, sizing) + pricing.vpc.publicIpv4PerHour) + pricing.applicationLoadBalancer.perHour);
}

/** `streams` held all month on Fargate tasks behind a private ALB and CloudFront's VPC origin. */
export function containerStreamsMonthly(streams: number, units: StreamUnits, pricing: Pricing, sizing: TaskSizing) {
  const perTask = streamsPerTask(units, sizing);
  const tasks = Math.max(sizing.minTasks, Math.ceil(streams / perTask.streams));
  const hours = HOURS_PER_MONTH;
  const alb = pricing.applicationLoadBalancer;
  const opensPerSecond = streams / sizing.streamSeconds;
  const lcu = Math.max(streams / alb.lcu.activeConnectionsPerMinute, opensPerSecond / alb.lcu.newConnectionsPerSecond);
  const opens = opensPerSecond * hours * 3600;
  // One poller a task, at the fast pace all the time (the delivery bound assumes it), plus each open's commands.
  const commands = (tasks * (hours * 3600 * 1000)) / units.pollMs + opens * COMMANDS_PER_STREAM_OPEN;
  const lines: CostLine[] = [
    {
      item: `Fargate tasks (${sizing.vcpu} vCPU, ${sizing.memoryGb} GB, arm64)`,
      quantity: tasks * hours,
      unit: 'task-hours',
      cost: tasks * hours * taskHour(pricing, sizing),
    },
    {
      item: 'public IPv4 address a task (no NAT gateway)',
      quantity: tasks * hours,
      unit: 'address-hours',
      cost: tasks * hours * pricing.vpc.publicIpv4PerHour,
    },
    { item: 'ALB hours', quantity: hours, unit: 'hours', cost: hours * alb.perHour },
    { item: 'ALB capacity units (held connections)', quantity: lcu * hours, unit: 'LCU-hours', cost: lcu * hours * alb.perLcuHour },
    {
      item: 'CloudFront requests (stream opens; VPC origin free)',
      quantity: opens,
      unit: 'requests',
      cost: (opens / 1e4) * pricing.cloudFront.perTenThousandHttpsRequests,
    },
    {
      item: 'Upstash commands (event polling, stream caps)',
      quantity: commands,
      unit: 'commands',
      cost: (commands / 1e5) * pricing.upstash.perHundredThousandCommands,
    },
  ];
  return { streams, tasks, perTask, lines, total: lines.reduce((s, l) => s + l.cost, 0) };
}

/** The same streams on Lambda: each holds an environment, priced from the measured listenStreamMinute unit. */
export function lambdaStreamsMonthly(streams: number, units: MeasuredUnits, pricing: Pricing): number {
  return estimate(units, pricing, { description: '', perCall: { listenStreamMinute: 1 } }, streams * HOURS_PER_MONTH * 60).total;
}

/** The fewest streams held all month for which containers cost less than Lambda (containers' fixed cost included). */
export function breakEvenStreams(streamUnits: StreamUnits, units: MeasuredUnits, pricing: Pricing, sizing: TaskSizing): number {
  for (let n = 1; n <= 1_000_000; n = n < 100 ? n + 1 : Math.ceil(n * 1.01)) {
    if (containerStreamsMonthly(n, streamUnits, pricing, sizing).total < lambdaStreamsMonthly(n, units, pricing)) return n;
  }
  return Number.POSITIVE_INFINITY;
}

/** An hour of a long task's work: on a Fargate task of its own (RunTask: per second, one minute minimum) and on Lambda at the function's memory. */
export function taskHourCosts(pricing: Pricing, sizing: TaskSizing, lambdaMemoryMb: number) {
  return {
    fargate: taskHour(pricing, sizing) + pricing.vpc.publicIpv4PerHour,
    // Lambda cannot run one hour (15 minutes at most): this is four or more chained invocations' duration.
    lambda: 3600 * (lambdaMemoryMb / 1024) * pricing.lambda.perGbSecond[0]!.price,
  };
}

/**
 * N listeners, projected linearly from the measured per-stream cost (not measured at N): in one
 * process on the measuring machine, and spread over tasks of `sizing`.
 */
export function projectStreams(units: StreamUnits, listeners: number, sizing: TaskSizing) {
  const cpuPerStream = (units.idleCpuPercentAtStreams - units.idleCpuPercentBase) / units.streams;
  const perTask = streamsPerTask(units, sizing);
  const tasks = Math.max(sizing.minTasks, Math.ceil(listeners / perTask.streams));
  const onEachTask = Math.ceil(listeners / tasks);
  return {
    oneProcess: {
      rssMb: units.baseRssMb + (listeners * units.rssKbPerStream) / 1024,
      idleCpuPercent: units.idleCpuPercentBase + listeners * cpuPerStream,
      fanOutMs: listeners * units.fanOutMsPerStream,
      /** The slowest delivery: a full poll interval, then the whole fan-out. */
      worstDeliveryMs: units.pollMs + listeners * units.fanOutMsPerStream,
    },
    tasks: {
      tasks,
      streamsEach: onEachTask,
      rssMbEach: units.baseRssMb + (onEachTask * units.rssKbPerStream) / 1024,
      worstDeliveryMs: units.pollMs + (onEachTask * units.fanOutMsPerStream) / sizing.vcpu,
    },
  };
}
