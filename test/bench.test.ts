// Smoke test of `npm run bench`: the quick plan builds every bundle, runs every suite (the cache and
// rate-limit rows against a real redis-server), and yields every row and ratio as a finite number.
// Timings are not asserted; they belong to the machine. What the rows did is: a cache hit never ran
// the tool, and only the Redis rows talked to Redis.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { QUICK, RATIOS, runBench } from '../bench/runner.ts';
import { CACHE_ROW_IDS } from '../bench/suites/cache.ts';
import { COLD_TARGETS } from '../bench/suites/cold.ts';
import { GATEWAY_ROW_IDS } from '../bench/suites/gateway.ts';
import { LAMBDA_COLD_TARGETS } from '../bench/suites/modelled-lambda.ts';
import { RATE_LIMIT_ROW_IDS } from '../bench/suites/rate-limit.ts';
import { WARM_VARIANTS } from '../bench/suites/warm.ts';

it('the benchmark runner measures every row of every suite', { timeout: 180_000 }, async () => {
  const report = await runBench(QUICK);
  const section = (id: string) => report.sections.find((s) => s.id === id);
  const rowIds = (id: string) => section(id)?.rows.map((r) => r.id);
  assert.deepEqual(
    rowIds('warm'),
    WARM_VARIANTS.map((v) => v.id),
  );
  assert.deepEqual(rowIds('cold'), COLD_TARGETS);
  assert.deepEqual(rowIds('eras'), ['modern', 'legacy']);
  assert.deepEqual(rowIds('cache'), CACHE_ROW_IDS);
  assert.deepEqual(rowIds('ratelimit'), RATE_LIMIT_ROW_IDS);
  assert.deepEqual(rowIds('lambda-cold'), LAMBDA_COLD_TARGETS);
  assert.deepEqual(rowIds('handover'), ['redis', 'table', 'direct']);
  assert.deepEqual(rowIds('throughput'), ['kit', 'sdk', 'hono']);
  assert.deepEqual(
    section('throughput')?.columns.map((c) => c.key),
    ['rps16', 'min16', 'max16', 'rps64', 'min64', 'max64'],
  );
  assert.deepEqual(rowIds('metrics'), ['fragment', 'budget']);
  assert.deepEqual(rowIds('tasks'), ['node-direct', 'node-create', 'node-complete', 'node-seen', 'aws-direct', 'aws-create', 'aws-complete', 'aws-seen']);
  assert.deepEqual(rowIds('event-polling'), ['fixed-1x1', 'fixed-1x100', 'fixed-100x1', 'backoff-1x1', 'backoff-1x100', 'backoff-100x1']);
  assert.deepEqual(rowIds('gateway'), GATEWAY_ROW_IDS.calls);
  assert.deepEqual(rowIds('gateway-lists'), GATEWAY_ROW_IDS.lists);
  assert.deepEqual(rowIds('gateway-circuit'), GATEWAY_ROW_IDS.circuit);
  assert.deepEqual(rowIds('units'), [
    'modernCall',
    'legacyCall',
    'legacyCallColdSession',
    'initialize',
    'cachedHit',
    'artifactPut',
    'artifactRead',
    'task',
    'taskGet',
  ]);
  for (const section of report.sections) {
    for (const row of section.rows) {
      for (const column of section.columns) {
        const value = row.values[column.key];
        // Zero is a real value for a few columns (a bundle that imports no external package).
        assert.ok(Number.isFinite(value) && value! >= 0, `${section.id} / ${row.id} / ${column.key} = ${value}`);
      }
    }
  }
  const value = (id: string, row: string, column: string) => section(id)?.rows.find((r) => r.id === row)?.values[column];
  for (const backend of ['memory', 'redis']) {
    assert.equal(value('cache', `${backend}-hit`, 'runs'), 0, `${backend}: a timed cache hit ran the tool`);
    assert.equal(value('cache', `${backend}-uncached`, 'runs'), 1, `${backend}: the uncached call did not run the tool once per call`);
  }
  assert.equal(value('cache', 'memory-hit', 'redis'), 0, 'the in-process cache sent requests to Redis');
  assert.ok(value('cache', 'redis-hit', 'redis')! >= 1, 'a Redis cache hit sent no request to Redis');
  assert.equal(value('ratelimit', 'off', 'redis'), 0, 'with rate limiting off, an echo call sent requests to Redis');
  assert.ok(value('ratelimit', 'on', 'redis')! >= 1, 'with rate limiting on, an echo call sent no request to Redis');
  assert.equal(report.ratios.length, RATIOS.length);
  for (const ratio of report.ratios) {
    assert.ok(Number.isFinite(ratio.value), `${ratio.label} = ${ratio.value}`);
    assert.ok(Number.isFinite(ratio.difference), `${ratio.label}: difference = ${ratio.difference}`);
  }
});
