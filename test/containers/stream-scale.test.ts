// Many listen streams on one long-lived server process (the container model), measured with the
// harness `npm run measure:streams` uses: every stream gets an event another instance published
// through Redis within 2 s, memory per stream stays under a bound, and a stream listening for
// something else gets nothing (the control: a kit fanning every event out to every stream fails it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultServer, measureContainerStreams } from '../../cost/container-streams.ts';

const STREAMS = 200;
/** RSS per stream; 1,000 streams measured about 140 kB each (docs/scale.md), heap about 20 kB. */
const RSS_KB_PER_STREAM = 400;
const HEAP_KB_PER_STREAM = 100;

describe('listen streams on one server process (container model)', () => {
  it(`holds ${STREAMS} streams, delivers an event to all within 2 s, and stays under ${RSS_KB_PER_STREAM} kB a stream`, async () => {
    const result = await measureContainerStreams({
      streams: STREAMS,
      clients: 1,
      rounds: 3,
      roundGapMs: 1_500,
      idleSeconds: 1,
      server: defaultServer(),
      serverName: 'notes',
      // The containers' setting: the poller keeps the 1 s pace (one poller per task, not per stream).
      env: { MCP_EVENT_POLL_MAX_MS: '1000' },
    });
    assert.equal(result.opened, STREAMS, `opened ${result.opened}; refused ${JSON.stringify(result.refused)}; errors ${result.errors.join('; ')}`);
    assert.deepEqual(result.rounds.map((r) => r.missing), [0, 0, 0], 'every stream got every event');
    assert.equal(result.latency.n, 3 * STREAMS);
    assert.ok(result.latency.p99 < 2_000, `p99 ${result.latency.p99.toFixed(0)} ms`);
    assert.ok(result.memory.rssKbPerStream < RSS_KB_PER_STREAM, `RSS ${result.memory.rssKbPerStream.toFixed(1)} kB a stream`);
    assert.ok(result.memory.heapKbPerStream! < HEAP_KB_PER_STREAM, `heap ${result.memory.heapKbPerStream!.toFixed(1)} kB a stream`);
    assert.equal(result.control.status, 200, 'the control stream opened');
    assert.equal(result.control.listChanges, 0, 'a stream for prompt list changes got no tools list change');
  });
});
