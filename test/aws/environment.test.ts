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

  it("uses the construct's default timeout when none is given, and the caller's settings over the construct's", () => {
    const env = modelledEnvironment('notes', { MCP_TOOL_TIMEOUT_MS: '5000', HOME: '/root' });
    assert.equal(env.MCP_TASK_TIMEOUT_MS, '840000');
    assert.equal(env.MCP_TOOL_TIMEOUT_MS, '5000');
    assert.equal(env.HOME, undefined, 'only MCP_, AWS_, UPSTASH_ and log settings pass');
  });
});
