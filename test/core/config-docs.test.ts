// One table of settings (shared/config/variables.ts): the README's configuration table is the one
// it renders, loadConfig enforces its bounds and falls back to its defaults, and the construct sets
// exactly the variables it marks.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { CONSTRUCT_VARIABLES, VARIABLES, type Variable, type VariableName } from '../../shared/config/variables.ts';
import { KIT_VARIABLES } from '../../infra/endpoint/settings.ts';
import { END, withConfigurationTable } from '../../scripts/config-docs.ts';

const entries = Object.entries(VARIABLES) as [VariableName, Variable][];
/** Read by the gateway or `npm start`, not loadConfig. */
const NOT_KIT = new Set<VariableName>(['PORT', 'MCP_GATEWAY_LIST_TIMEOUT_MS']);

describe('the table of settings', () => {
  it("is what the README's configuration table says (npm run docs:config rewrites it)", async () => {
    const readme = await readFile('README.md', 'utf8');
    assert.equal(withConfigurationTable(readme), readme, 'README.md is out of date: run npm run docs:config');
    // Control: a README whose table lost a row is rewritten.
    const stale = readme.replace(/\| `MCP_TASK_POLL_MS` .*\n/, '');
    assert.notEqual(stale, readme);
    assert.equal(withConfigurationTable(stale), readme);
    assert.throws(() => withConfigurationTable(readme.replace(END, '')), /must sit between/);
  });

  it('gives loadConfig its lower bounds: one below each is refused, naming the variable', () => {
    const bounded = entries.filter(([name, v]) => v.kind === 'whole number' && (v.min ?? 0) > 0 && !NOT_KIT.has(name));
    assert.ok(bounded.length > 15);
    for (const [name, v] of bounded) {
      assert.throws(
        () => loadConfig({ [name]: String(v.min! - 1) }),
        (e: unknown) => e instanceof ConfigError && e.variable === name && e.message.includes(`at least ${v.min}`),
        name,
      );
      assert.doesNotThrow(() => loadConfig({ [name]: String(v.min) }), name);
    }
  });

  it('gives loadConfig its upper bounds, with the reason', () => {
    const bounded = entries.filter(([, v]) => v.max !== undefined);
    assert.ok(bounded.length > 0);
    for (const [name, v] of bounded) {
      assert.throws(
        () => loadConfig({ [name]: String(v.max!.value + 1) }),
        (e: unknown) => e instanceof ConfigError && e.message === `${name}: must be at most ${v.max!.value}: ${v.max!.why}`,
      );
      assert.doesNotThrow(() => loadConfig({ [name]: String(v.max!.value) }));
    }
  });

  it('gives loadConfig its defaults', () => {
    const c = loadConfig({});
    const read: Partial<Record<VariableName, unknown>> = {
      MCP_PATH: c.path,
      MCP_TABLE_NAME: c.tableName,
      MCP_BUCKET_NAME: c.bucketName,
      MCP_STAGE: c.stage,
      MCP_TOOL_TIMEOUT_MS: c.toolTimeoutMs,
      MCP_TASK_TIMEOUT_MS: c.tasks.timeoutMs,
      MCP_TASK_STALE_SECONDS: c.tasks.staleAfterSeconds,
      MCP_STREAM_MAX_SECONDS: c.streamMaxSeconds,
      MCP_SSE_KEEPALIVE_MS: c.sseKeepAliveMs,
      MCP_GET_STREAMS: c.getStreams,
      MCP_RATE_LIMIT_REQUESTS: c.rateLimit.requests,
      MCP_RATE_LIMIT_WINDOW_SECONDS: c.rateLimit.windowSeconds,
      MCP_RATE_LIMIT_FAIL_OPEN: c.rateLimit.failOpen,
      MCP_STREAMS_PER_PRINCIPAL: c.caps.openStreams,
      MCP_MAX_OPEN_STREAMS: c.caps.serverStreams,
      MCP_APIKEY_CACHE_SECONDS: c.auth.apiKeyCacheSeconds,
      LOG_LEVEL: c.logLevel,
    };
    for (const [name, value] of Object.entries(read)) assert.equal(value, (VARIABLES[name as VariableName] as Variable).default, name);
  });

  it('lists what the construct sets', () => {
    assert.deepEqual([...KIT_VARIABLES].sort(), [...CONSTRUCT_VARIABLES].sort());
    assert.ok(KIT_VARIABLES.includes('MCP_TOOL_TIMEOUT_MS') && !KIT_VARIABLES.includes('MCP_AUTH_MODE'));
  });
});
