// Streams and long tasks on Fargate next to Lambda (cost/containers.ts, `npm run cost -- --streams`):
// streams a task from the measured per-stream cost, the bill's arithmetic from the price table, the
// break-even, and the CLI with bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  breakEvenStreams,
  containerStreamsMonthly,
  DEFAULT_SIZING,
  fixedMonthly,
  HOURS_PER_MONTH,
  lambdaStreamsMonthly,
  streamsPerTask,
  taskHourCosts,
  type StreamUnits,
} from '../../cost/containers.ts';
import { PRICING } from '../../cost/estimate.ts';
import type { MeasuredUnits } from '../../cost/measure.ts';

const read = <T>(file: string) => JSON.parse(readFileSync(new URL(`../../cost/${file}`, import.meta.url), 'utf8')) as T;
const UNITS = read<MeasuredUnits>('units.json');
const STREAMS = read<StreamUnits>('streams.json');

/** Round numbers: 100 MB base, 100 kB a stream, 1% of a core per 1,000 streams, 0.1 ms of fan-out a stream. */
const ROUND: StreamUnits = {
  ...STREAMS,
  streams: 1000,
  baseRssMb: 100,
  rssKbPerStream: 100,
  idleCpuPercentBase: 0.5,
  idleCpuPercentAtStreams: 1.5,
  fanOutMsPerStream: 0.1,
  pollMs: 1000,
};

function cli(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/cost.ts', ...args], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('streams on containers', () => {
  it('sizes streams a task by the tightest of memory, CPU and the delivery bound', () => {
    const sizing = { ...DEFAULT_SIZING, memoryGb: 1, vcpu: 0.5, targetUtilisation: 0.5, processLimit: 100_000 };
    const p = streamsPerTask(ROUND, sizing);
    assert.equal(p.byMemory, Math.floor((512 - 100) / (100 / 1024)));
    assert.equal(p.byCpu, Math.floor((25 - 0.5) / 0.001));
    assert.equal(p.byDelivery, Math.floor((1000 * 0.5) / 0.1));
    assert.equal(p.streams, p.byMemory);
    assert.equal(p.boundBy, 'memory');
    assert.equal(streamsPerTask({ ...ROUND, fanOutMsPerStream: 1 }, sizing).boundBy, 'delivery');
    assert.deepEqual(streamsPerTask(ROUND, { ...sizing, processLimit: 1024 }).streams, 1024, 'one process holds no more than its streamsPerInstance');
  });

  it('bills tasks, addresses, the ALB and its capacity units from the price table, and never fewer than minTasks', () => {
    const sizing = DEFAULT_SIZING;
    const few = containerStreamsMonthly(10, ROUND, PRICING, sizing);
    assert.equal(few.tasks, sizing.minTasks);
    const fixed = fixedMonthly(PRICING, sizing);
    const perTaskHour = sizing.vcpu * PRICING.fargate.perVcpuHour + sizing.memoryGb * PRICING.fargate.perGbHour;
    assert.ok(
      Math.abs(fixed - HOURS_PER_MONTH * (sizing.minTasks * (perTaskHour + PRICING.vpc.publicIpv4PerHour) + PRICING.applicationLoadBalancer.perHour)) < 1e-9,
    );
    assert.ok(few.total > fixed, 'streams add capacity units, requests and Redis commands to the fixed cost');
    const many = containerStreamsMonthly(100_000, ROUND, PRICING, sizing);
    assert.equal(many.tasks, Math.ceil(100_000 / many.perTask.streams));
    const lcu = many.lines.find((l) => l.item.startsWith('ALB capacity'))!;
    assert.ok(Math.abs(lcu.quantity - (100_000 / 3000) * HOURS_PER_MONTH) < 1e-6, 'held connections: 3,000 a minute per LCU');
    assert.ok(Math.abs(many.total - many.lines.reduce((s, l) => s + l.cost, 0)) < 1e-9);
  });

  it('finds the break-even: containers cost less from it, Lambda below it', () => {
    const n = breakEvenStreams(STREAMS, UNITS, PRICING, DEFAULT_SIZING);
    assert.ok(Number.isFinite(n) && n >= 1);
    assert.ok(containerStreamsMonthly(n, STREAMS, PRICING, DEFAULT_SIZING).total < lambdaStreamsMonthly(n, UNITS, PRICING));
    if (n > 1) assert.ok(containerStreamsMonthly(n - 1, STREAMS, PRICING, DEFAULT_SIZING).total >= lambdaStreamsMonthly(n - 1, UNITS, PRICING));
  });

  it('prices an hour of task work on Fargate and on Lambda', () => {
    const h = taskHourCosts(PRICING, DEFAULT_SIZING, 1024);
    assert.ok(Math.abs(h.lambda - 3600 * PRICING.lambda.perGbSecond[0]!.price) < 1e-12);
    assert.ok(h.fargate < h.lambda);
  });

  it('has sources for the container prices, and cost/streams.json was measured with at least 1,000 streams', () => {
    for (const s of [PRICING.fargate, PRICING.applicationLoadBalancer, PRICING.vpc, PRICING.cloudFront.vpcOrigin]) assert.match(s.source, /^https:\/\//);
    assert.equal(PRICING.cloudFront.vpcOrigin.perHour, 0);
    assert.ok(STREAMS.streams >= 1000 && STREAMS.rssKbPerStream > 0 && STREAMS.latencyMs.p99 < 2000, JSON.stringify(STREAMS));
  });
});

describe('npm run cost -- --streams / --task-hours', () => {
  it('prints streams on containers next to Lambda, the fixed cost and the break-even, with or without --calls', () => {
    const { code, out } = cli('--streams', '1000', '--task-hours', '100');
    assert.equal(code, 0);
    assert.match(out, /Fixed cost of turning containers on: \$[\d,.]+ a month/);
    assert.match(out, /1,000 notification streams held all month/);
    assert.match(out, /Containers \$[\d,.]+ a month against Lambda \$[\d,.]+/);
    assert.match(out, /Break-even: containers cost less from \d+ streams/);
    assert.match(out, /100 hours of long-task work a month/);
    const both = cli('--calls', '1M', '--streams', '10k');
    assert.equal(both.code, 0);
    assert.match(both.out, /Monthly estimate for 1,000,000 calls[\s\S]*10,000 notification streams/);
  });

  it('refuses bad input with what it wanted', () => {
    const cases: [string[], RegExp][] = [
      [['--streams', 'many'], /--streams takes a number of streams above 0.*got "many"/],
      [['--task-hours', '0'], /--task-hours takes a number of hours above 0/],
      [['--streams', '10', '--json'], /--json prints the calls estimate only/],
      [['--streams', '10', '--stream-units', '/nonexistent.json'], /cannot read \/nonexistent\.json: run npm run measure:streams/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = cli(...args);
      assert.equal(code, 2, args.join(' '));
      assert.match(err, message, args.join(' '));
    }
  });
});
