// The gateway's configuration and naming rules, and the client's backoff and breaker arithmetic:
// what an operator writes, what they are told when it is wrong, and how names and waits come out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../shared/client/breaker.ts';
import { UpstreamRateLimitedError, UpstreamTimeoutError, UpstreamUnavailableError } from '../../shared/client/errors.ts';
import { parseRetryAfter, retryDelay, retryPolicy } from '../../shared/client/retry.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { invalidToolName, rewriteUris, splitName, splitUri } from '../../shared/gateway/names.ts';

const noFiles = () => Promise.reject(new Error('ENOENT: no such file'));
const KEY = { MCP_REQUEST_STATE_KEY: 'k'.repeat(32) };

describe('gateway configuration', () => {
  it('reads MCP_GATEWAY_UPSTREAMS as name=url pairs with defaults for the rest', async () => {
    const config = await loadGatewayConfig({ ...KEY, MCP_GATEWAY_UPSTREAMS: 'notes=https://a.example/mcp, echo=http://127.0.0.1:3001/mcp' }, noFiles);
    assert.deepEqual(
      config.upstreams.map((u) => [u.name, u.url, u.protocol, u.identity]),
      [
        ['notes', 'https://a.example/mcp', 'auto', 'on-behalf-of'],
        ['echo', 'http://127.0.0.1:3001/mcp', 'auto', 'on-behalf-of'],
      ],
    );
    assert.equal(config.name, 'gateway');
    assert.equal(config.adminScope, 'gateway:admin');
    assert.equal(config.listTimeoutMs, 5_000);
    assert.ok(Object.isFrozen(config));
  });

  it('reads per-upstream settings from MCP_GATEWAY_CONFIG, a file or the JSON itself, credentials from the variables it names', async () => {
    const json = JSON.stringify({
      listTimeoutMs: 2000,
      upstreams: {
        notes: {
          url: 'https://a.example/mcp',
          protocol: 'legacy',
          identity: 'gateway',
          auth: { apiKeyVariable: 'NOTES_KEY', header: 'x-api-key' },
          breaker: { failureThreshold: 2 },
          access: { scopes: ['gw:notes'] },
        },
      },
    });
    for (const value of [json, '/etc/gateway.json']) {
      const config = await loadGatewayConfig({ MCP_GATEWAY_CONFIG: value, NOTES_KEY: 'mcpk_secret' }, async () => json);
      const [notes] = config.upstreams;
      assert.equal(config.listTimeoutMs, 2_000);
      assert.deepEqual(notes!.credentials, { kind: 'apikey', apiKey: 'mcpk_secret', header: 'x-api-key' });
      assert.deepEqual(notes!.breaker, { failureThreshold: 2 });
      assert.deepEqual(notes!.access, { scopes: ['gw:notes'] });
    }
  });

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['no upstreams', {}, /^MCP_GATEWAY_UPSTREAMS: no upstreams: set MCP_GATEWAY_UPSTREAMS=notes=/],
    [
      'both variables',
      { MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp', MCP_GATEWAY_CONFIG: '{}' },
      /^MCP_GATEWAY_CONFIG: set MCP_GATEWAY_UPSTREAMS or MCP_GATEWAY_CONFIG, not both/,
    ],
    ['a pair without =', { MCP_GATEWAY_UPSTREAMS: 'notes' }, /expected name=url pairs separated by commas, got "notes"/],
    ['a name twice', { MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp,a=https://b/mcp' }, /upstream "a" is named twice/],
    [
      'a name that cannot prefix tools',
      { MCP_GATEWAY_UPSTREAMS: 'My_Notes=https://a/mcp' },
      /upstream name "My_Notes" must be lowercase letters, digits and hyphens/,
    ],
    ['a URL that is not http(s)', { MCP_GATEWAY_UPSTREAMS: 'a=ftp://a/mcp' }, /^MCP_GATEWAY_UPSTREAMS: upstreams\.a\.url: /],
    [
      'an unknown setting',
      { MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","retries":3}}}' },
      /^MCP_GATEWAY_CONFIG: upstreams\.a: Unrecognized key/,
    ],
    ['a file that is not there', { MCP_GATEWAY_CONFIG: 'gateway.json' }, /^MCP_GATEWAY_CONFIG: cannot read gateway.json: ENOENT/],
    [
      'a credential variable that is not set',
      { MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","identity":"gateway","auth":{"apiKeyVariable":"A_KEY"}}}}' },
      /^A_KEY: is not set: upstream "a" reads its credential from it/,
    ],
    [
      'a credential beside the assertion',
      { ...KEY, MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","auth":{"apiKeyVariable":"A_KEY"}}}}', A_KEY: 'k' },
      /^MCP_GATEWAY_CONFIG: upstream "a": "auth" is the gateway's own credential, sent only with "identity": "gateway"/,
    ],
    [
      'the gateway identity for many callers unless shared on purpose',
      { MCP_AUTH_MODE: 'apikey', MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","identity":"gateway"}}}' },
      /^MCP_GATEWAY_CONFIG: upstream "a": "identity": "gateway" makes every caller of this gateway one principal upstream.*set "shareIdentity": true/,
    ],
    [
      'forwarded scopes without on-behalf-of',
      { MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","identity":"gateway","forwardScopes":["x"]}}}' },
      /forwardScopes applies to on-behalf-of only/,
    ],
    [
      'on-behalf-of without a key to sign with',
      { MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp' },
      /^MCP_REQUEST_STATE_KEY: is not set: the gateway derives the key that signs its on-behalf-of assertions from it/,
    ],
    [
      'a gateway name that cannot name principals',
      { ...KEY, MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp', MCP_GATEWAY_NAME: 'Gate#1' },
      /^MCP_GATEWAY_NAME: "Gate#1" must be lowercase letters/,
    ],
    [
      'a bad list timeout',
      { ...KEY, MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp', MCP_GATEWAY_LIST_TIMEOUT_MS: 'soon' },
      /^MCP_GATEWAY_LIST_TIMEOUT_MS: expected a whole number/,
    ],
  ];
  it('bounds each upstream answer at 8 MiB unless the config says otherwise, per upstream or for all; less than 64 KiB is refused', async () => {
    const listed = await loadGatewayConfig({ ...KEY, MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp' }, noFiles);
    assert.equal(listed.upstreams[0]!.maxAnswerBytes, 8 * 1024 * 1024);
    const json = { maxAnswerBytes: 1_000_000, upstreams: { a: { url: 'https://a/mcp' }, b: { url: 'https://b/mcp', maxAnswerBytes: 50_000_000 } } };
    const config = await loadGatewayConfig({ ...KEY, MCP_GATEWAY_CONFIG: JSON.stringify(json) }, noFiles);
    assert.deepEqual(
      config.upstreams.map((u) => [u.name, u.maxAnswerBytes]),
      [
        ['a', 1_000_000],
        ['b', 50_000_000],
      ],
    );
    const small = { upstreams: { a: { url: 'https://a/mcp', maxAnswerBytes: 1000 } } };
    await assert.rejects(
      loadGatewayConfig({ ...KEY, MCP_GATEWAY_CONFIG: JSON.stringify(small) }, noFiles),
      /MCP_GATEWAY_CONFIG: upstreams\.a\.maxAnswerBytes: .*65536/,
    );
  });

  it('shares the gateway identity with many callers when told to, and with one caller (no auth) anyway', async () => {
    const shared = await loadGatewayConfig(
      { MCP_AUTH_MODE: 'apikey', MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","identity":"gateway","shareIdentity":true}}}' },
      noFiles,
    );
    assert.equal(shared.upstreams[0]!.identity, 'gateway');
    const alone = await loadGatewayConfig({ MCP_GATEWAY_CONFIG: '{"upstreams":{"a":{"url":"https://a/mcp","identity":"gateway"}}}' }, noFiles);
    assert.equal(alone.upstreams[0]!.identity, 'gateway');
  });

  for (const [what, env, message] of refusals) {
    it(`refuses ${what}, naming the variable`, async () => {
      await assert.rejects(loadGatewayConfig(env, noFiles), (err: Error) => {
        assert.equal(err.name, 'ConfigError');
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe('gateway names', () => {
  it('splits a prefixed name at the first separator, and refuses names without one', () => {
    assert.deepEqual(splitName('notes__note_add'), { upstream: 'notes', name: 'note_add' });
    assert.deepEqual(splitName('notes__a__b'), { upstream: 'notes', name: 'a__b' });
    for (const bare of ['echo', '__echo', 'notes__']) assert.equal(splitName(bare), undefined);
  });

  it('says why a prefixed name is not a valid tool name', () => {
    assert.equal(invalidToolName('notes__ok.v2-x'), undefined);
    assert.match(invalidToolName('notes__has space')!, /characters a tool name may not have/);
    assert.match(invalidToolName(`notes__${'x'.repeat(122)}`)!, /longer than the 128 characters/);
  });

  it('prefixes resource URIs as a scheme prefix, and splits them back, schemes with + included', () => {
    assert.deepEqual(splitUri('notes+artifact://h/1/a.md'), { upstream: 'notes', uri: 'artifact://h/1/a.md' });
    assert.deepEqual(splitUri('git-mirror+git+https://x/y'), { upstream: 'git-mirror', uri: 'git+https://x/y' });
    assert.equal(splitUri('artifact://h/1/a.md'), undefined);
    const rewritten = rewriteUris('notes', {
      content: [
        { type: 'text', text: 'x' },
        { type: 'resource_link', uri: 'artifact://p/1/a', name: 'a' },
        { type: 'resource', resource: { uri: 'notes://n/1', text: '' } },
      ],
    });
    assert.deepEqual(
      rewritten.content.map((c) => ('uri' in c ? c.uri : 'resource' in c ? c.resource?.uri : c.type)),
      ['text', 'notes+artifact://p/1/a', 'notes+notes://n/1'],
    );
  });
});

describe('client backoff and breaker', () => {
  const policy = retryPolicy({ attempts: 4, baseDelayMs: 100, maxDelayMs: 300, maxRetryAfterMs: 2_000 });
  const down = new UpstreamUnavailableError('s', 'HTTP 503', true, 503);
  const refused = new UpstreamUnavailableError('s', 'ECONNREFUSED', false);

  it('waits a random time up to base·2^attempt, capped (full jitter)', () => {
    assert.deepEqual(
      [0, 1, 2].map((attempt) => retryDelay(policy, attempt, down, true, () => 1)),
      [100, 200, 300],
    );
    assert.equal(
      retryDelay(policy, 1, down, true, () => 0.5),
      100,
    );
    assert.equal(retryDelay(policy, 3, down, true), undefined, 'no attempt after the last');
  });

  it('retries an unsafe call only when the server never got it', () => {
    assert.equal(retryDelay(policy, 0, down, false), undefined);
    assert.notEqual(retryDelay(policy, 0, refused, false), undefined);
    assert.equal(retryDelay(policy, 0, new UpstreamTimeoutError('s', 10, 'tools/call'), false), undefined);
  });

  it('never waits less than Retry-After, and not at all past the longest it allows', () => {
    assert.equal(
      retryDelay(policy, 0, new UpstreamRateLimitedError('s', 1_500, ''), true, () => 0),
      1_500,
    );
    assert.equal(retryDelay(policy, 0, new UpstreamRateLimitedError('s', 60_000, ''), true), undefined);
    assert.equal(parseRetryAfter('3'), 3_000);
    assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now())! > 8_000, true);
    assert.equal(parseRetryAfter('soon'), undefined);
  });

  it('opens after the threshold, admits one trial after the cooldown, and closes or reopens on its outcome', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 }, () => now);
    breaker.failed('a');
    assert.equal(breaker.state, 'closed');
    breaker.failed('b');
    assert.equal(breaker.state, 'open');
    assert.deepEqual(breaker.admit(), { retryAfterMs: 1_000, lastFailure: 'b' });
    now = 1_000;
    assert.equal(breaker.admit(), undefined, 'the trial');
    assert.equal(breaker.admit()?.retryAfterMs, 0, 'only one trial at a time');
    breaker.failed('c');
    assert.equal(breaker.state, 'open');
    now = 2_000;
    assert.equal(breaker.admit(), undefined);
    breaker.succeeded();
    assert.equal(breaker.state, 'closed');
  });
});
