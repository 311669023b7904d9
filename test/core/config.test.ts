// The configuration contract: documented defaults, and start-up errors that name the variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config.ts';

describe('configuration', () => {
  it('has working defaults for a local run', () => {
    const c = loadConfig({});
    assert.equal(c.path, '/mcp');
    assert.equal(c.tableName, 'mcp-kit');
    assert.equal(c.region, 'us-east-1');
    assert.deepEqual(c.auth.methods, []);
    assert.equal(c.toolTimeoutMs, 60_000);
    assert.equal(c.sessionTtlSeconds, 86_400);
    assert.equal(c.sessionCacheMs, 2_000);
    assert.equal(c.maxBodyBytes, 1_048_576);
    assert.equal(c.redis, undefined);
    assert.ok(Object.isFrozen(c));
  });

  it('backs event polling off to MCP_EVENT_POLL_MAX_MS while idle, never below MCP_EVENT_POLL_MS', () => {
    assert.deepEqual([loadConfig({}).eventPollMs, loadConfig({}).eventPollMaxMs], [1_000, 5_000]);
    assert.equal(loadConfig({ MCP_EVENT_POLL_MS: '8000' }).eventPollMaxMs, 8_000, 'the default ceiling follows a slower poll');
    assert.equal(loadConfig({ MCP_EVENT_POLL_MAX_MS: '1000' }).eventPollMaxMs, 1_000, 'equal turns the backoff off');
    assert.throws(
      () => loadConfig({ MCP_EVENT_POLL_MS: '2000', MCP_EVENT_POLL_MAX_MS: '1000' }),
      (e: unknown) => e instanceof ConfigError && /MCP_EVENT_POLL_MAX_MS.*at least 2000/.test(e.message),
    );
  });

  it('reads the standard AWS endpoint variables, the specific one winning', () => {
    const c = loadConfig({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' });
    assert.equal(c.dynamoEndpoint, 'http://127.0.0.1:8000');
    assert.equal(c.s3Endpoint, 'http://127.0.0.1:4566');
  });

  it('allows an open endpoint off loopback only with an explicit opt-in', () => {
    assert.deepEqual(loadConfig({ HOST: '0.0.0.0', MCP_ALLOW_UNAUTHENTICATED: 'true' }).auth.methods, []);
    const oauth = loadConfig({
      AWS_LAMBDA_FUNCTION_NAME: 'fn',
      MCP_AUTH_MODE: 'oauth,apikey',
      MCP_OAUTH_ISSUER: 'https://auth.example/',
      MCP_PUBLIC_URL: 'https://mcp.example/mcp',
    });
    assert.deepEqual(oauth.auth.methods, ['oauth', 'apikey']);
    assert.equal(oauth.auth.oauth?.jwksUrl, 'https://auth.example/.well-known/jwks.json');
    assert.deepEqual(oauth.auth.oauth?.audience, ['https://mcp.example/mcp']);
  });

  it('turns rate limiting on outside the local stage only when Redis is configured, unless told', () => {
    const redis = { UPSTASH_REDIS_REST_URL: 'https://x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't' };
    assert.equal(loadConfig({ MCP_STAGE: 'dev' }).rateLimit.enabled, false);
    assert.equal(loadConfig({ MCP_STAGE: 'dev', ...redis }).rateLimit.enabled, true);
    assert.equal(loadConfig({ ...redis }).rateLimit.enabled, false, 'the local stage leaves it off');
    assert.equal(loadConfig({ MCP_STAGE: 'dev', MCP_RATE_LIMIT_ENABLED: 'false', ...redis }).rateLimit.enabled, false);
  });

  const invalid: [Record<string, string>, string, RegExp][] = [
    [{ MCP_SESSION_TTL_SECONDS: 'soon' }, 'MCP_SESSION_TTL_SECONDS', /whole number/],
    [{ MCP_SESSION_TTL_SECONDS: '5' }, 'MCP_SESSION_TTL_SECONDS', /at least 60/],
    [{ MCP_PATH: 'mcp' }, 'MCP_PATH', /start with "\/"/],
    [{ AWS_ENDPOINT_URL_DYNAMODB: 'localhost:8000' }, 'AWS_ENDPOINT_URL_DYNAMODB', /http\(s\) URL/],
    [{ UPSTASH_REDIS_REST_URL: 'https://x.upstash.io' }, 'UPSTASH_REDIS_REST_TOKEN', /set both/],
    [{ MCP_REQUEST_STATE_KEY: 'short' }, 'MCP_REQUEST_STATE_KEY', /at least 32 bytes/],
    [
      { MCP_REQUEST_STATE_KEY: 'k'.repeat(32), MCP_REQUEST_STATE_PREVIOUS_KEYS: `${'o'.repeat(32)},short` },
      'MCP_REQUEST_STATE_PREVIOUS_KEYS',
      /at least 32 bytes/,
    ],
    [{ MCP_REQUEST_STATE_PREVIOUS_KEYS: 'o'.repeat(32) }, 'MCP_REQUEST_STATE_KEY', /required when MCP_REQUEST_STATE_PREVIOUS_KEYS is set/],
    [{ MCP_STAGE: 'dev', MCP_RATE_LIMIT_ENABLED: 'true' }, 'MCP_RATE_LIMIT_ENABLED', /needs Redis/],
    [{ MCP_AUTH_MODE: 'maybe' }, 'MCP_AUTH_MODE', /expected none, apikey, oauth/],
    [{ HOST: '0.0.0.0' }, 'MCP_AUTH_MODE', /allowed only when serving on a loopback address.*MCP_ALLOW_UNAUTHENTICATED=true/],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, 'MCP_AUTH_MODE', /allowed only when serving on a loopback address/],
    [{ MCP_AUTH_MODE: 'oauth' }, 'MCP_OAUTH_ISSUER', /is required/],
    [
      { MCP_AUTH_MODE: 'oauth', MCP_OAUTH_ISSUER: 'https://auth.example', MCP_OAUTH_AUDIENCE: 'x' },
      'MCP_PUBLIC_URL',
      /is required when MCP_AUTH_MODE includes oauth/,
    ],
    [
      { MCP_AUTH_MODE: 'oauth', MCP_OAUTH_ISSUER: 'https://auth.example', MCP_PUBLIC_URL: 'https://mcp.example/mcp', MCP_OAUTH_ALGORITHMS: 'HS256' },
      'MCP_OAUTH_ALGORITHMS',
      /asymmetric/,
    ],
    [{ MCP_APIKEY_CACHE_SECONDS: '300' }, 'MCP_APIKEY_CACHE_SECONDS', /at most 60/],
    [{ LOG_LEVEL: 'LOUD' }, 'LOG_LEVEL', /one of DEBUG/],
  ];
  for (const [env, variable, problem] of invalid) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && err.message.startsWith(`${variable}: `) && problem.test(err.message),
      );
    });
  }
});
