// What a run produces, and its two renderings: the console table and docs/benchmarks.md. Suites
// fill sections of rows; ratios compare two rows of one section (quotient and difference), against a
// target when one is set.
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { Summary } from './stats.ts';

export type Unit = 'us' | 'ms' | 'bytes' | 'count' | 'per-call' | 'per-second';

export interface Column {
  key: string;
  header: string;
  unit: Unit;
}

/** The per-call timing columns every in-process suite reports, and their values from a Summary. */
export const TIMING_COLUMNS: readonly Column[] = [
  { key: 'median', header: 'median', unit: 'us' },
  { key: 'p90', header: 'p90', unit: 'us' },
  { key: 'mean', header: 'mean', unit: 'us' },
  { key: 'n', header: 'calls', unit: 'count' },
];
export const timingValues = (s: Summary) => ({ median: s.median, p90: s.p90, mean: s.mean, n: s.n });

export interface Row {
  id: string;
  label: string;
  values: Record<string, number>;
}

export interface Section {
  id: string;
  title: string;
  /** How the numbers were obtained, for the document. */
  method: string;
  /** What was actually run, which the time budget may have cut short of the plan. */
  iterations: string;
  columns: Column[];
  rows: Row[];
}

/** `numerator / denominator` on one column of one section; with `max`, a target to meet. The
 * difference `numerator − denominator` is shown beside it, in the column's unit. */
export interface Ratio {
  label: string;
  section: string;
  numerator: string;
  denominator: string;
  column: string;
  /** A target the ratio must stay at or under. */
  max?: number;
  /** A target the ratio must reach (throughput). */
  min?: number;
}

export interface RatioResult extends Ratio {
  value: number;
  difference: number;
  unit: Unit;
}

export interface Report {
  date: string;
  plan: string;
  durationMs: number;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
  /** One-minute load average before and after: how much else the machine was doing. */
  load: { start: number; end: number };
  sections: Section[];
  ratios: RatioResult[];
}

export function machineInfo(): Report['machine'] {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
}

export const loadAverage = () => loadavg()[0]!;

export function computeRatios(sections: Section[], ratios: Ratio[]): RatioResult[] {
  return ratios.map((r) => {
    const section = sections.find((s) => s.id === r.section);
    const value = (id: string) => section?.rows.find((row) => row.id === id)?.values[r.column] ?? Number.NaN;
    const [numerator, denominator] = [value(r.numerator), value(r.denominator)];
    const unit = section?.columns.find((c) => c.key === r.column)?.unit ?? 'count';
    return { ...r, value: numerator / denominator, difference: numerator - denominator, unit };
  });
}

function formatValue(v: number | undefined, unit: Unit): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  switch (unit) {
    case 'us':
    case 'ms':
      return v.toFixed(1);
    case 'bytes':
      return v.toLocaleString('en-US');
    case 'count':
      return String(Math.round(v));
    case 'per-call':
      return v.toFixed(2);
    case 'per-second':
      return v.toFixed(3);
  }
}

const UNIT_SUFFIX: Record<Unit, string> = { us: ' (µs)', ms: ' (ms)', bytes: ' (bytes)', count: '', 'per-call': '', 'per-second': '' };
const UNIT_NAME: Record<Unit, string> = { us: 'µs', ms: 'ms', bytes: 'bytes', count: '', 'per-call': '', 'per-second': '/s' };

/** "+312.4 µs", "−71.2 µs": a signed difference in its unit. */
function formatDifference(r: RatioResult): string {
  if (!Number.isFinite(r.difference)) return '–';
  const sign = r.difference > 0 ? '+' : r.difference < 0 ? '−' : '±';
  return `${sign}${formatValue(Math.abs(r.difference), r.unit)} ${UNIT_NAME[r.unit]}`.trimEnd();
}

/** "PASS (0.09 under)" / "MISS (by 0.21, 18% over)"; informational ratios have no verdict. */
function verdict(r: RatioResult): string {
  if (r.max === undefined && r.min === undefined) return '';
  if (!Number.isFinite(r.value)) return 'MISS (no value)';
  if (r.min !== undefined) {
    const margin = r.value - r.min;
    return margin >= 0 ? `PASS (${margin.toFixed(2)} over)` : `MISS (by ${(-margin).toFixed(2)}, ${((-margin / r.min) * 100).toFixed(0)}% under)`;
  }
  const margin = r.max! - r.value;
  return margin >= 0 ? `PASS (${margin.toFixed(2)} under)` : `MISS (by ${(-margin).toFixed(2)}, ${((-margin / r.max!) * 100).toFixed(0)}% over)`;
}

function table(header: string[], rows: string[][], markdown: boolean): string {
  if (markdown) {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function sectionTable(s: Section, markdown: boolean): string {
  return table(
    ['', ...s.columns.map((c) => c.header + UNIT_SUFFIX[c.unit])],
    s.rows.map((r) => [r.label, ...s.columns.map((c) => formatValue(r.values[c.key], c.unit))]),
    markdown,
  );
}

function ratioTable(ratios: RatioResult[], markdown: boolean): string {
  return table(
    ['ratio', 'value', 'difference', 'target', 'result'],
    ratios.map((r) => [
      r.label,
      Number.isFinite(r.value) ? r.value.toFixed(2) : '–',
      formatDifference(r),
      r.min !== undefined ? `≥ ${r.min}` : r.max === undefined ? '' : `≤ ${r.max}`,
      verdict(r),
    ]),
    markdown,
  );
}

function summaryLine(report: Report): string {
  const m = report.machine;
  return `Node.js ${m.node}, ${m.cores} × ${m.cpu}, load ${report.load.start.toFixed(1)} → ${report.load.end.toFixed(1)}, plan ${report.plan}, ${(report.durationMs / 1000).toFixed(0)} s`;
}

export function formatConsole(report: Report): string {
  const parts = [summaryLine(report), ...report.sections.map((s) => `${s.title}  [${s.iterations}]\n${sectionTable(s, false)}`)];
  parts.push(`Ratios\n${ratioTable(report.ratios, false)}`);
  return parts.join('\n\n');
}

/** The document: generated tables, then `analysis` (markdown kept by hand), then how to rerun. */
export function formatMarkdown(report: Report, reproduce: string, analysis: string): string {
  const m = report.machine;
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${report.date}; rerun it rather than editing this file.`,
    '',
    '## Ratios and targets',
    '',
    ratioTable(report.ratios, true),
    '',
    '## Machine',
    '',
    table(
      ['', 'value'],
      [
        ['CPU', `${m.cpu} × ${m.cores}`],
        ['Memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Node.js', m.node],
        ['Load average (1 min)', `${report.load.start.toFixed(2)} at start, ${report.load.end.toFixed(2)} at end`],
        ['Plan', `${report.plan}, ${(report.durationMs / 1000).toFixed(0)} s in all`],
      ],
      true,
    ),
    '',
    ...report.sections.flatMap((s) => [`## ${s.title}`, '', s.method, '', `Ran: ${s.iterations}.`, '', sectionTable(s, true), '']),
    analysis.trim(),
    '',
    '## Reproduce',
    '',
    reproduce,
    '',
  ].join('\n');
}
