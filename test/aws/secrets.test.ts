// Secrets on the modelled deployed path (`npm run start:aws`, startAwsPath) as the construct deploys
// them: the values in the Secrets Manager model under the data plane's two ARNs, the function and the
// containers given MCP_SECRETS_ARN only, reading at each cold start with a signed GetSecretValue the
// model checks with the AWS SDK's signer. Secrets Manager is AWS, hence modelled; the reads are real.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ORIGIN_SECRET_KEYS as INFRA_ORIGIN_KEYS, SECRET_KEYS as INFRA_KEYS } from '../../infra/data-plane.ts';
import { GENERATED, ORIGIN_SECRET_KEYS, SECRET_KEYS } from '../../local/aws/data-plane-secrets.ts';
import { startSecretsManager, type SecretsManagerModel } from '../../local/aws/secrets-manager.ts';
import { signedHeaders } from '../../shared/adapters/secrets.ts';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { waitFor } from '../helpers/wait.ts';

const ECHO = 'functions/echo/handler.ts';
const TIMEOUT = { timeout: 120_000 };
const ARN = /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:[A-Za-z0-9-]+-[A-Za-z0-9]{6}$/;
const ALL_KEYS = [...SECRET_KEYS, ...ORIGIN_SECRET_KEYS];

/** Distinct execution environments that ran an invocation: cold starts. */
const environments = (path: AwsPath) => new Set(path.lambda.invocations.map((r) => r.environment)).size;
const echo = (path: AwsPath, text: string) => postToolCall(path.url, { name: 'echo', arguments: { text } }, { headers: path.auth });

it("the model keeps the construct's secret layout (infra/data-plane.ts): the same keys, the same generated ones", () => {
  assert.deepEqual([...SECRET_KEYS], [...INFRA_KEYS]);
  assert.deepEqual([...ORIGIN_SECRET_KEYS], [...INFRA_ORIGIN_KEYS]);
  // The construct's generateSecretString, read from its source (a synth would load the CDK for two numbers).
  const construct = readFileSync(new URL('../../infra/data-plane.ts', import.meta.url), 'utf8');
  for (const [key, length] of Object.entries(GENERATED))
    assert.match(construct, new RegExp(`generateStringKey: '${key}',\\s*passwordLength: ${length},\\s*excludePunctuation: true`), key);
});

describe('a deployment with containers: where the secrets live and who reads them', () => {
  let path: AwsPath;
  before(async () => {
    path = await startAwsPath(ECHO, {}, { redis: true, containers: { tasks: 1 } });
  });
  after(() => path?.stop());

  it('the function and the containers hold MCP_SECRETS_ARN and no secret value; the values are in the two secrets', TIMEOUT, () => {
    const task = path.containers!.service.options.environment;
    assert.equal(task.AWS_ACCESS_KEY_ID, undefined, "a task's credentials come from ECS's endpoint, not its environment");
    assert.match(task.AWS_CONTAINER_CREDENTIALS_FULL_URI!, /^http:\/\/127\.0\.0\.1:\d+\/v2\/credentials\//);
    const { secretsManager, arns } = path.secrets;
    for (const env of [path.lambda.options.environment, path.containers!.service.options.environment]) {
      assert.equal(env.MCP_SECRETS_ARN, `${arns.secret},${arns.originSecret}`);
      assert.equal(env.AWS_ENDPOINT_URL_SECRETS_MANAGER, secretsManager.endpoint);
      assert.deepEqual(
        ALL_KEYS.filter((k) => k in env),
        [],
        'no secret in the environment',
      );
    }
    assert.match(arns.secret, ARN);
    assert.match(arns.originSecret, ARN);
    const data = secretsManager.value(arns.secret)!;
    assert.deepEqual(Object.keys(data).sort(), [...SECRET_KEYS].sort());
    assert.equal(data.MCP_REQUEST_STATE_KEY, 'aws-path-test-request-state-key-0123456789', "the caller's value, moved");
    assert.equal(data.UPSTASH_REDIS_REST_URL, path.redis!.env.UPSTASH_REDIS_REST_URL);
    const origin = secretsManager.value(arns.originSecret)!;
    assert.match(origin.MCP_ORIGIN_SECRET!, /^[A-Za-z0-9]{48}$/, 'generated as the construct generates it');
    assert.equal(origin.MCP_ORIGIN_SECRET_PREVIOUS, '');
    assert.deepEqual(path.originHeaders, { [ORIGIN_VERIFY_HEADER]: origin.MCP_ORIGIN_SECRET }, 'CloudFront sends the value the origin secret holds');
  });

  it('the container read each secret once at its start; each Lambda environment once at its cold start, not per request', TIMEOUT, async () => {
    const { secretsManager, arns } = path.secrets;
    // The container task is up before the first request: it read both, signed by the SDK's client with the task role's credentials.
    assert.deepEqual([secretsManager.reads.get(arns.secret), secretsManager.reads.get(arns.originSecret)], [1, 1]);
    assert.deepEqual(
      [...secretsManager.readsBy].map(([role, n]) => [role.replace(/^.*assumed-role\/[^/]*-(\w+)\/.*$/, '$1'), n]),
      [['TaskRole', 2]],
    );
    // Three at once need three environments (one request each); then more, to warm ones.
    const held = await Promise.all([1, 2, 3].map(() => postToolCall(path.url, { name: 'wait', arguments: { seconds: 0.3 } }, { headers: path.auth })));
    for (const res of held) assert.equal(res.status, 200, await res.text());
    const client = new ModernClient({ name: 'secrets', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(path.url)));
    for (let i = 0; i < 5; i++)
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: `hi ${i}` } })).content, [{ type: 'text', text: `hi ${i}` }]);
    await client.close();
    const cold = environments(path);
    assert.ok(cold >= 2 && cold < path.lambda.invocations.length, `${cold} environments for ${path.lambda.invocations.length} invocations`);
    assert.deepEqual([secretsManager.reads.get(arns.secret), secretsManager.reads.get(arns.originSecret)], [1 + cold, 1 + cold]);
    assert.deepEqual(secretsManager.refused, []);
  });
});

describe('a secret that is missing, or not granted, at cold start', () => {
  it('a missing secret fails the start naming it (logs) and answers 503; once it exists the same environment heals', TIMEOUT, async () => {
    const path = await startAwsPath(ECHO);
    try {
      const { secretsManager, arns } = path.secrets;
      const value = secretsManager.value(arns.secret)!;
      secretsManager.delete(arns.secret);
      const refused = await echo(path, 'one');
      assert.equal(refused.status, 503);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /could not start; its logs name the setting to fix/);
      const line = await path.waitForLog(/server start-up failed/);
      assert.ok(line.includes(`could not read secret ${arns.secret}`) && line.includes('ResourceNotFoundException'), line);
      assert.match(line, /check that the ARN names an existing secret/);
      // The init's read, then the request's retry of the failed start (the adapter's): no retries of a refusal beyond that.
      const notFound = { type: 'ResourceNotFoundException', secretId: arns.secret };
      assert.deepEqual(secretsManager.refused, [notFound, notFound]);
      secretsManager.put(arns.secret, value);
      // An answer ends before its invocation does: the next request waits for the environment to be free again.
      await waitFor('an idle environment', () => path.lambda.counts().busy === 0, 10_000);
      const healed = await echo(path, 'two');
      assert.equal(healed.status, 200, await healed.clone().text());
      assert.match(await healed.text(), /"text":"two"/);
      assert.equal(environments(path), 1, 'the same environment');
    } finally {
      await path.stop();
    }
  });

  it(
    'a function signing with credentials the model does not hold is refused (InvalidSignatureException), its start failing with the advice',
    TIMEOUT,
    async () => {
      const path = await startAwsPath(ECHO);
      try {
        // The key rotated under the environment: its requests are signed with another secret key.
        path.lambda.options.environment.AWS_SECRET_ACCESS_KEY = 'not-the-roles-secret-key';
        assert.equal((await echo(path, 'one')).status, 503);
        const line = await path.waitForLog(/server start-up failed/);
        assert.match(line, /InvalidSignatureException: The request signature we calculated does not match/);
        assert.match(line, /check that the function's role may secretsmanager:GetSecretValue/);
        assert.equal(path.secrets.secretsManager.reads.size, 0, 'nothing read');
      } finally {
        await path.stop();
      }
    },
  );

  it("a secret outside the role's grants is denied as IAM denies it (AccessDeniedException), existing or not", TIMEOUT, async () => {
    const foreign = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:another-tenant-AbCdEf';
    const path = await startAwsPath(ECHO, { MCP_SECRETS_ARN: foreign });
    try {
      path.secrets.secretsManager.put(foreign, { MCP_REQUEST_STATE_KEY: 'another-tenants-request-state-key-0123456789' });
      assert.equal((await echo(path, 'one')).status, 503);
      const line = await path.waitForLog(/server start-up failed/);
      assert.match(
        line,
        /AccessDeniedException: User: arn:aws:sts::\d{12}:assumed-role\/.* is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:.*another-tenant/,
      );
      assert.match(line, /check that the function's role may secretsmanager:GetSecretValue on it/);
      assert.equal(path.secrets.secretsManager.reads.get(foreign), undefined, 'nothing read');
    } finally {
      await path.stop();
    }
  });
});

describe('the Secrets Manager model refuses what AWS refuses', () => {
  const REGION = 'us-east-1';
  const ROLE = { accessKeyId: 'ASIAROLE', secretAccessKey: 'role-secret-access-key', sessionToken: 'role-session-token' };
  const GRANTED = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:data-AbCdEf';
  const GONE = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf';
  const OTHER = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf';
  let model: SecretsManagerModel;
  before(async () => {
    model = await startSecretsManager({
      region: REGION,
      secrets: { [GRANTED]: { MCP_REQUEST_STATE_KEY: 'k'.repeat(40) }, [OTHER]: { MCP_REQUEST_STATE_KEY: 'o'.repeat(40) } },
      principals: [{ arn: 'arn:aws:sts::123456789012:assumed-role/fn/fn', ...ROLE, granted: [GRANTED, GONE] }],
    });
  });
  after(() => model?.stop());

  /** A GetSecretValue as the kit signs it, with `change` applied to the signing or the request; the error type, or the value. */
  async function get(secretId: string, change: { credentials?: Partial<typeof ROLE>; region?: string; now?: Date; tamper?: boolean; unsigned?: boolean } = {}) {
    const url = new URL(model.endpoint);
    const body = JSON.stringify({ SecretId: secretId });
    const headers = signedHeaders(url, change.region ?? REGION, { ...ROLE, ...change.credentials }, body, change.now);
    if (change.unsigned) delete headers.authorization;
    const res = await fetch(url, { method: 'POST', headers, body: change.tamper ? body.replace('data', 'other') : body });
    const json = (await res.json()) as { __type?: string; SecretString?: string };
    return res.status === 200 ? json.SecretString : `${res.status} ${json.__type}`;
  }

  it('answers a request the kit signed with the granted credentials (control), and counts it', async () => {
    assert.equal(await get(GRANTED), JSON.stringify({ MCP_REQUEST_STATE_KEY: 'k'.repeat(40) }));
    assert.equal(model.reads.get(GRANTED), 1);
  });

  it("answers the AWS SDK's own client too: the check is the SDK signer's, not the kit's", async () => {
    const client = new SecretsManagerClient({ region: REGION, endpoint: model.endpoint, credentials: ROLE });
    assert.match((await client.send(new GetSecretValueCommand({ SecretId: GRANTED }))).SecretString!, /kkkk/);
    client.destroy();
  });

  it('refuses a wrong secret key, a changed body, another region, a stale date and no signature', async () => {
    assert.equal(await get(GRANTED, { credentials: { secretAccessKey: 'guessed' } }), '400 InvalidSignatureException');
    assert.equal(await get(GRANTED, { tamper: true }), '400 InvalidSignatureException', 'signed for one secret, asking for another');
    assert.equal(await get(GRANTED, { region: 'eu-west-1' }), '400 InvalidSignatureException');
    assert.equal(await get(GRANTED, { now: new Date(Date.now() - 10 * 60_000) }), '400 InvalidSignatureException');
    assert.equal(await get(GRANTED, { unsigned: true }), '400 MissingAuthenticationTokenException');
  });

  it('refuses an unknown access key and a missing or wrong session token as an invalid security token', async () => {
    assert.equal(await get(GRANTED, { credentials: { accessKeyId: 'ASIASOMEONEELSE' } }), '400 UnrecognizedClientException');
    assert.equal(await get(GRANTED, { credentials: { sessionToken: 'stolen-elsewhere' } }), '400 UnrecognizedClientException');
    assert.equal(await get(GRANTED, { credentials: { sessionToken: '' } }), '400 UnrecognizedClientException');
  });

  it('denies a secret outside the grants before looking it up, and a granted one that is gone is not found', async () => {
    assert.equal(await get(OTHER), '400 AccessDeniedException', 'it exists, but the role may not read it');
    assert.equal(await get('arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf'), '400 AccessDeniedException');
    assert.equal(await get(GONE), '400 ResourceNotFoundException');
    assert.equal(model.reads.get(OTHER), undefined);
  });
});
