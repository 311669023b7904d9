// `npm run cost -- --calls N [--mix chat|agent|dashboard|unit=count,...]`: a monthly estimate per
// service and in total, from the measured units (cost/units.json, written by `npm run
// cost:measure`) and the price table (cost/pricing.json). docs/cost.md explains both.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { estimate, PRICING, type Estimate } from '../cost/estimate.ts';
import type { MeasuredUnits } from '../cost/measure.ts';
import { MIXES, type Mix } from '../cost/mixes.ts';

const USAGE = `Usage: npm run cost -- --calls <N> [--mix <mix>] [--units <file>] [--json]

  --calls N     calls a month: 1000000, 1e6, 1_000_000, 250k, 3M or 1.5B
  --mix MIX     ${Object.keys(MIXES).join(', ')} (default chat), or your own: unit=count per call, comma-separated,
                e.g. --mix modernCall=1,cachedHit=0.2 (units: see cost/units.json)
  --units FILE  measured units (default cost/units.json, from npm run cost:measure)
  --json        the estimate as JSON`;

class UsageError extends Error {}

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, b: 1e9 };

function parseCalls(raw: string | undefined): number {
  if (raw === undefined) throw new UsageError('--calls is required: how many calls a month to estimate for');
  const m = /^(\d+(?:[_,]\d{3})*(?:\.\d+)?(?:e\d+)?)([kmb]?)$/i.exec(raw.trim());
  const calls = m ? Number(m[1]!.replace(/[_,]/g, '')) * SUFFIX[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isFinite(calls) || calls <= 0) throw new UsageError(`--calls takes a number of calls above 0 (like 1000000, 1e6 or 250k), got "${raw}"`);
  return calls;
}

function parseMix(raw: string, units: MeasuredUnits): { name: string; mix: Mix } {
  if (MIXES[raw]) return { name: raw, mix: MIXES[raw] };
  if (!raw.includes('=')) throw new UsageError(`--mix "${raw}" is neither a standard mix (${Object.keys(MIXES).join(', ')}) nor unit=count pairs`);
  const perCall: Record<string, number> = {};
  for (const pair of raw.split(',')) {
    const [id, count] = pair.split('=').map((s) => s.trim());
    if (!id || !units.units[id]) throw new UsageError(`--mix: "${id}" is not a measured unit; measured: ${Object.keys(units.units).join(', ')}`);
    const n = Number(count);
    if (count === undefined || count === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--mix: ${id} needs a count of 0 or more per call, got "${count ?? ''}"`);
    perCall[id] = n;
  }
  return { name: 'custom', mix: { description: `Your mix: ${Object.entries(perCall).map(([id, n]) => `${n} × ${id}`).join(', ')} per call.`, perCall } };
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
    'cold starts (init is billed: see docs/cost.md), the Secrets Manager secret, CloudWatch alarms and dashboard, WAF, and your tools\' own work.',
  ].join('\n');
}

function main() {
  const { values } = parseArgs({
    options: { calls: { type: 'string' }, mix: { type: 'string', default: 'chat' }, units: { type: 'string', default: 'cost/units.json' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return console.log(USAGE);
  const calls = parseCalls(values.calls);
  const units = readUnits(values.units);
  const { name, mix } = parseMix(values.mix, units);
  const result = estimate(units, PRICING, mix, calls);
  console.log(values.json ? JSON.stringify({ mix: name, ...result }, null, 2) : report(result, name, mix, units));
}

try {
  main();
} catch (error) {
  const known = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(known ? `npm run cost: ${(error as Error).message}\n\n${USAGE}\n` : `${(error as Error).stack}\n`);
  process.exit(known ? 2 : 1);
}
