// A release on the modelled path (local/aws/alias.ts): two versions behind the live alias, as while
// CodeDeploy shifts a canary. Requests through CloudFront and API Gateway reach both versions in the
// alias's proportion; a task's worker, dispatched with the kit's dispatcher, runs the version that
// created it; a release whose every invocation fails is rolled back when its errors reach the
// alarm's threshold, after which only the old version answers. The healthy release is the control.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startAwsModel, type AwsModel, type AwsModelOptions } from '../../local/aws/deployment.ts';
import { waitFor } from '../helpers/wait.ts';

const PROBE = 'test/fixtures/aws/probe-handler.ts';
const CREDENTIALS = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'CANARY', AWS_SECRET_ACCESS_KEY: 'canary-secret' };
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-canary-'));
const models: AwsModel[] = [];
after(async () => {
  await Promise.all(models.map((m) => m.stop()));
  rmSync(TMP, { recursive: true, force: true });
});

async function start(canary: AwsModelOptions['canary']): Promise<AwsModel> {
  const model = await startAwsModel({
    entry: PROBE,
    environment: { ...CREDENTIALS },
    log: () => {},
    seed: 7,
    concurrency: 2,
    asyncQueue: { duplicateShare: 0 },
    canary,
  });
  models.push(model);
  return model;
}

const idle = (model: AwsModel) => waitFor('idle environments', () => model.lambda.counts().busy === 0 && model.release!.lambda.counts().busy === 0, 20_000);

/**
 * One request through the modelled CloudFront; the version that answered, or the status when it
 * failed. Sent once both versions' environments are free: an answer ends before its invocation does,
 * and a request that found both environments of a version busy would be throttled.
 */
async function askVersion(model: AwsModel): Promise<string> {
  await idle(model);
  const res = await fetch(`${model.url}?probe=version`);
  if (res.status !== 200) return `status ${res.status}`;
  return ((await res.json()) as { version: string }).version;
}

describe('a release shifting on the modelled path', () => {
  it("sends the release its share of requests, and a task's worker to the version that created the task", async () => {
    const model = await start({ weight: 0.5 });
    const answers: string[] = [];
    for (let i = 0; i < 30; i++) answers.push(await askVersion(model));
    const release = answers.filter((v) => v === '2').length;
    assert.deepEqual(new Set(answers), new Set(['1', '2']), `only versions 1 and 2 answered: ${answers.join(' ')}`);
    assert.ok(release >= 6 && release <= 24, `version 2 answered ${release} of 30 at weight 0.5`);

    const dispatched: { task: string; by: string }[] = [];
    // Ten tasks: were the worker routed by the alias instead, all ten would match by chance once in 1024 runs.
    for (let i = 0; i < 10; i++) {
      const task = join(TMP, `task-${i}`);
      await idle(model);
      const res = await fetch(`${model.url}?probe=dispatch&task=${encodeURIComponent(task)}`);
      assert.equal(res.status, 200);
      dispatched.push({ task, by: ((await res.json()) as { version: string }).version });
      // One worker at a time, so no worker holds an environment the next request needs.
      await waitFor(`the worker of ${task}`, () => existsSync(task), 20_000);
    }
    assert.equal(new Set(dispatched.map((d) => d.by)).size, 2, 'both versions created tasks');
    for (const { task, by } of dispatched) assert.equal(readFileSync(task, 'utf8'), by, `${task}: created by version ${by}, its worker ran the same`);

    // The control for the rollback below: a healthy release keeps its share.
    assert.equal(model.release!.alias.canaryErrors, 0);
    assert.equal(model.release!.alias.state, 'shifting');
    assert.equal(model.release!.alias.canaryWeight, 0.5);
  });

  it("rolls a failing release back at the alarm's error count; then only the old version answers", async () => {
    const model = await start({ weight: 0.5, environment: { PROBE_BROKEN: '1' }, rollbackOnErrors: 3 });
    const alias = model.release!.alias;
    const answers: string[] = [];
    for (let i = 0; i < 60 && alias.state === 'shifting'; i++) answers.push(await askVersion(model));
    assert.equal(alias.state, 'rolled back', `still shifting after ${answers.length} requests: ${answers.join(', ')}`);
    assert.equal(answers.filter((a) => a === 'status 502').length, 3, `API Gateway answered 502 for each failed invocation: ${answers.join(', ')}`);
    assert.ok(
      answers.every((a) => a === '1' || a === 'status 502'),
      answers.join(', '),
    );
    assert.equal(alias.canaryWeight, 0);

    const release = model.release!.lambda.invokes;
    assert.equal(release, 3, 'the release was invoked once per error');
    for (let i = 0; i < 10; i++) assert.equal(await askVersion(model), '1');
    assert.equal(model.release!.lambda.invokes, release, 'the rolled-back version got no more requests');
  });
});
