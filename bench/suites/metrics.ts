// What the per-tool metrics cost a call: building the embedded-metric members of one access line,
// timed directly in batches (the warm table's "metrics on" row shows the whole call with them,
// line writing included, beside the same kit without).
import type { Section } from '../report.ts';
import { createToolMetrics } from '../../shared/metrics.ts';
import { summarize } from '../stats.ts';

/** What the metrics may cost a call, at most. */
export const BUDGET_US = 2;

export interface MetricsPlan {
  batches: number;
  callsPerBatch: number;
}

export function measureMetrics(plan: MetricsPlan): Section {
  const metrics = createToolMetrics('echo', 'prod', ['echo', 'other']);
  const micros: number[] = [];
  let bytes = 0;
  for (let b = 0; b < plan.batches; b++) {
    const started = performance.now();
    for (let i = 0; i < plan.callsPerBatch; i++) bytes = metrics('echo', i % 2 ? 'modern' : 'legacy', Date.now(), 0.42 + i, 'result', 200, false)!.length;
    micros.push(((performance.now() - started) * 1000) / plan.callsPerBatch);
  }
  const s = summarize(micros);
  return {
    id: 'metrics',
    title: "Per-tool metrics: building one access line's embedded metrics",
    method:
      'createToolMetrics (shared/metrics.ts) for a server with two tools, called for alternating eras with a changing duration, ' +
      'timed over batches in the runner process; a row is the median batch, per call. Target: under 2 µs a call.',
    iterations: `${plan.batches} batches × ${plan.callsPerBatch.toLocaleString('en-US')} calls`,
    columns: [
      { key: 'median', header: 'per call', unit: 'us' },
      { key: 'max', header: 'slowest batch, per call', unit: 'us' },
      { key: 'bytes', header: 'bytes added to the line', unit: 'count' },
    ],
    rows: [
      { id: 'fragment', label: 'metrics members of one tools/call access line', values: { median: s.median, max: s.max, bytes } },
      // Not a measurement: the target, as a row the ratio table can divide by.
      { id: 'budget', label: 'budget per call (the target)', values: { median: BUDGET_US, max: BUDGET_US, bytes: 0 } },
    ],
  };
}
