// The endpoint's settings without CDK (infra/endpoint/settings.ts), as McpServerEndpoint and the
// local model of the deployed path (`npm run start:aws`) use them: defaults from deployed-path.ts,
// the numbers derived from the function timeout, every refusal naming the prop, and the exact
// environment the function gets.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AWS_LIMITS, PATH_DEFAULTS } from '../../infra/deployed-path.ts';
import { EndpointSettingsError, KIT_VARIABLES, kitEnvironment, resolveEndpointSettings, type EndpointSettingsInput } from '../../infra/endpoint/settings.ts';

const resolve = (input: Partial<EndpointSettingsInput> = {}) => resolveEndpointSettings({ serverName: 'echo', ...input });

function refuses(input: Partial<EndpointSettingsInput>, prop: string, message: RegExp): void {
  assert.throws(
    () => resolve(input),
    (error: unknown) => {
      assert.ok(error instanceof EndpointSettingsError, `not an EndpointSettingsError: ${String(error)}`);
      assert.equal(error.prop, prop);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('endpoint settings', () => {
  it('load without aws-cdk-lib, so the local model can use them', () => {
    // The kit's table of settings (shared/config/variables.ts) is plain data too.
    const allowed = ['../deployed-path.ts', '../../shared/config/variables.ts'];
    for (const file of ['../../infra/endpoint/settings.ts', '../../infra/deployed-path.ts', '../../shared/config/variables.ts']) {
      const imports = [...readFileSync(new URL(file, import.meta.url), 'utf8').matchAll(/^import [^;]*? from '([^']+)';$/gm)].map((m) => m[1]);
      assert.deepEqual(
        imports.filter((specifier) => !specifier?.startsWith('.')),
        [],
        `${file} imports a package`,
      );
      assert.ok(
        imports.every((specifier) => allowed.includes(specifier!)),
        `${file} imports ${imports.join(', ')}`,
      );
    }
  });

  it("default to the deployed path's numbers", () => {
    assert.deepEqual(resolve(), {
      serverName: 'echo',
      stage: 'dev',
      path: '/mcp',
      timeoutSeconds: PATH_DEFAULTS.functionTimeoutSeconds,
      toolTimeoutMs: 60_000,
      taskTimeoutMs: 840_000,
      streamMaxSeconds: PATH_DEFAULTS.streamMaxSeconds,
      sseKeepAliveSeconds: PATH_DEFAULTS.sseKeepAliveSeconds,
      getStreams: false,
      cloudFront: true,
      originReadTimeoutSeconds: PATH_DEFAULTS.originReadTimeoutSeconds,
      originVerify: true,
      memorySizeMb: PATH_DEFAULTS.memorySizeMb,
      rateLimit: { enabled: undefined, requestsPerMinute: 120, windowSeconds: 60 },
      logLevel: 'INFO',
      allowedOrigins: [],
      allowedHosts: [],
      accountConcurrency: 1000,
      throttle: { rateLimit: PATH_DEFAULTS.throttleRateLimit, burstLimit: PATH_DEFAULTS.throttleBurstLimit },
      maxOpenStreams: 100,
      streamsPerPrincipal: 10,
    });
  });

  it("check CloudFront's origin header behind CloudFront, except on the local stage (SAM, LocalStack) and without CloudFront", () => {
    assert.equal(kitEnvironment(resolve(), { tableName: 't', bucketName: 'b', authEnvironment: {} }).MCP_ORIGIN_VERIFY, 'true');
    assert.equal(resolve({ stage: 'local' }).originVerify, false);
    assert.equal(resolve({ cloudFront: false }).originVerify, false);
    assert.throws(() => resolve({ cloudFront: false, originVerify: true }), /originVerify needs CloudFront in front/);
  });

  it('derive the tool and task timeouts and the stream cap from a short function timeout, keeping the end margin', () => {
    const settings = resolve({ timeoutSeconds: 45 });
    assert.equal(settings.toolTimeoutMs, (45 - PATH_DEFAULTS.endMarginSeconds) * 1000);
    assert.equal(settings.taskTimeoutMs, (45 - PATH_DEFAULTS.endMarginSeconds) * 1000);
    assert.equal(settings.streamMaxSeconds, 45 - PATH_DEFAULTS.endMarginSeconds);
    assert.equal(resolve({ timeoutSeconds: 600, streamMaxSeconds: 590 }).streamMaxSeconds, 590);
  });

  it('refuse a function timeout beyond what Lambda and a streamed REST response allow', () => {
    refuses({ timeoutSeconds: AWS_LIMITS.lambdaMaxTimeoutSeconds + 1 }, 'timeout', /stop at 15 minutes/);
    refuses({ timeoutSeconds: 1.5 }, 'timeout', /whole seconds/);
    refuses({ timeoutSeconds: 10 }, 'timeout', /timeout 10 s leaves no room for tools/);
  });

  it('refuse a tool or task timeout, or a stream cap, the function would cut short', () => {
    refuses({ timeoutSeconds: 120, toolTimeoutMs: 110_001 }, 'toolTimeout', /at most timeout \(120 s\) minus 10 s/);
    refuses({ toolTimeoutMs: 99 }, 'toolTimeout', /at least 100 ms/);
    refuses(
      { timeoutSeconds: 300, taskTimeoutMs: 290_001 },
      'taskTimeout',
      /at most timeout \(300 s\) minus 10 s: a task's worker is an invocation of the function/,
    );
    refuses({ taskTimeoutMs: 999 }, 'taskTimeout', /at least 1 s/);
    refuses({ timeoutSeconds: 120, streamMaxSeconds: 111 }, 'streamMaxDuration', /streamMaxDuration is 111 s; .*at most timeout \(120 s\) minus 10 s/);
    refuses({ streamMaxSeconds: 0 }, 'streamMaxDuration', /at least 1/);
  });

  it('refuse a keep-alive that would let CloudFront or API Gateway cut an idle stream', () => {
    refuses({ sseKeepAliveSeconds: 0 }, 'sseKeepAlive', /above 0/);
    refuses({ sseKeepAliveSeconds: 60 }, 'sseKeepAlive', /below originReadTimeout \(60 s\)/);
    refuses({ originReadTimeoutSeconds: 20, sseKeepAliveSeconds: 25 }, 'sseKeepAlive', /below originReadTimeout \(20 s\)/);
    // Without CloudFront, API Gateway's 5-minute stream idle timeout is the bound.
    assert.equal(resolve({ cloudFront: false, sseKeepAliveSeconds: 120 }).sseKeepAliveSeconds, 120);
    refuses({ cloudFront: false, sseKeepAliveSeconds: AWS_LIMITS.restStreamIdleSeconds }, 'sseKeepAlive', /below API Gateway's stream idle timeout/);
  });

  it("refuse an origin read timeout above CloudFront's quota unless it was raised", () => {
    refuses({ originReadTimeoutSeconds: AWS_LIMITS.cloudFrontMaxOriginReadSeconds + 1 }, 'originReadTimeout', /originReadTimeoutQuotaRaised: true/);
    assert.equal(resolve({ originReadTimeoutSeconds: 120, originReadTimeoutQuotaRaised: true }).originReadTimeoutSeconds, 120);
  });

  it('refuse names, paths, sizes and lists the kit or AWS cannot take', () => {
    refuses({ serverName: 'Echo' }, 'serverName', /serverName "Echo"/);
    refuses({ path: 'mcp' }, 'path', /path "mcp" must look like "\/mcp"/);
    refuses({ path: '/.well-known/mcp' }, 'path', /collides/);
    refuses({ memorySizeMb: 100 }, 'memorySize', /128 to 10240/);
    refuses({ rateLimit: { requestsPerMinute: 1.5 } }, 'rateLimit.requestsPerMinute', /positive whole number/);
    refuses({ logLevel: 'TRACE' as never }, 'logLevel', /one of DEBUG, INFO, WARN, ERROR/);
    refuses({ allowedHosts: ['a.example.com b.example.com'] }, 'allowedHosts', /without spaces or commas/);
  });
});

describe('kitEnvironment', () => {
  const sources = { tableName: 'mcp-table', bucketName: 'mcp-bucket', authEnvironment: { MCP_AUTH_MODE: 'apikey' } };

  it('is every variable the function gets, derived numbers included', () => {
    const settings = resolve({
      timeoutSeconds: 300,
      sseKeepAliveSeconds: 2.5,
      allowedOrigins: ['https://a.example.com', 'https://b.example.com'],
      logLevel: 'DEBUG',
    });
    assert.deepEqual(
      kitEnvironment(settings, { ...sources, secretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:mcp', publicUrl: 'https://mcp.example.com/mcp' }),
      {
        MCP_TABLE_NAME: 'mcp-table',
        MCP_BUCKET_NAME: 'mcp-bucket',
        MCP_SECRETS_ARN: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:mcp',
        MCP_STAGE: 'dev',
        MCP_PATH: '/mcp',
        MCP_AUTH_MODE: 'apikey',
        MCP_PUBLIC_URL: 'https://mcp.example.com/mcp',
        MCP_TOOL_TIMEOUT_MS: '60000',
        MCP_TASK_TIMEOUT_MS: '290000',
        MCP_STREAM_MAX_SECONDS: '290',
        MCP_SSE_KEEPALIVE_MS: '2500',
        MCP_GET_STREAMS: 'false',
        MCP_ALLOWED_ORIGINS: 'https://a.example.com,https://b.example.com',
        MCP_ALLOWED_HOSTS: '',
        MCP_RATE_LIMIT_REQUESTS: '120',
        MCP_RATE_LIMIT_WINDOW_SECONDS: '60',
        MCP_MAX_OPEN_STREAMS: '100',
        MCP_STREAMS_PER_PRINCIPAL: '10',
        MCP_ORIGIN_VERIFY: 'true',
        LOG_LEVEL: 'DEBUG',
        POWERTOOLS_SERVICE_NAME: 'echo',
        NODE_OPTIONS: '--enable-source-maps',
      },
    );
  });

  it('leaves MCP_RATE_LIMIT_ENABLED to the kit unless the rate limit is forced on or off', () => {
    assert.equal(kitEnvironment(resolve(), sources).MCP_RATE_LIMIT_ENABLED, undefined);
    assert.equal(kitEnvironment(resolve({ rateLimit: { enabled: false } }), sources).MCP_RATE_LIMIT_ENABLED, 'false');
    assert.equal(kitEnvironment(resolve({ rateLimit: { enabled: true } }), sources).MCP_RATE_LIMIT_ENABLED, 'true');
  });

  it("sets only variables KIT_VARIABLES lists, besides the auth mode's", () => {
    const all = kitEnvironment(resolve({ rateLimit: { enabled: true } }), {
      ...sources,
      authEnvironment: {},
      secretArn: 'x',
      publicUrl: 'https://x.example.com/mcp',
      trustedGateways: '{}',
    });
    assert.deepEqual(Object.keys(all).sort(), [...KIT_VARIABLES].sort());
  });
});
