// Smoke test of `npm run bench`: the quick plan builds every bundle, runs every suite, and yields
// every row and ratio as a finite number. Timings are not asserted; they belong to the machine.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { QUICK, RATIOS, runBench } from '../bench/runner.ts';
import { COLD_TARGETS } from '../bench/suites/cold.ts';
import { WARM_VARIANTS } from '../bench/suites/warm.ts';

it('the benchmark runner measures every row of every suite', { timeout: 60_000 }, async () => {
  const report = await runBench(QUICK);
  const rowIds = (section: string) => report.sections.find((s) => s.id === section)?.rows.map((r) => r.id);
  assert.deepEqual(rowIds('warm'), WARM_VARIANTS.map((v) => v.id));
  assert.deepEqual(rowIds('cold'), COLD_TARGETS);
  assert.deepEqual(rowIds('eras'), ['modern', 'legacy']);
  for (const section of report.sections) {
    for (const row of section.rows) {
      for (const column of section.columns) {
        const value = row.values[column.key];
        // Zero is a real value for a few columns (a bundle that imports no external package).
        assert.ok(Number.isFinite(value) && value! >= 0, `${section.id} / ${row.id} / ${column.key} = ${value}`);
      }
    }
  }
  assert.equal(report.ratios.length, RATIOS.length);
  for (const ratio of report.ratios) assert.ok(Number.isFinite(ratio.value), `${ratio.label} = ${ratio.value}`);
});
