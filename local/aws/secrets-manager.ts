// A Secrets Manager model on a loopback port: GetSecretValue (AWS JSON 1.1) as AWS answers it. The
// request's Signature Version 4 is recomputed with the AWS SDK's own signer and refused as AWS
// refuses it (unknown key or session token, wrong region or service in the scope, a stale date, a
// signature that does not match); then the caller's grants (the construct's IAM policy: the ARNs
// its role may read), then the secret itself. Reads are counted per ARN. No latency, no KMS.
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
import { createHash, createHmac, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';

/** The account every modelled ARN is in. */
export const MODEL_ACCOUNT = '123456789012';
/** How far a request's x-amz-date may be from the service's clock (AWS: 5 minutes). */
const CLOCK_SKEW_MS = 5 * 60_000;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` random letters and digits, as a generated secret without punctuation (and a secret ARN's suffix) is made. */
export const alphanumeric = (length: number) => Array.from({ length }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');

/** An ARN shaped as Secrets Manager mints them: the name, then a hyphen and six random characters. */
export const secretArn = (region: string, name: string) => `arn:aws:secretsmanager:${region}:${MODEL_ACCOUNT}:secret:${name}-${alphanumeric(6)}`;

/** A role's credentials as the model knows them, and the secrets its policy lets it read. */
export interface Principal {
  /** The role session, for AccessDeniedException messages (arn:aws:sts::<account>:assumed-role/<role>/<session>). */
  arn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** ARNs it may secretsmanager:GetSecretValue on. */
  granted: string[];
}

export interface SecretsManagerOptions {
  /** The region this endpoint serves: a request signed for another is refused. */
  region: string;
  /** ARN to JSON object, each served as its `SecretString`. */
  secrets: Record<string, Record<string, string>>;
  principals: Principal[];
}

export interface SecretsManagerModel {
  /** For AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  endpoint: string;
  /** GetSecretValue calls answered, per secret ARN. */
  reads: Map<string, number>;
  /** The same, per caller (the role session's ARN). */
  readsBy: Map<string, number>;
  /** Requests refused, in order: the error type and the SecretId asked for (when the request got that far). */
  refused: { type: string; secretId?: string }[];
  /** The secret's value now (a copy), or undefined when there is none. */
  value(arn: string): Record<string, string> | undefined;
  /** Creates the secret or puts a new value (PutSecretValue / CreateSecret, as an operator does). */
  put(arn: string, value: Record<string, string>): void;
  /** Deletes the secret (DeleteSecret with ForceDeleteWithoutRecovery). */
  delete(arn: string): void;
  stop(): Promise<void>;
}

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

class Refusal extends Error {
  /** The SecretId asked for, once the request got that far. */
  secretId?: string;
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const INVALID_TOKEN = 'The security token included in the request is invalid.';

/** `20261207T201500Z` as a Date, or undefined when malformed. */
function amzDate(raw: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(raw ?? '');
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}

/** The principal who signed the request, once its signature holds; a Refusal as AWS words it otherwise. */
async function authenticate(req: IncomingMessage, body: string, region: string, principals: Principal[]): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) throw new Refusal('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const auth = AUTHORIZATION.exec(header);
  if (!auth) throw new Refusal('IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`);
  const [, accessKeyId, day, scopeRegion, service, signedHeaders, signature] = auth as unknown as string[];
  const names = signedHeaders!.split(';');
  const unsigned = ['host', 'x-amz-date', ...Object.keys(req.headers).filter((h) => h.startsWith('x-amz-'))].filter((h) => !names.includes(h));
  if (unsigned.length) throw new Refusal('IncompleteSignatureException', `Headers that must be signed were not: ${unsigned.join(', ')}`);
  if (service !== 'secretsmanager') throw new Refusal('InvalidSignatureException', "Credential should be scoped to correct service: 'secretsmanager'.");
  if (scopeRegion !== region) throw new Refusal('InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  const principal = principals.find((p) => p.accessKeyId === accessKeyId);
  if (!principal || (req.headers['x-amz-security-token'] ?? undefined) !== principal.sessionToken)
    throw new Refusal('UnrecognizedClientException', INVALID_TOKEN);
  const signingDate = amzDate(req.headers['x-amz-date'] as string | undefined);
  if (!signingDate || signingDate.toISOString().slice(0, 10).replace(/-/g, '') !== day)
    throw new Refusal('IncompleteSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP');
  if (Math.abs(Date.now() - signingDate.getTime()) > CLOCK_SKEW_MS)
    throw new Refusal('InvalidSignatureException', `Signature expired: ${req.headers['x-amz-date']} is now earlier or later than 5 minutes from now.`);
  const headers = Object.fromEntries(names.map((name) => [name, String(req.headers[name] ?? '')]));
  const [hostname, port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({ credentials: principal, region, service, sha256: Sha256, applyChecksum: false });
  const request = { method: req.method!, protocol: 'http:', hostname: hostname!, port: Number(port) || undefined, path: req.url!, headers, query: {}, body };
  const expected = /Signature=([0-9a-f]{64})/.exec(String((await signer.sign(request, { signingDate })).headers.authorization))?.[1];
  if (expected !== signature)
    throw new Refusal(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  return principal;
}

/** The secret asked for, after IAM: a secret the policy does not name is denied before it is looked up, as AWS does. */
function authorize(principal: Principal, secretId: string, secrets: Map<string, Record<string, string>>): [string, Record<string, string>] {
  const arn = secrets.has(secretId)
    ? secretId
    : ([...secrets.keys()].find(
        (a) =>
          a
            .split(':')
            .pop()!
            .replace(/-[A-Za-z0-9]{6}$/, '') === secretId,
      ) ?? secretId);
  if (!principal.granted.includes(arn))
    throw new Refusal(
      'AccessDeniedException',
      `User: ${principal.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
  const secret = secrets.get(arn);
  if (!secret) throw new Refusal('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  return [arn, secret];
}

async function answer(req: IncomingMessage, body: string, options: SecretsManagerOptions, secrets: Map<string, Record<string, string>>) {
  const principal = await authenticate(req, body, options.region, options.principals);
  const target = req.headers['x-amz-target'];
  if (target !== 'secretsmanager.GetSecretValue') throw new Refusal('UnknownOperationException', `${target ?? 'no X-Amz-Target'}: not modelled`);
  let secretId: unknown;
  try {
    secretId = (JSON.parse(body) as { SecretId?: unknown }).SecretId;
  } catch {}
  if (typeof secretId !== 'string' || !secretId)
    throw new Refusal('ValidationException', "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null");
  try {
    const [arn, secret] = authorize(principal, secretId, secrets);
    return { arn, secret, principal };
  } catch (err) {
    if (err instanceof Refusal) err.secretId = secretId;
    throw err;
  }
}

/** Serves `options.secrets` to `options.principals`, each reading what it was granted. */
export async function startSecretsManager(options: SecretsManagerOptions): Promise<SecretsManagerModel> {
  const secrets = new Map(Object.entries(options.secrets).map(([arn, value]) => [arn, { ...value }]));
  const reads = new Map<string, number>();
  const readsBy = new Map<string, number>();
  const refused: SecretsManagerModel['refused'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', async () => {
      const reply = (status: number, payload: unknown) =>
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() }).end(JSON.stringify(payload));
      try {
        const { arn, secret, principal } = await answer(req, body, options, secrets);
        reads.set(arn, (reads.get(arn) ?? 0) + 1);
        readsBy.set(principal.arn, (readsBy.get(principal.arn) ?? 0) + 1);
        const name = arn
          .split(':')
          .pop()!
          .replace(/-[A-Za-z0-9]{6}$/, '');
        reply(200, {
          ARN: arn,
          Name: name,
          VersionId: 'v1',
          SecretString: JSON.stringify(secret),
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        });
      } catch (err) {
        if (!(err instanceof Refusal)) return reply(500, { __type: 'InternalServiceError', message: String(err) });
        refused.push({ type: err.type, ...(err.secretId !== undefined && { secretId: err.secretId }) });
        reply(400, { __type: err.type, message: err.message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads,
    readsBy,
    refused,
    value: (arn) => (secrets.has(arn) ? { ...secrets.get(arn)! } : undefined),
    put: (arn, value) => void secrets.set(arn, { ...value }),
    delete: (arn) => void secrets.delete(arn),
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
