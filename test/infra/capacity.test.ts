// The construct's capacity knobs, which keep a deployment inside the account's quotas
// (docs/scale.md): stage throttling within API Gateway's account quota, an optional reservation
// that leaves Lambda its unreserved minimum, and a cap on open notification streams that leaves
// most of the concurrency to calls. Defaults carry 1,000 requests per second on a default account.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AWS_LIMITS } from '../../infra/deployed-path.ts';
import { EndpointSettingsError } from '../../infra/endpoint/settings.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-capacity-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function synth(props: Partial<McpServerEndpointProps> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Endpoint');
  new McpServerEndpoint(stack, 'Server', {
    serverName: 'echo',
    entry: 'functions/echo/handler.ts',
    auth: { mode: 'none', allowUnauthenticated: true },
    ...props,
  });
  const template = Template.fromStack(stack);
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((r) => r.Properties?.Environment?.Variables?.MCP_STAGE);
  assert.ok(fn, 'the server function');
  return { template, fn: fn.Properties as Record<string, any> };
}

function refuses(props: Partial<McpServerEndpointProps>, prop: string, message: RegExp) {
  assert.throws(
    () => synth(props),
    (error: unknown) => error instanceof EndpointSettingsError && error.prop === prop && message.test(error.message),
  );
}

describe('capacity knobs of McpServerEndpoint', () => {
  it('by default: the stage throttles at 1,000 requests/s (burst 2,000), nothing is reserved, and at most 100 streams are open', () => {
    const { template, fn } = synth();
    template.hasResourceProperties('AWS::ApiGateway::Stage', { MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 })] });
    assert.equal(fn.ReservedConcurrentExecutions, undefined, 'a reservation would fail on accounts whose quota is still low');
    assert.equal(fn.Environment.Variables.MCP_MAX_OPEN_STREAMS, '100');
    assert.ok(1000 <= AWS_LIMITS.apiGatewayAccountRps && 2000 <= AWS_LIMITS.apiGatewayAccountBurst, 'inside the account quota');
  });

  it('reserves concurrency when asked, and sizes the stream cap from the reservation', () => {
    const { fn } = synth({ reservedConcurrency: 200 });
    assert.equal(fn.ReservedConcurrentExecutions, 200);
    assert.equal(fn.Environment.Variables.MCP_MAX_OPEN_STREAMS, '20');
    assert.equal(synth({ reservedConcurrency: 200, maxOpenStreams: 100 }).fn.Environment.Variables.MCP_MAX_OPEN_STREAMS, '100');
    assert.equal(synth({ maxOpenStreams: 0 }).fn.Environment.Variables.MCP_MAX_OPEN_STREAMS, '0', '0 leaves streams uncounted');
  });

  it('passes stage throttling through', () => {
    const { template } = synth({ throttle: { rateLimit: 250.5, burstLimit: 300 } });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 250.5, ThrottlingBurstLimit: 300 })] });
  });

  it("refuses a reservation that would leave the account less than Lambda's unreserved minimum, unless the quota was raised", () => {
    refuses({ reservedConcurrency: 901 }, 'reservedConcurrency', /from 1 to 900: Lambda keeps 100 of the account's 1000 unreserved/);
    refuses({ reservedConcurrency: 0 }, 'reservedConcurrency', /from 1 to 900/);
    assert.equal(synth({ reservedConcurrency: 2000, accountQuotas: { lambdaConcurrency: 5000 } }).fn.ReservedConcurrentExecutions, 2000);
  });

  it("refuses stage throttling above the account's API Gateway quota, unless the quota was raised", () => {
    refuses({ throttle: { rateLimit: 20_000 } }, 'throttle.rateLimit', /at most the account's API Gateway quota of 10000 requests per second/);
    refuses({ throttle: { burstLimit: 6_000 } }, 'throttle.burstLimit', /from 1 to the account's API Gateway burst of 5000/);
    refuses({ throttle: { rateLimit: 0 } }, 'throttle.rateLimit', /above 0/);
    synth({ throttle: { rateLimit: 20_000, burstLimit: 6_000 }, accountQuotas: { apiGatewayRps: 25_000, apiGatewayBurst: 12_500 } });
  });

  it('sizes the stream caps from the concurrency the function has: a share of it server-wide, half of that per caller', () => {
    const vars = (props: Partial<McpServerEndpointProps>) => {
      const { MCP_MAX_OPEN_STREAMS, MCP_STREAMS_PER_PRINCIPAL } = synth(props).fn.Environment.Variables;
      return [MCP_MAX_OPEN_STREAMS, MCP_STREAMS_PER_PRINCIPAL];
    };
    assert.deepEqual(vars({}), ['100', '10'], 'a tenth of 1,000; a caller at most 10');
    assert.deepEqual(vars({ accountQuotas: { lambdaConcurrency: 10 } }), ['1', '1'], 'an account still at 10: one stream');
    assert.deepEqual(vars({ accountQuotas: { lambdaConcurrency: 10 }, streamShare: 0.5 }), ['5', '2'], 'half of 10, and two of those per caller');
    assert.deepEqual(vars({ reservedConcurrency: 40, streamShare: 0.25 }), ['10', '5'], 'from the reservation, not the account');
    assert.deepEqual(vars({ maxOpenStreams: 0 }), ['0', '10'], 'no server-wide cap: callers keep the kit default');
    assert.deepEqual(vars({ streamsPerPrincipal: 100 }), ['100', '100'], 'one caller may be given every slot, deliberately');
  });

  it('refuses stream caps that cannot keep calls their environments or make no sense together', () => {
    refuses({ streamShare: 0.6 }, 'streamShare', /is 0\.6; it must be above 0 and at most 0\.5/);
    refuses({ streamShare: 0 }, 'streamShare', /above 0/);
    refuses({ streamShare: 0.2, maxOpenStreams: 50 }, 'streamShare', /give one of them/);
    refuses({ streamsPerPrincipal: 101 }, 'streamsPerPrincipal', /from 1 to maxOpenStreams \(100\)/);
    refuses({ streamsPerPrincipal: 0 }, 'streamsPerPrincipal', /whole number from 1/);
  });

  it('refuses a stream cap that would let listeners hold more than half of the available concurrency', () => {
    refuses({ maxOpenStreams: 501 }, 'maxOpenStreams', /from 0 to 500, half of the 1000 concurrent executions the account allows/);
    refuses(
      { reservedConcurrency: 100, maxOpenStreams: 51 },
      'maxOpenStreams',
      /from 0 to 50, half of the 100 concurrent executions reserved for the function/,
    );
    refuses({ maxOpenStreams: 2.5 }, 'maxOpenStreams', /whole number/);
  });
});
