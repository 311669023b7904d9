// The modelled Lambda's accounting (local/aws/report.ts): the REPORT line as Lambda writes it, and
// the invocation record made from the same measured numbers, not read back out of the line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { account, type Measured } from '../../local/aws/report.ts';

const measured: Measured = { id: 'r-1', type: 'RequestResponse', environment: 2, startedAt: 1_000, endedAt: 1_012.5, memoryMb: 1024, maxMemoryMb: 96 };

describe('REPORT accounting', () => {
  it('writes the REPORT line as Lambda does, billing whole milliseconds', () => {
    const { report, record } = account(measured);
    assert.equal(report, 'REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB');
    assert.deepEqual(record, {
      id: 'r-1',
      type: 'RequestResponse',
      environment: 2,
      maxMemoryMb: 96,
      startedAt: 1_000,
      endedAt: 1_012.5,
      durationMs: 12.5,
      initDurationMs: undefined,
      error: undefined,
    });
  });

  it('adds the init duration of a cold start and the status of a failure; the record keeps the measured init, which the line rounds', () => {
    const { report, record } = account({ ...measured, initDurationMs: 412.456, error: 'Sandbox.Timedout', maxMemoryMb: undefined });
    assert.match(report, /\tMax Memory Used: \? MB\tInit Duration: 412\.46 ms\tStatus: Sandbox\.Timedout$/);
    assert.equal(record.initDurationMs, 412.456, 'not 412.46, as parsing the line would give');
    assert.equal(record.error, 'Sandbox.Timedout');
  });

  it('bills at least a millisecond', () => {
    assert.match(account({ ...measured, endedAt: measured.startedAt }).report, /\tDuration: 0\.00 ms\tBilled Duration: 1 ms\t/);
  });
});
