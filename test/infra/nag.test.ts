// cdk-nag AwsSolutions checks on the app, bare and with every optional part switched on: no
// finding may be left unacknowledged, and every acknowledgement must answer a finding that would
// otherwise fire, with a reason a reviewer can judge.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildKitApp } from '../../infra/kit-app.ts';
import { McpServerEndpoint } from '../../infra/mcp-server-endpoint.ts';

const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-nag-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

function newApp(context: Record<string, unknown> = {}): App {
  return new App({
    outdir: mkdtempSync(join(TMP, 'app-')),
    // A region as the CDK CLI would give it: authenticating servers need one for their Lambda@Edge function.
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1', ...context },
  });
}

/** The repository's app, as `cdk synth -c …` builds it (which also registers the pack: any finding fails synth). */
function kitApp(context: Record<string, unknown>): App {
  const app = newApp(context);
  buildKitApp(app);
  return app;
}

/** Endpoint settings the app's context does not reach, alone in a stack with the pack registered. */
function endpointApp(props: Partial<ConstructorParameters<typeof McpServerEndpoint>[2]>): App {
  const app = newApp();
  new McpServerEndpoint(new Stack(app, 'Endpoint', { env: { region: 'eu-west-1' } }), 'Server', {
    serverName: 'echo',
    entry: 'functions/echo/handler.ts',
    ...props,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

const SETTINGS: Record<string, () => App> = {
  'the default dev stage': () => kitApp({}),
  'a production stage with alarms, custom domain, web ACL and edge firewall': () =>
    kitApp({
      stage: 'prod',
      alarmEmail: 'ops@example.com',
      domainName: 'mcp.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0f0f0f0f-0000-4000-8000-000000000000',
      webAclArn: 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/mcp/0f0f0f0f',
      edgeFirewall: 'true',
    }),
  'LocalStack settings (local stage, no CloudFront)': () => kitApp({ stage: 'local', cloudFront: 'false' }),
  'containers beside the function (-c containers=true)': () => kitApp({ containers: 'true' }),
  'containers for tasks only, no load balancer (endpoint props)': () => endpointApp({ auth: { mode: 'apikey' }, containers: { streams: false, tasks: true } }),
  'Cognito authorization on a production stage (auth=cognito,apikey)': () => kitApp({ stage: 'prod', auth: 'cognito,apikey' }),
  'a Cognito pool with optional MFA and threat protection (endpoint props)': () =>
    endpointApp({ auth: { mode: 'cognito', callbackUrls: ['http://localhost:6274/oauth/callback'], mfa: 'optional', threatProtection: true } }),
};

/** Every acknowledgement recorded on the tree: construct path, rule id, reason. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([id, reason]) => ({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason })),
  );
}

/** The same pack with acknowledgements ignored: what would fire without them. */
class UnacknowledgedChecks extends AwsSolutionsChecks {}
Object.defineProperty(UnacknowledgedChecks.prototype, 'isAcknowledged', { value: () => false });

describe('cdk-nag AwsSolutions checks', () => {
  for (const [name, build] of Object.entries(SETTINGS)) {
    describe(name, () => {
      let app: App;
      before(() => {
        app = build();
        // The registered pack runs here: a finding would already fail synth.
        app.synth();
      });

      it('leave no unacknowledged finding', () => {
        const report = new AwsSolutionsChecks().validateScope(app);
        const findings = report.violations.map((v) => `${v.ruleName} on ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
        assert.deepEqual(findings, []);
      });

      it('acknowledge only findings that fire, each with a reason', () => {
        const raw = new UnacknowledgedChecks().validateScope(app).violations;
        const fired = raw.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })));
        // The pack judges its own rules only; aws-cdk-lib acknowledges CloudFormation-Validate::W3010
        // itself on any stack that reads its availability zones (a VPC does).
        const acks = acknowledgements(app).filter((ack) => ack.id.startsWith('AwsSolutions-'));
        assert.ok(acks.length > 0, 'no acknowledgements found: the metadata key changed?');
        for (const ack of acks) {
          assert.ok(ack.reason.length >= 60, `${ack.id} on ${ack.path}: the reason is too thin to judge`);
          const answered = fired.some((f) => f.id === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)));
          assert.ok(answered, `${ack.id} on ${ack.path} acknowledges nothing that fires here`);
        }
      });
    });
  }

  it('hold the Cognito pool to its rules: strong passwords and required MFA are fixed, not acknowledged', () => {
    const app = kitApp({ auth: 'cognito' });
    app.synth();
    const cognitoAcks = acknowledgements(app).filter((a) => a.id.startsWith('AwsSolutions-COG'));
    assert.deepEqual([...new Set(cognitoAcks.map((a) => a.id))].sort(), ['AwsSolutions-COG4', 'AwsSolutions-COG8']);
  });
});
