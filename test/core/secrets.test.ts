// Reading the MCP_SECRETS_ARN secrets (shared/adapters/secrets.ts) from a loopback Secrets Manager
// that checks Signature Version 4 the way AWS does: the signature recomputed by the AWS SDK's own
// signer, every x-amz-* header signed. Secrets Manager is AWS itself, hence faked; the requests are real.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { resolveSecrets } from '../../shared/adapters/secrets.ts';

const KEYS: Record<string, string> = { AKIDLAMBDA: 'lambda-secret-key', AKIDCONTAINER: 'container-secret-key' };
const DATA = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:data-AbCdEf';
const ORIGIN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:origin-AbCdEf';
const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'] as const;

/** node:crypto as the SDK signer's hash. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string | Uint8Array);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** Why AWS would refuse the request's signature, or undefined when it holds. */
async function signatureProblem(req: IncomingMessage, body: string): Promise<string | undefined> {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/secretsmanager\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!auth) return 'IncompleteSignatureException';
  const [, accessKeyId, , region, signedHeaders, signature] = auth;
  const names = signedHeaders!.split(';');
  const unsigned = ['host', 'x-amz-date', ...Object.keys(req.headers).filter((h) => h.startsWith('x-amz-'))].filter((h) => !names.includes(h));
  if (unsigned.length) return `IncompleteSignatureException (${unsigned.join(', ')} not signed)`;
  if (!KEYS[accessKeyId!]) return 'UnrecognizedClientException';
  const headers = Object.fromEntries(names.map((name) => [name, String(req.headers[name])]));
  const amzDate = headers['x-amz-date']!;
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const [hostname, port] = headers.host!.split(':');
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: KEYS[accessKeyId!]!, sessionToken: headers['x-amz-security-token'] },
    region: region!,
    service: 'secretsmanager',
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: req.method!, protocol: 'http:', hostname: hostname!, port: Number(port), path: req.url!, headers, query: {}, body },
    { signingDate },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] === signature ? undefined : 'InvalidSignatureException';
}

type Answer = { status: number; body: unknown };

/** A loopback Secrets Manager: each ARN's answers in turn (the last repeats), requests counted. */
async function fakeSecretsManager() {
  const answers = new Map<string, Answer[]>();
  const calls: { arn: string; token?: string; accessKeyId?: string }[] = [];
  const counted = { requests: 0 };
  const server: Server = createServer((req, res) => {
    counted.requests++;
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      const reply = (status: number, payload: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(payload));
      const problem = await signatureProblem(req, body);
      if (problem) return reply(400, { __type: problem.split(' ')[0], message: `signature refused: ${problem}` });
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') return reply(400, { __type: 'UnknownOperationException' });
      const arn = (JSON.parse(body) as { SecretId: string }).SecretId;
      calls.push({
        arn,
        token: req.headers['x-amz-security-token'] as string | undefined,
        accessKeyId: /Credential=([^/]+)/.exec(req.headers.authorization!)?.[1],
      });
      const queue = answers.get(arn);
      const answer = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
      if (!answer)
        return reply(400, { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
      reply(answer.status, answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, answers, calls, counted, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const secretString = (values: Record<string, string>): Answer => ({ status: 200, body: { ARN: 'x', Name: 'x', SecretString: JSON.stringify(values) } });

describe('MCP_SECRETS_ARN secrets', () => {
  let sm: Awaited<ReturnType<typeof fakeSecretsManager>>;
  const saved = Object.fromEntries(CREDENTIAL_VARIABLES.map((name) => [name, process.env[name]]));
  const env = (arns: string) => ({ MCP_SECRETS_ARN: arns, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint });
  /** This process's credentials, as Lambda sets them in the function's environment. */
  const useCredentials = (values: Partial<Record<(typeof CREDENTIAL_VARIABLES)[number], string>>) => {
    for (const name of CREDENTIAL_VARIABLES) delete process.env[name];
    Object.assign(process.env, values);
  };

  before(async () => (sm = await fakeSecretsManager()));
  afterEach(() => {
    sm.answers.clear();
    sm.calls.length = 0;
    sm.counted.requests = 0;
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  after(() => new Promise((r) => sm.server.close(r)));

  it('reads every secret with one signed request each, session token signed, and fills only unset variables', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: KEYS.AKIDLAMBDA!, AWS_SESSION_TOKEN: 'lambda-session' });
    sm.answers.set(DATA, [secretString({ MCP_REQUEST_STATE_KEY: 'from-the-secret', LOG_LEVEL: 'DEBUG', UPSTASH_REDIS_REST_URL: '' })]);
    sm.answers.set(ORIGIN, [secretString({ MCP_ORIGIN_SECRETS: 'origin-value' })]);
    const resolved = await resolveSecrets({ ...env(`${DATA}, ${ORIGIN}`), LOG_LEVEL: 'WARN' });
    assert.equal(resolved.MCP_REQUEST_STATE_KEY, 'from-the-secret');
    assert.equal(resolved.MCP_ORIGIN_SECRETS, 'origin-value');
    assert.equal(resolved.LOG_LEVEL, 'WARN', 'the environment wins');
    assert.equal(resolved.UPSTASH_REDIS_REST_URL, undefined, 'an empty value fills nothing');
    assert.deepEqual(sm.calls.map((c) => c.arn).sort(), [DATA, ORIGIN].sort());
    assert.ok(sm.calls.every((c) => c.token === 'lambda-session' && c.accessKeyId === 'AKIDLAMBDA'));
  });

  it('signs as the SDK signer does an endpoint with a path of odd characters, and a session token with stray spaces', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: KEYS.AKIDLAMBDA!, AWS_SESSION_TOKEN: ' pasted  token ' });
    sm.answers.set(DATA, [secretString({ MCP_REQUEST_STATE_KEY: 'through a proxy' })]);
    const resolved = await resolveSecrets({ ...env(DATA), AWS_ENDPOINT_URL_SECRETS_MANAGER: `${sm.endpoint}/a proxy/é(1)*!` });
    assert.equal(resolved.MCP_REQUEST_STATE_KEY, 'through a proxy');
    assert.deepEqual(
      sm.calls.map((c) => c.token),
      ['pasted  token'],
      'sent as given; HTTP drops only the outer spaces',
    );
  });

  it('fails at once, naming the secret and what to check, when AWS refuses the signature (control: the check can fail)', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: 'not-the-key' });
    sm.answers.set(DATA, [secretString({ MCP_REQUEST_STATE_KEY: 'x' })]);
    await assert.rejects(
      resolveSecrets(env(DATA)),
      /MCP_SECRETS_ARN: could not read secret arn:aws:secretsmanager:.*data-AbCdEf .*InvalidSignatureException.*HTTP 400.*secretsmanager:GetSecretValue/,
    );
    assert.equal(sm.counted.requests, 1, 'not tried again');
    assert.equal(sm.calls.length, 0, 'refused before the operation');
  });

  it('fails at once on a secret that does not exist, and on one that is not JSON', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: KEYS.AKIDLAMBDA! });
    await assert.rejects(
      resolveSecrets(env(DATA)),
      /could not read secret .*data-AbCdEf.*ResourceNotFoundException: Secrets Manager can't find.*existing secret in this region/,
    );
    assert.equal(sm.calls.length, 1);
    for (const text of ['not json', 'null', '"a plain string"', '["A", "B"]', '42']) {
      sm.answers.set(DATA, [{ status: 200, body: { SecretString: text } }]);
      await assert.rejects(resolveSecrets(env(DATA)), /MCP_SECRETS_ARN: secret .*data-AbCdEf is not a JSON object/, text);
    }
  });

  it('tries again after a 5xx or throttling, at most three times', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: KEYS.AKIDLAMBDA! });
    sm.answers.set(DATA, [{ status: 500, body: { __type: 'InternalServiceError', message: 'oops' } }, secretString({ MCP_REQUEST_STATE_KEY: 'second try' })]);
    assert.equal((await resolveSecrets(env(DATA))).MCP_REQUEST_STATE_KEY, 'second try');
    assert.equal(sm.calls.length, 2);
    sm.calls.length = 0;
    sm.answers.set(DATA, [{ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } }]);
    await assert.rejects(resolveSecrets(env(DATA)), /ThrottlingException: Rate exceeded/);
    assert.equal(sm.calls.length, 3);
  });

  it('fails naming the endpoint when nothing answers there', async () => {
    useCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: KEYS.AKIDLAMBDA! });
    await assert.rejects(
      resolveSecrets({ ...env(DATA), AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9' }),
      /could not read secret .*data-AbCdEf from http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/,
    );
  });

  it("uses the AWS SDK's client, and its credential chain, where the environment holds no keys (a container)", async () => {
    const endpoint = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: 'AKIDCONTAINER',
          SecretAccessKey: KEYS.AKIDCONTAINER,
          Token: 'task-role-session',
          Expiration: new Date(Date.now() + 3600_000).toISOString(),
        }),
      ),
    );
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    try {
      useCredentials({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/credentials` });
      sm.answers.set(DATA, [secretString({ MCP_REQUEST_STATE_KEY: 'via the sdk' })]);
      assert.equal((await resolveSecrets(env(DATA))).MCP_REQUEST_STATE_KEY, 'via the sdk');
      assert.deepEqual(sm.calls, [{ arn: DATA, token: 'task-role-session', accessKeyId: 'AKIDCONTAINER' }]);
    } finally {
      await new Promise((r) => endpoint.close(r));
    }
  });
});
