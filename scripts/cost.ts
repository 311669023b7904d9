// `npm run cost -- --calls N [--mix chat|agent|dashboard|unit=count,...]`: a monthly estimate per
// service and in total, from the measured units (cost/units.json, written by `npm run
// cost:measure`) and the price table (cost/pricing.json). docs/cost.md explains both. With --streams
// or --task-hours, notification streams and long tasks on Fargate next to Lambda (cost/containers.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { estimate, PRICING, type Estimate } from '../cost/estimate.ts';
import type { MeasuredUnits } from '../cost/measure.ts';
import { MIXES, type Mix } from '../cost/mixes.ts';
import {
  breakEvenStreams,
  containerStreamsMonthly,
  DEFAULT_SIZING,
  fixedMonthly,
  HOURS_PER_MONTH,
  lambdaStreamsMonthly,
  taskHourCosts,
  type StreamUnits,
} from '../cost/containers.ts';

const USAGE = `Usage: npm run cost -- --calls <N> [--mix <mix>] [--units <file>] [--json]
       npm run cost -- [--calls <N>] --streams <N> [--task-hours <N>]

  --calls N     calls a month: 1000000, 1e6, 1_000_000, 250k, 3M or 1.5B
  --mix MIX     ${Object.keys(MIXES).join(', ')} (default chat), or your own: unit=count per call, comma-separated,
                e.g. --mix modernCall=1,cachedHit=0.2 (units: see cost/units.json)
  --units FILE  measured units (default cost/units.json, from npm run cost:measure)
  --json        the estimate as JSON
  --streams N   notification streams held all month: on Fargate tasks next to Lambda, from cost/streams.json
                (npm run measure:streams), with the fixed cost of turning containers on and the break-even
  --task-hours N  hours of long-task work a month: on Fargate next to Lambda`;

class UsageError extends Error {}

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, b: 1e9 };

function parseCalls(raw: string | undefined): number {
  if (raw === undefined)
    throw new UsageError('--calls is required: how many calls a month to estimate for (or --streams / --task-hours for containers next to Lambda)');
  return parseAmount('--calls', 'calls', raw);
}

/** A count like 1000000, 1e6, 1_000_000, 250k, 3M or 1.5B. */
function parseAmount(flag: string, what: string, raw: string): number {
  const m = /^(\d+(?:[_,]\d{3})*(?:\.\d+)?(?:e\d+)?)([kmb]?)$/i.exec(raw.trim());
  const n = m ? Number(m[1]!.replace(/[_,]/g, '')) * SUFFIX[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a number of ${what} above 0 (like 1000000, 1e6 or 250k), got "${raw}"`);
  return n;
}

function parseMix(raw: string, units: MeasuredUnits): { name: string; mix: Mix } {
  if (MIXES[raw]) return { name: raw, mix: MIXES[raw] };
  if (!raw.includes('=')) throw new UsageError(`--mix "${raw}" is neither a standard mix (${Object.keys(MIXES).join(', ')}) nor unit=count pairs`);
  const perCall: Record<string, number> = {};
  for (const pair of raw.split(',')) {
    const [id, count] = pair.split('=').map((s) => s.trim());
    if (!id || !units.units[id]) throw new UsageError(`--mix: "${id}" is not a measured unit; measured: ${Object.keys(units.units).join(', ')}`);
    const n = Number(count);
    if (count === undefined || count === '' || !Number.isFinite(n) || n < 0)
      throw new UsageError(`--mix: ${id} needs a count of 0 or more per call, got "${count ?? ''}"`);
    perCall[id] = n;
  }
  return {
    name: 'custom',
    mix: {
      description: `Your mix: ${Object.entries(perCall)
        .map(([id, n]) => `${n} × ${id}`)
        .join(', ')} per call.`,
      perCall,
    },
  };
}

function readUnits(file: string): MeasuredUnits {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${file}: run npm run cost:measure to measure the units first`);
  }
  const units = JSON.parse(text) as MeasuredUnits;
  if (!units.units || typeof units.memoryMb !== 'number') throw new UsageError(`${file} is not a units file written by npm run cost:measure`);
  return units;
}

const money = (n: number) => (n > 0 && n < 0.005 ? '<$0.01' : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
const amount = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 3 : 0 });

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

function report(result: Estimate, name: string, mix: Mix, units: MeasuredUnits): string {
  const rows = [['Service', 'Item', 'Quantity', 'Monthly']];
  let service = '';
  for (const line of result.lines) {
    rows.push([line.service === service ? '' : line.service, line.item, `${amount(line.quantity)} ${line.unit}`, money(line.cost)]);
    service = line.service;
  }
  const services = Object.entries(result.byService).map(([s, c]) => `  ${s.padEnd(16)} ${money(c).padStart(12)}`);
  return [
    `Monthly estimate for ${amount(result.calls)} calls, mix "${name}"`,
    `  ${mix.description}`,
    '',
    table(rows),
    '',
    'Per service:',
    ...services,
    `  ${'Total'.padEnd(16)} ${money(result.total).padStart(12)}  (${money((result.total / result.calls) * 1e6)} per million calls)`,
    '',
    `Units measured ${units.measuredAt.slice(0, 10)} at ${units.commit} on the modelled deployed path (${units.memoryMb} MB); prices for ${PRICING.region}, read ${PRICING.readOn} (cost/pricing.json).`,
    'Not included: free tiers (Lambda: 1M requests and 400,000 GB-s a month; CloudFront: 1 TB and 10M requests; Upstash: 500K commands), storage,',
    "cold starts (init is billed: see docs/cost.md), the Secrets Manager secret, CloudWatch alarms and dashboard, WAF, and your tools' own work.",
  ].join('\n');
}

function readStreamUnits(file: string): StreamUnits {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StreamUnits;
  } catch {
    throw new UsageError(`cannot read ${file}: run npm run measure:streams -- --write ${file} to measure a stream's cost first`);
  }
}

/** Streams and long tasks on Fargate next to Lambda. */
function containerReport(streams: number | undefined, taskHours: number | undefined, units: MeasuredUnits, streamUnits: StreamUnits): string {
  const sizing = DEFAULT_SIZING;
  const fixed = fixedMonthly(PRICING, sizing);
  const out = [
    `Containers next to Lambda (${HOURS_PER_MONTH} hours a month; tasks of ${sizing.vcpu} vCPU and ${sizing.memoryGb} GB, arm64, filled to ${sizing.targetUtilisation * 100}%, at least ${sizing.minTasks})`,
    `  Fixed cost of turning containers on: ${money(fixed)} a month (${sizing.minTasks} tasks, their public IPv4 addresses, the ALB's hours; CloudFront's VPC origin is free)`,
  ];
  if (streams !== undefined) {
    const c = containerStreamsMonthly(streams, streamUnits, PRICING, sizing);
    const p = c.perTask;
    const rows = [['Containers', 'Item', 'Quantity', 'Monthly'], ...c.lines.map((l) => ['', l.item, `${amount(l.quantity)} ${l.unit}`, money(l.cost)])];
    out.push(
      '',
      `${amount(streams)} notification streams held all month`,
      `  Streams a task: ${amount(p.streams)}, bound by ${p.boundBy} (memory ${amount(p.byMemory)}, CPU ${amount(p.byCpu)}, delivery within ${sizing.deliveryBudgetMs} ms ${amount(p.byDelivery)}, a process's limit ${amount(sizing.processLimit)}); tasks: ${c.tasks}`,
      table(rows),
      `  Containers ${money(c.total)} a month against Lambda ${money(lambdaStreamsMonthly(streams, units, PRICING))} (one environment a stream, listenStreamMinute)`,
      `  Break-even: containers cost less from ${amount(breakEvenStreams(streamUnits, units, PRICING, sizing))} streams held all month`,
      `  Per-stream cost measured ${streamUnits.measuredAt.slice(0, 10)} at ${streamUnits.commit} (cost/streams.json): ${streamUnits.rssKbPerStream.toFixed(0)} kB RSS a stream, ${streamUnits.machine}.`,
    );
  }
  if (taskHours !== undefined) {
    const h = taskHourCosts(PRICING, sizing, units.memoryMb);
    out.push(
      '',
      `${amount(taskHours)} hours of long-task work a month`,
      `  Fargate task of its own (RunTask): ${money(h.fargate * taskHours)} (${money(h.fargate)} an hour, one minute minimum a run)`,
      `  Lambda at ${units.memoryMb} MB: ${money(h.lambda * taskHours)} (${money(h.lambda)} an hour), and no run past 15 minutes`,
    );
  }
  return out.join('\n');
}

function main() {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string' },
      mix: { type: 'string', default: 'chat' },
      units: { type: 'string', default: 'cost/units.json' },
      json: { type: 'boolean', default: false },
      streams: { type: 'string' },
      'task-hours': { type: 'string' },
      'stream-units': { type: 'string', default: 'cost/streams.json' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  const streams = values.streams === undefined ? undefined : parseAmount('--streams', 'streams', values.streams);
  const taskHours = values['task-hours'] === undefined ? undefined : parseAmount('--task-hours', 'hours', values['task-hours']);
  const containers = streams !== undefined || taskHours !== undefined;
  if (containers && values.json) throw new UsageError('--json prints the calls estimate only: leave out --streams and --task-hours, or --json');
  const calls = containers && values.calls === undefined ? undefined : parseCalls(values.calls);
  const units = readUnits(values.units);
  const parts: string[] = [];
  if (calls !== undefined) {
    const { name, mix } = parseMix(values.mix, units);
    const result = estimate(units, PRICING, mix, calls);
    parts.push(values.json ? JSON.stringify({ mix: name, ...result }, null, 2) : report(result, name, mix, units));
  }
  if (containers) parts.push(containerReport(streams, taskHours, units, readStreamUnits(values['stream-units'])));
  console.log(parts.join('\n\n'));
}

try {
  main();
} catch (error) {
  const known = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(known ? `npm run cost: ${(error as Error).message}\n\n${USAGE}\n` : `${(error as Error).stack}\n`);
  process.exit(known ? 2 : 1);
}
