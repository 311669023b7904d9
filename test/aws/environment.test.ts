// The modelled function's environment is the one the construct would set for the same timeout:
// limits derived from the function timeout follow it, and the caller's own MCP_* settings win.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelledEnvironment } from '../../local/aws/environment.ts';

describe('modelled environment', () => {
  it('derives tool, task and stream limits from the modelled timeout, as the construct does', () => {
    const env = modelledEnvironment('notes', {}, 30);
    assert.equal(env.MCP_TOOL_TIMEOUT_MS, '20000');
    assert.equal(env.MCP_TASK_TIMEOUT_MS, '20000');
    assert.equal(env.MCP_STREAM_MAX_SECONDS, '20');
  });

  it('sizes the stream caps from the modelled concurrency (MCP_AWS_CONCURRENCY): half of it server-wide, two of those per caller', () => {
    assert.deepEqual(
      [modelledEnvironment('notes', {}, undefined, 10)].map((e) => [e.MCP_MAX_OPEN_STREAMS, e.MCP_STREAMS_PER_PRINCIPAL]),
      [['5', '2']],
    );
    assert.deepEqual(
      [modelledEnvironment('notes', {}, undefined, 40)].map((e) => [e.MCP_MAX_OPEN_STREAMS, e.MCP_STREAMS_PER_PRINCIPAL]),
      [['20', '10']],
    );
    assert.equal(modelledEnvironment('notes', {}).MCP_MAX_OPEN_STREAMS, '100', "control: without it, the construct's default account");
  });

  it("uses the construct's default timeout when none is given, and the caller's settings over the construct's", () => {
    const env = modelledEnvironment('notes', { MCP_TOOL_TIMEOUT_MS: '5000', HOME: '/root' });
    assert.equal(env.MCP_TASK_TIMEOUT_MS, '840000');
    assert.equal(env.MCP_TOOL_TIMEOUT_MS, '5000');
    assert.equal(env.HOME, undefined, 'only MCP_, AWS_, UPSTASH_ and log settings pass');
  });
});
