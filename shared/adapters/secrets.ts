// The JSON secrets named by `MCP_SECRETS_ARN`, read once at start by the Lambda and container
// adapters. Where the environment holds the credentials, as Lambda always sets them, each secret is
// one GetSecretValue POST signed with Signature Version 4 (node:http): no AWS SDK client to load on a
// cold start, whose import and first two calls cost about 45 ms of CPU (bench/findings.md). Elsewhere
// (a container's credential endpoint, FIPS or dual-stack endpoints, another partition) the SDK's client.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

type Env = Record<string, string | undefined>;

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const ATTEMPTS = 3;
/** Each try's limit, connection to last byte (the SDK client's socket timeout here before). */
const ATTEMPT_TIMEOUT_MS = 5_000;
const RETRY_BASE_MS = 100;
/** An answer longer than this is no GetSecretValue answer (a secret holds at most 64 KiB): cut off, not buffered. */
const MAX_ANSWER_CHARS = 1 << 20;
const TARGET = 'secretsmanager.GetSecretValue';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Regions of the aws, aws-cn and aws-us-gov partitions, whose endpoints this file knows. */
const KNOWN_REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d+$/;

/**
 * Values from the JSON secrets named by `MCP_SECRETS_ARN` (a comma list: the data plane's secret
 * with Upstash URL/token and request-state key, and its origin secret) fill in variables the
 * environment does not set. Fetched in parallel, each try bounded, a failure failing the start
 * (which the adapter's next request retries).
 */
export async function resolveSecrets(env: Env): Promise<Env> {
  const arns = (env.MCP_SECRETS_ARN ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  if (arns.length === 0) return env;
  const read = signedReader(env) ?? (await sdkReader(env));
  const secrets = await Promise.all(
    arns.map(async (arn) => {
      const text = (await read(arn)) ?? '{}';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {}
      // `null`, a string, a number or an array parse too, and would fill nothing or nonsense (keys "0", "1"...).
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`MCP_SECRETS_ARN: secret ${arn} is not a JSON object`);
      return parsed as Record<string, unknown>;
    }),
  );
  const merged = { ...env };
  for (const values of secrets) for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && v !== '' && !merged[k]) merged[k] = v;
  return merged;
}

type Reader = (arn: string) => Promise<string | undefined>;

/** The signed reader, when credentials and region are in the environment (this process's, where the SDK's chain reads them). */
function signedReader(env: Env): Reader | undefined {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
  const region = env.AWS_REGION;
  if (!accessKeyId || !secretAccessKey || !region || !KNOWN_REGION.test(region)) return undefined;
  if (/^true$/i.test(env.AWS_USE_FIPS_ENDPOINT ?? '') || /^true$/i.test(env.AWS_USE_DUALSTACK_ENDPOINT ?? '')) return undefined;
  const endpoint =
    env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? env.AWS_ENDPOINT_URL ?? `https://secretsmanager.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  if (!URL.canParse(endpoint)) throw new Error(`AWS_ENDPOINT_URL_SECRETS_MANAGER (or AWS_ENDPOINT_URL): expected a URL, got "${endpoint}"`);
  const credentials = { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) };
  // The SDK's client posts to the endpoint's path with a slash added (`/prefix` → `/prefix/`): so does this.
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return (arn) => getSecretValue(url, region, credentials, arn);
}

/** One secret's `SecretString`, tried again after a network error, a timeout, a 5xx or throttling. */
async function getSecretValue(url: URL, region: string, credentials: Credentials, arn: string): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await tryOnce(url, region, credentials, JSON.stringify({ SecretId: arn }));
    if ('value' in outcome) return outcome.value;
    if (!outcome.retry || attempt === ATTEMPTS) throw new Error(`MCP_SECRETS_ARN: could not read secret ${arn} from ${url.origin}: ${outcome.failure}`);
    // Full jitter, as the SDK's standard retry strategy waits.
    await new Promise((r) => setTimeout(r, Math.random() * RETRY_BASE_MS * 2 ** attempt));
  }
}

type Outcome = { value: string | undefined } | { failure: string; retry: boolean };

async function tryOnce(url: URL, region: string, credentials: Credentials, body: string): Promise<Outcome> {
  let res: Answer;
  try {
    res = await post(url, signedHeaders(url, region, credentials, body), body);
  } catch (err) {
    const error = err as Error & { final?: boolean };
    return {
      failure: error.cause instanceof Error && error.cause.name === 'TimeoutError' ? `no answer within ${ATTEMPT_TIMEOUT_MS} ms` : error.message,
      retry: !error.final,
    };
  }
  if (res.status === 200) {
    try {
      return { value: (JSON.parse(res.text) as { SecretString?: string }).SecretString };
    } catch {
      // Not JSON.parse's message: it can quote the answer, and so the secret, into the start's error.
      return { failure: 'the answer (HTTP 200) is not JSON', retry: true };
    }
  }
  let parsed: { __type?: string; message?: string; Message?: string } = {};
  try {
    parsed = JSON.parse(res.text);
  } catch {}
  // `com.amazonaws.secretsmanager#ResourceNotFoundException`, or the header's `ResourceNotFoundException:http://...`.
  const type = (parsed.__type ?? res.errorType ?? 'UnknownError').split('#').pop()!.split(':')[0]!;
  const message = parsed.message ?? parsed.Message ?? res.text.slice(0, 200);
  return {
    failure: `${type}: ${message} (HTTP ${res.status})${advice(type)}`,
    retry: res.status >= 500 || res.status === 429 || /Throttl|TooManyRequests|RequestLimitExceeded/.test(type),
  };
}

interface Answer {
  status: number;
  errorType?: string;
  text: string;
}

/**
 * One POST through node:http(s), as the SDK's client sends it: fetch would instantiate undici's
 * WebAssembly HTTP parser on its first connection, a cold-start cost the kit does not otherwise pay.
 */
async function post(url: URL, headers: Record<string, string>, body: string): Promise<Answer> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.length <= MAX_ANSWER_CHARS) return;
          reject(Object.assign(new Error(`the answer is larger than ${MAX_ANSWER_CHARS} characters, which no secret is`), { final: true }));
          req.destroy();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype'] as string | undefined, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A 101 nobody asked for: without this listener Node drops the socket and the request never settles, not even on its timeout.
    req.on('upgrade', (res: IncomingMessage, socket: Socket) => {
      socket.destroy();
      reject(new Error(`HTTP ${res.statusCode} (switching protocols) to a POST`));
    });
    req.end(body);
  });
}

/** What to check after a refusal that trying again will not change. */
function advice(type: string): string {
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|SignatureDoesNotMatch|ExpiredToken/.test(type))
    return "; check that the function's role may secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)";
  if (/ResourceNotFound/.test(type)) return '; check that the ARN names an existing secret in this region';
  return '';
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** The URL's path (already percent-encoded once) with each segment URI-encoded again: RFC 3986 unreserved characters kept. */
const canonicalPath = (url: URL) =>
  url.pathname
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/') || '/';

/** The headers of a SigV4-signed AWS JSON POST to the endpoint's path (no query). */
export function signedHeaders(url: URL, region: string, credentials: Credentials, body: string, now = new Date()): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, host: url.host, 'x-amz-date': amzDate, 'x-amz-target': TARGET };
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  // Header values trimmed, inner runs of spaces as one; the path's segments encoded again, as the spec says for every service but S3.
  const values = names.map((n) => `${n}:${headers[n]!.trim().replace(/ +/g, ' ')}`);
  const canonical = ['POST', canonicalPath(url), '', ...values, '', names.join(';'), sha256(body)].join('\n');
  const scope = `${day}/${region}/secretsmanager/aws4_request`;
  const key = ['secretsmanager', 'aws4_request'].reduce(hmac, hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region));
  const signature = createHmac('sha256', key)
    .update(['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n'))
    .digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

/** The AWS SDK's client, loaded only here: credentials from its provider chain. */
async function sdkReader(env: Env): Promise<Reader> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const endpoint = env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? env.AWS_ENDPOINT_URL;
  const client = new SecretsManagerClient({
    ...(env.AWS_REGION && { region: env.AWS_REGION }),
    ...(endpoint && { endpoint }),
    maxAttempts: ATTEMPTS,
    requestHandler: { connectionTimeout: 2000, socketTimeout: ATTEMPT_TIMEOUT_MS },
  });
  return async (arn) => (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
}
