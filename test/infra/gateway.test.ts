// What McpGateway deploys, read from synthesized templates (bundling skipped): the example app's
// gateway in front of notes and echo (their CloudFront URLs, each caller's identity carried on
// behalf of it, and notes and echo trusting the gateway by the shared secret), the endpoint it is
// built on, an alarm and a dashboard graph per upstream; and the settings it refuses at synth,
// with what to do instead.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildKitApp } from '../../infra/kit-app.ts';
import { McpDataPlane } from '../../infra/data-plane.ts';
import { McpGateway, type McpGatewayProps } from '../../infra/mcp-gateway.ts';
import { McpServerEndpoint } from '../../infra/mcp-server-endpoint.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-gateway-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const newApp = (context: Record<string, unknown> = {}) =>
  new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, region: 'eu-west-1', ...context } });

/** A function variable in the template, tokens and all. */
function variable(template: Template, name: string): string {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  }[];
  const value = functions.map((f) => f.Properties.Environment?.Variables?.[name]).find((c) => c !== undefined);
  assert.ok(value !== undefined, `no function has ${name}`);
  return JSON.stringify(value);
}
const gatewayConfig = (template: Template) => variable(template, 'MCP_GATEWAY_CONFIG');

describe("the example app's gateway", () => {
  const app = newApp();
  const stacks = buildKitApp(app);
  const template = Template.fromStack(stacks.gateway!);

  it('fronts notes and echo at their CloudFront URLs, on behalf of each caller, with no credential of its own', () => {
    const config = gatewayConfig(template);
    for (const upstream of ['notes', 'echo']) assert.match(config, new RegExp(`\\\\"${upstream}\\\\":\\{\\\\"url\\\\":\\\\"https://`));
    // The URLs come from the server stacks' distributions.
    assert.match(config, /Fn::ImportValue/);
    assert.match(config, /identity\\":\\"on-behalf-of/);
    assert.doesNotMatch(config, /apiKeyVariable|mcpk_/);
  });

  it("makes notes and echo trust it, by the key derived from the shared secret, at their URLs and their API stage's", () => {
    for (const server of stacks.servers) {
      const trusted = variable(Template.fromStack(server), 'MCP_TRUSTED_GATEWAYS');
      // References spelled <ref>: the API's id and the URL suffix.
      const parts = (JSON.parse(trusted) as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      const json = parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
      assert.deepEqual(JSON.parse(json), { gateway: { fromRequestStateKey: true, audience: ['https://<ref>.execute-api.eu-west-1.<ref>/dev/mcp'] } });
    }
    // Without a gateway in front, a server trusts none.
    const alone = buildKitApp(newApp({ gateway: 'false' }));
    assert.equal(variable(Template.fromStack(alone.servers[0]!), 'MCP_TRUSTED_GATEWAYS'), '""');
  });

  it("outputs the smoke check through the notes upstream's echo", () => {
    assert.match(JSON.stringify(template.toJSON().Outputs.SmokeCommand.Value), /npm run smoke -- --url https:\/\/.*--tool notes__echo/);
  });

  it('is an MCP endpoint like the others: its own function, streaming API and distribution, on the shared data plane', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const name of ['McpUrl', 'DashboardName', 'SmokeCommand']) assert.ok(outputs.includes(name), `no ${name} output in ${outputs.join(', ')}`);
    // It needs no credential of its own: nothing to put in the secret.
    assert.ok(!outputs.includes('UpstreamCredentials'));
  });

  it("alarms on each upstream's failures and graphs them on its dashboard", () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: { MetricName?: string; Dimensions?: { Name: string; Value: string }[] };
    }[];
    const upstreamAlarms = alarms.filter((a) => a.Properties.MetricName === 'UpstreamFailures');
    assert.deepEqual(upstreamAlarms.map((a) => a.Properties.Dimensions!.find((d) => d.Name === 'Upstream')!.Value).sort(), ['echo', 'notes']);
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
    assert.match(JSON.stringify(dashboard!.Properties.DashboardBody), /UpstreamFailures/);
  });

  it('is left out with -c gateway=false, and for auth modes without API keys unless forced, which says why it cannot be', () => {
    assert.equal(buildKitApp(newApp({ gateway: 'false' })).gateway, undefined);
    assert.equal(buildKitApp(newApp({ auth: 'cognito' })).gateway, undefined);
    assert.ok(buildKitApp(newApp({ auth: 'cognito,apikey' })).gateway);
    assert.throws(
      () => buildKitApp(newApp({ auth: 'cognito', gateway: 'true' })),
      /auth "cognito" takes no API keys, which the example gateway's callers and its smoke check use; use "cognito,apikey"/,
    );
  });
});

describe('McpGateway props', () => {
  const base: McpGatewayProps = {
    auth: { mode: 'apikey' },
    upstreams: [{ name: 'weather', url: 'https://weather.example.com/mcp', apiKeyVariable: 'WEATHER_KEY', shareIdentity: true }],
  };
  const synth = (props: Partial<McpGatewayProps>) => {
    const stack = new Stack(newApp(), 'Gateway', { env: { region: 'eu-west-1' } });
    const gateway = new McpGateway(stack, 'Gateway', { ...base, ...props });
    return { gateway, template: Template.fromStack(stack) };
  };

  it('fronts external URLs, with per-upstream limits and access in the configuration', () => {
    const { template } = synth({
      listTimeout: Duration.seconds(3),
      upstreams: [
        {
          name: 'weather',
          url: 'https://weather.example.com/mcp',
          shareIdentity: true,
          callTimeout: Duration.seconds(20),
          failureThreshold: 3,
          cooldown: Duration.seconds(10),
          maxAnswerBytes: 1_048_576,
          access: { scopes: ['gateway:weather'] },
        },
      ],
    });
    const config = JSON.parse(JSON.parse(gatewayConfig(template))) as { name: string; listTimeoutMs: number; upstreams: Record<string, object> };
    assert.equal(config.listTimeoutMs, 3_000);
    // The name it signs assertions with is the one endpoints it fronts trust.
    assert.equal(config.name, 'gateway');
    assert.deepEqual(config.upstreams.weather, {
      url: 'https://weather.example.com/mcp',
      timeouts: { callMs: 20_000 },
      breaker: { failureThreshold: 3, cooldownMs: 10_000 },
      maxAnswerBytes: 1_048_576,
      access: { scopes: ['gateway:weather'] },
      identity: 'gateway',
      shareIdentity: true,
    });
  });

  it('makes a kit endpoint on its data plane trust it by its own name, and refuses one on another data plane', () => {
    const stack = new Stack(newApp(), 'Pair', { env: { region: 'eu-west-1' } });
    const dataPlane = new McpDataPlane(stack, 'DataPlane', { stage: 'dev' });
    const notes = new McpServerEndpoint(stack, 'Notes', { serverName: 'notes', entry: 'functions/notes/handler.ts', auth: { mode: 'apikey' }, dataPlane });
    new McpGateway(stack, 'Front', { serverName: 'front', auth: { mode: 'apikey' }, dataPlane, upstreams: [{ name: 'notes', endpoint: notes }] });
    const template = Template.fromStack(stack);
    assert.ok(gatewayConfig(template).includes(String.raw`\"name\":\"front\"`), gatewayConfig(template));
    const [trusted] = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables?.MCP_TRUSTED_GATEWAYS)
      .filter((v) => v !== undefined && v !== '');
    assert.match(JSON.stringify(trusted), /\\"front\\":\{\\"fromRequestStateKey\\":true/);
    // A gateway with a data plane of its own derives another key: notes could never verify it.
    const elsewhere = new Stack(newApp(), 'Apart', { env: { region: 'eu-west-1' } });
    const other = new McpServerEndpoint(elsewhere, 'Notes', { serverName: 'notes', entry: 'functions/notes/handler.ts', auth: { mode: 'apikey' } });
    assert.throws(
      () => new McpGateway(elsewhere, 'Front', { auth: { mode: 'apikey' }, upstreams: [{ name: 'notes', endpoint: other }] }),
      /upstream "notes" is on another data plane.*trustedGateways prop/,
    );
  });

  const refusals: [string, Partial<McpGatewayProps>, RegExp][] = [
    ['no upstreams', { upstreams: [] }, /upstreams is empty/],
    [
      'a name that cannot prefix tool names',
      { upstreams: [{ name: 'Weather_API', url: 'https://w.example.com/mcp' }] },
      /upstream name "Weather_API" must be lowercase letters, digits and hyphens/,
    ],
    [
      'a name twice',
      {
        upstreams: [
          { name: 'w', url: 'https://a.example.com/mcp', shareIdentity: true },
          { name: 'w', url: 'https://b.example.com/mcp' },
        ],
      },
      /upstream "w" is named twice/,
    ],
    ['neither endpoint nor url', { upstreams: [{ name: 'w' }] }, /upstream "w" needs exactly one of endpoint and url/],
    ['plain http', { upstreams: [{ name: 'w', url: 'http://w.example.com/mcp' }] }, /url "http:\/\/w.example.com\/mcp" must be https/],
    [
      'an answer limit below 64 KiB',
      { upstreams: [{ name: 'w', url: 'https://w.example.com/mcp', shareIdentity: true, maxAnswerBytes: 1000 }] },
      /upstream "w" maxAnswerBytes must be a whole number of at least 65536, got 1000/,
    ],
    [
      'an API key and OAuth at once',
      {
        upstreams: [
          {
            name: 'w',
            url: 'https://w.example.com/mcp',
            apiKeyVariable: 'K',
            oauth: { clientId: 'c', clientSecretVariable: 'S', issuer: 'https://as.example.com' },
          },
        ],
      },
      /an API key or OAuth client credentials, not both/,
    ],
    [
      'a call timeout the function cannot wait for',
      { timeout: Duration.minutes(1), upstreams: [{ name: 'w', url: 'https://w.example.com/mcp', shareIdentity: true, callTimeout: Duration.seconds(55) }] },
      /callTimeout must stay 10 s below the gateway's function timeout/,
    ],
    [
      'a URL reached as the gateway for many callers, unless shared on purpose',
      { upstreams: [{ name: 'w', url: 'https://w.example.com/mcp' }] },
      /upstream "w" is reached as the gateway, so every caller would be one principal there.*shareIdentity: true/,
    ],
    [
      'a credential beside on-behalf-of',
      { upstreams: [{ name: 'w', url: 'https://w.example.com/mcp', identity: 'on-behalf-of', apiKeyVariable: 'K' }] },
      /upstream "w" is reached on behalf of each caller.*drop apiKeyVariable\/oauth/,
    ],
    [
      'gateway variables in environment',
      { environment: { MCP_GATEWAY_UPSTREAMS: 'a=https://a/mcp' } },
      /environment may not set MCP_GATEWAY_UPSTREAMS; use the upstreams prop/,
    ],
  ];
  for (const [what, props, message] of refusals) {
    it(`refuses ${what}`, () => assert.throws(() => synth(props), message));
  }
});
