// Runs the whole benchmark: builds the bundles, runs each suite under its own time budget, and
// computes the ratios and targets. A plan sets how much to run; `run.ts` prints and writes it.
import { budget } from './budget.ts';
import { buildAll } from './build.ts';
import { computeRatios, loadAverage, machineInfo, type Ratio, type Report, type Section } from './report.ts';
import { measureCold, type ColdPlan } from './suites/cold.ts';
import { measureEras, type ErasPlan } from './suites/eras.ts';
import { measureWarm, type WarmPlan } from './suites/warm.ts';

export interface Plan {
  name: string;
  warm: WarmPlan;
  cold: ColdPlan;
  eras: ErasPlan;
  /** Per-suite time budgets; a suite stops starting new rounds once its budget is spent. */
  budgetMs: { warm: number; cold: number; eras: number };
}

export const FULL: Plan = {
  name: 'full',
  warm: { warmupCalls: 3_000, rounds: 50, callsPerRound: 400 },
  cold: { samples: 15 },
  eras: { warmupCalls: 300, rounds: 30, callsPerRound: 300 },
  budgetMs: { warm: 60_000, cold: 50_000, eras: 40_000 },
};

export const QUICK: Plan = {
  name: 'quick',
  warm: { warmupCalls: 50, rounds: 2, callsPerRound: 20 },
  cold: { samples: 1 },
  eras: { warmupCalls: 10, rounds: 2, callsPerRound: 10 },
  budgetMs: { warm: 5_000, cold: 5_000, eras: 5_000 },
};

/** The targets of the core issue, and ratios shown beside them to explain the numbers. */
export const RATIOS: Ratio[] = [
  { label: 'warm per-call median, kit / SDK minimal', section: 'warm', numerator: 'kit', denominator: 'sdk', column: 'median', max: 0.6 },
  { label: 'cold start median, kit / SDK minimal', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'median', max: 1.2 },
  { label: 'HTTP p50, legacy / modern', section: 'eras', numerator: 'legacy', denominator: 'modern', column: 'p50', max: 1.3 },
  { label: 'warm per-call median, kit / raw Hono', section: 'warm', numerator: 'kit', denominator: 'hono', column: 'median' },
  { label: 'warm per-call median, kit at WARN / SDK minimal', section: 'warm', numerator: 'kit-warn', denominator: 'sdk', column: 'median' },
  { label: 'cold import only, kit / SDK minimal', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'import' },
  { label: 'bundle size, kit / SDK minimal', section: 'cold', numerator: 'kit', denominator: 'sdk', column: 'bytes' },
  { label: 'HTTP p99, legacy / modern', section: 'eras', numerator: 'legacy', denominator: 'modern', column: 'p99' },
];

export async function runBench(plan: Plan, progress: (line: string) => void = () => {}): Promise<Report> {
  const started = performance.now();
  const loadAtStart = loadAverage();
  progress('building bundles');
  const built = await buildAll();
  const sections: Section[] = [];
  progress('warm per-call');
  sections.push(await measureWarm(built, plan.warm, budget(plan.budgetMs.warm)));
  progress('cold start');
  sections.push(await measureCold(built, plan.cold, budget(plan.budgetMs.cold)));
  progress('legacy vs modern over HTTP');
  sections.push(await measureEras(plan.eras, budget(plan.budgetMs.eras)));
  return {
    date: new Date().toISOString(),
    plan: plan.name,
    durationMs: performance.now() - started,
    machine: machineInfo(),
    load: { start: loadAtStart, end: loadAverage() },
    sections,
    ratios: computeRatios(sections, RATIOS),
  };
}
