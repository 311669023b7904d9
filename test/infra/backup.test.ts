// Recovery as synthesized: the artifact bucket keeps previous versions for a while and then drops
// them; the table keeps point-in-time recovery; `-c restoredTableName=…` points every server of
// the stage (and the API-key commands) at a restored table while the created one stays.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildKitApp } from '../../infra/kit-app.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-backup-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function synth(context: Record<string, unknown> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1', ...context } });
  const stacks = buildKitApp(app);
  app.synth();
  return { dataPlane: Template.fromStack(stacks.dataPlane), notes: Template.fromStack(stacks.servers[0]!), stacks };
}

const notesTableName = (notes: Template) => {
  const fn = Object.values(notes.findResources('AWS::Lambda::Function')).find((r) => r.Properties?.Environment?.Variables?.MCP_TABLE_NAME);
  return fn!.Properties.Environment.Variables.MCP_TABLE_NAME;
};

describe('backups and restore, synthesized', () => {
  it('versions the artifact bucket and expires previous versions after 30 days', () => {
    const { dataPlane } = synth();
    dataPlane.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'artifacts/', ExpirationInDays: 30, Status: 'Enabled' }),
          Match.objectLike({
            Id: 'expire-previous-versions',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            ExpiredObjectDeleteMarker: true,
            Status: 'Enabled',
          }),
        ]),
      },
    });
    dataPlane.hasResourceProperties('AWS::DynamoDB::Table', { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
  });

  it('points the servers, the grants and the outputs at a restored table, keeping the created one', () => {
    const plain = synth();
    assert.equal(Object.keys(plain.dataPlane.findResources('AWS::DynamoDB::Table')).length, 1);
    assert.notEqual(notesTableName(plain.notes), 'mcp-restored-1', 'control: without the setting, servers use the created table');

    const { dataPlane, notes } = synth({ restoredTableName: 'mcp-restored-1' });
    assert.equal(Object.keys(dataPlane.findResources('AWS::DynamoDB::Table')).length, 1, 'the created table stays');
    assert.equal(notesTableName(notes), 'mcp-restored-1');
    const policy = Object.values(dataPlane.findResources('AWS::IAM::ManagedPolicy'))[0]!;
    const tableStatement = policy.Properties.PolicyDocument.Statement.find((s: { Action: string[] }) => s.Action.includes('dynamodb:GetItem'));
    assert.match(JSON.stringify(tableStatement.Resource), /:table\/mcp-restored-1/);
    const outputs = Object.entries(dataPlane.findOutputs('*')).filter(([id]) => id.includes('TableName'));
    assert.deepEqual(
      outputs.map(([, output]) => output.Value),
      ['mcp-restored-1'],
      "npm run keys and the stacks' commands reach the restored table",
    );
  });
});
