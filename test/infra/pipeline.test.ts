// The pipeline a user takes (.github/workflows/deploy.yml) and the role it deploys with
// (infra/pipeline-role.ts). No workflow linter is installed, so the workflow is read as YAML and
// held to what it must do: check before deploying, deploy only from main with an OIDC token (no
// stored keys), wait for the release, run the post-deploy checks; every `npm run` it calls exists,
// every action is pinned to a commit. The role trusts one repository's branch and nothing else.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { buildKitApp } from '../../infra/kit-app.ts';

const REPO = new URL('../..', import.meta.url);
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('cdk.json', REPO), 'utf8')).context as Record<string, unknown>;
const SCRIPTS = JSON.parse(readFileSync(new URL('package.json', REPO), 'utf8')).scripts as Record<string, string>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-pipeline-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  steps: Step[];
}
const workflow = parse(readFileSync(new URL('.github/workflows/deploy.yml', REPO), 'utf8')) as {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};

/** The index of the first step of `job` whose command runs `npm run <script>` (or `npm test`). */
const stepRunning = (job: Job, command: string) =>
  job.steps.findIndex((s) => s.run !== undefined && new RegExp(`(^|\\s)${command.replace(/ /g, '\\s+')}(\\s|$)`, 'm').test(s.run));

describe('.github/workflows/deploy.yml', () => {
  const { check, deploy } = workflow.jobs;

  it("passes action-validator (GitHub's workflow schema); control: a job with a misspelled key fails it", async () => {
    const validator = fileURLToPath(new URL('node_modules/.bin/action-validator', REPO));
    const run = (file: string) =>
      promisify(execFile)(validator, [file]).then(
        () => 0,
        (err: { code?: number }) => err.code ?? 1,
      );
    assert.equal(await run(fileURLToPath(new URL('.github/workflows/deploy.yml', REPO))), 0);
    const broken = join(TMP, 'broken.yml');
    writeFileSync(broken, readFileSync(new URL('.github/workflows/deploy.yml', REPO), 'utf8').replace(/^(\s+)steps:/m, '$1stepz:'));
    assert.equal(await run(broken), 1);
  });

  it('checks every push and pull request with the type checker before the tests, which include conformance', () => {
    assert.ok('push' in workflow.on && 'pull_request' in workflow.on);
    assert.ok(check, 'a check job');
    const typecheck = stepRunning(check!, 'npm run typecheck');
    const test = stepRunning(check!, 'npm test');
    assert.ok(typecheck >= 0 && test > typecheck, 'typecheck, then npm test');
    // The pretest installs redis-server only as root; a GitHub runner is not.
    const redis = check!.steps.findIndex((s) => /sudo apt-get install .*redis-server/.test(s.run ?? ''));
    assert.ok(redis >= 0 && redis < test, 'redis-server installed before the tests');
    assert.match(SCRIPTS.test!, /'test\/\*\*\/\*\.test\.ts'/, 'npm test runs test/conformance/conformance.test.ts');
  });

  it('deploys only after the checks, only from main, with an OIDC token and no stored AWS keys', () => {
    assert.equal(deploy!.needs, 'check');
    assert.match(deploy!.if!, /github\.ref == 'refs\/heads\/main'/);
    assert.match(deploy!.if!, /github\.event_name != 'pull_request'/);
    assert.deepEqual(workflow.permissions, { contents: 'read' }, "the workflow's token reads only, by default");
    assert.deepEqual(deploy!.permissions, { contents: 'read', 'id-token': 'write' });
    const credentials = deploy!.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    assert.ok(credentials);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, read verbatim
    assert.equal(credentials.with!['role-to-assume'], '${{ vars.AWS_DEPLOY_ROLE_ARN }}');
    const text = readFileSync(new URL('.github/workflows/deploy.yml', REPO), 'utf8');
    assert.doesNotMatch(text, /aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
  });

  it('diffs, deploys, waits for each release, then smoke-checks and verifies, in that order', () => {
    const credentials = deploy!.steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    const order = ['npm run diff', 'npm run deploy', 'aws deploy wait deployment-successful', 'npm run smoke', 'npm run verify'].map((c) =>
      stepRunning(deploy!, c),
    );
    assert.ok(
      order.every((i) => i > credentials),
      `every step after the credentials: ${order}`,
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      `in order: ${order}`,
    );
    assert.match(deploy!.steps[order[1]!]!.run!, /--require-approval never/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, read verbatim
    for (const i of [order[3]!, order[4]!]) assert.equal(deploy!.steps[i]!.env?.MCP_API_KEY, '${{ secrets.MCP_API_KEY }}');
  });

  it('calls only npm scripts that exist, and pins every action to a commit', () => {
    const runs = Object.values(workflow.jobs).flatMap((job) => job.steps.map((s) => s.run ?? ''));
    const called = runs.flatMap((run) => [...run.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    assert.ok(called.length >= 5);
    for (const script of called) assert.ok(SCRIPTS[script], `npm run ${script} is not a script in package.json`);
    const actions = Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((s) => (s.uses ? [s.uses] : [])));
    assert.ok(actions.length >= 5);
    for (const action of actions) assert.match(action, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${action}: pin a full commit SHA`);
  });
});

describe('the pipeline role (-c githubRepository=owner/name)', () => {
  const synth = (context: Record<string, unknown>) => {
    const app = new App({
      outdir: mkdtempSync(join(TMP, 'app-')),
      context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], region: 'eu-west-1', ...context },
    });
    return buildKitApp(app);
  };

  it('is not in the app unless asked for', () => {
    assert.equal(synth({}).pipeline, undefined);
  });

  it("trusts GitHub's OIDC tokens for AWS from one repository's main branch only, and creates the provider", () => {
    const template = Template.fromStack(synth({ githubRepository: 'acme/mcp-servers' }).pipeline!);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] });
    const [role] = Object.values(template.findResources('AWS::IAM::Role')) as any[];
    const [statement] = role.Properties.AssumeRolePolicyDocument.Statement;
    assert.equal(statement.Action, 'sts:AssumeRoleWithWebIdentity');
    assert.deepEqual(statement.Condition, {
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:acme/mcp-servers:ref:refs/heads/main',
      },
    });
    assert.ok(template.toJSON().Outputs.DeployRoleArn);
  });

  it('deploys through the CDK bootstrap roles and otherwise only reads', () => {
    const template = Template.fromStack(synth({ githubRepository: 'acme/mcp-servers' }).pipeline!);
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as any[]).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat()) as string[];
    assert.deepEqual(
      actions.filter((a) => !/^(sts:AssumeRole|sts:TagSession|cloudformation:(Describe|List)|codedeploy:(Get|List)|logs:FilterLogEvents)/.test(a)),
      [],
    );
    const assume = statements.find((s) => [s.Action].flat().includes('sts:AssumeRole'));
    // Every region's bootstrap roles: the Lambda@Edge stacks deploy through us-east-1's.
    assert.match(JSON.stringify(assume.Resource), /:role\/cdk-hnb659fds-\*-",\{"Ref":"AWS::AccountId"\},"-\*"/);
  });

  it('takes a branch, a GitHub environment, or an existing provider, and refuses a malformed repository', () => {
    const subject = (context: Record<string, unknown>) => {
      const template = Template.fromStack(synth({ githubRepository: 'acme/mcp-servers', ...context }).pipeline!);
      const [role] = Object.values(template.findResources('AWS::IAM::Role')) as any[];
      return {
        sub: role.Properties.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals['token.actions.githubusercontent.com:sub'],
        providers: Object.keys(template.findResources('AWS::IAM::OIDCProvider')).length,
      };
    };
    assert.deepEqual(subject({ githubBranch: 'release' }), { sub: 'repo:acme/mcp-servers:ref:refs/heads/release', providers: 1 });
    assert.deepEqual(subject({ githubEnvironment: 'production' }), { sub: 'repo:acme/mcp-servers:environment:production', providers: 1 });
    assert.equal(subject({ githubOidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com' }).providers, 0);
    assert.throws(() => synth({ githubRepository: 'mcp-servers' }), /repository "mcp-servers" must be owner\/name/);
  });
});
