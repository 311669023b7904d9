// Container start-up without an image of our own: the task runs a public Node.js image whose
// command imports this file from a data: URL (container-image.ts), so deploying needs no Docker.
// It fetches the server's bundle pack (gzipped JSON of the esbuild output, built by
// infra/endpoint/container-image.ts) from the CDK asset bucket with the task role's credentials,
// writes the files under /tmp and imports the entry, which serves HTTP on PORT.
// Plain JavaScript with node: built-ins only; S3 GetObject signed with Signature Version 4.
//
//   MCP_BUNDLE_BUCKET, MCP_BUNDLE_KEY   where the pack is
//   AWS_REGION                          the bucket's region
//   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS sets it) or AWS_CONTAINER_CREDENTIALS_FULL_URI
//   AWS_ENDPOINT_URL_S3                 optional: an S3-compatible endpoint, addressed path-style
//   MCP_BUNDLE_DIR                      optional: where the files go (default /tmp/mcp-bundle)
//   MCP_BUNDLE_ATTEMPTS                 optional: tries at most (default 5)
//   MCP_BUNDLE_TIMEOUT_MS               optional: each try's limit, credentials to last byte (default 30000)
//   MCP_BUNDLE_RETRY_MS                 optional: the first wait between tries, doubling (default 1000, at most 10 s)
//
// A network error, a timeout, a 5xx or throttling (429, 503 SlowDown) is tried again after a
// wait; 403, 404 and other 4xx fail at once, with a line naming the object and what to check.
// After the last try the process exits 1, so ECS replaces the task (and the deployment circuit
// breaker rolls back a deploy whose tasks never start).
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const ECS_CREDENTIALS_HOST = 'http://169.254.170.2';
const MAX_RETRY_WAIT_MS = 10_000;

function whole(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`bootstrap: ${name} is "${value}"; expected a whole number above 0.`);
  return Number(value);
}

/** A failure that another try cannot mend: thrown as is, without retrying. */
class Permanent extends Error {}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`bootstrap: ${name} is not set.`);
  return value;
}

async function credentials(signal) {
  const relative = process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const url = relative ? `${ECS_CREDENTIALS_HOST}${relative}` : required('AWS_CONTAINER_CREDENTIALS_FULL_URI');
  const headers = process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN ? { authorization: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } : {};
  const response = await fetch(url, { headers, signal });
  if (!response.ok) throw new Error(`bootstrap: the credentials endpoint answered ${response.status}.`);
  const body = await response.json();
  return { accessKeyId: body.AccessKeyId, secretAccessKey: body.SecretAccessKey, sessionToken: body.Token };
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
const encodeKey = (key) =>
  key
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');

/** The object's URL: virtual-hosted on AWS, path-style on an S3-compatible endpoint. */
function objectUrl(bucket, key, region) {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3;
  if (endpoint) return new URL(`${endpoint.replace(/\/$/, '')}/${bucket}/${encodeKey(key)}`);
  return new URL(`https://${bucket}.s3.${region}.amazonaws.com/${encodeKey(key)}`);
}

/** Headers of a SigV4-signed GET (payload unsigned, as S3 allows). */
function signedHeaders(url, region, creds, now = new Date()) {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate };
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = ['GET', url.pathname, '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = ['s3', 'aws4_request'].reduce(hmac, hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region));
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  delete headers.host;
  return headers;
}

/** What to check when S3 refuses for good, by status. */
const ADVICE = {
  403: "check that the task role may s3:GetObject this object (and the bucket's KMS key, if any), and the credentials and clock (SignatureDoesNotMatch, RequestTimeTooSkewed)",
  404: 'check that the asset was published (cdk deploy uploads it before the service updates) and that MCP_BUNDLE_BUCKET and MCP_BUNDLE_KEY name it',
};

/** One try: credentials, the signed GetObject and its whole body, all within `signal`. */
async function fetchPackOnce(bucket, key, region, signal) {
  const url = objectUrl(bucket, key, region);
  const response = await fetch(url, { headers: signedHeaders(url, region, await credentials(signal)), signal });
  if (!response.ok) {
    const detail = `bootstrap: GetObject ${url.pathname} answered ${response.status}: ${(await response.text()).slice(0, 300)}`;
    const retried = response.status >= 500 || response.status === 429 || response.status === 408;
    if (retried) throw new Error(detail);
    throw new Permanent(`${detail} (bucket ${bucket}, key ${key}); ${ADVICE[response.status] ?? 'the request was refused; another try would be too'}.`);
  }
  return JSON.parse(gunzipSync(Buffer.from(await response.arrayBuffer())).toString('utf8'));
}

/** Tries up to MCP_BUNDLE_ATTEMPTS times, each within MCP_BUNDLE_TIMEOUT_MS, waiting longer between. */
async function fetchPack() {
  const region = required('AWS_REGION');
  const [bucket, key] = [required('MCP_BUNDLE_BUCKET'), required('MCP_BUNDLE_KEY')];
  const attempts = whole('MCP_BUNDLE_ATTEMPTS', 5);
  const timeoutMs = whole('MCP_BUNDLE_TIMEOUT_MS', 30_000);
  const firstWaitMs = whole('MCP_BUNDLE_RETRY_MS', 1000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchPackOnce(bucket, key, region, AbortSignal.timeout(timeoutMs));
    } catch (err) {
      if (err instanceof Permanent || attempt >= attempts) throw err;
      // Full jitter: tasks started together do not retry together.
      const waitMs = Math.round(Math.random() * Math.min(MAX_RETRY_WAIT_MS, firstWaitMs * 2 ** (attempt - 1)));
      const error = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String(err?.cause?.code ?? err?.message ?? err);
      console.error(
        JSON.stringify({ level: 'WARN', message: 'bootstrap: fetching the bundle failed; trying again', bucket, key, attempt, attempts, error, waitMs }),
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

/** Writes `{ entry, files: { relativePath: text } }` under dir; returns the entry's absolute path. */
function unpack(pack, dir) {
  const root = resolve(dir);
  for (const [name, text] of Object.entries(pack.files)) {
    const file = resolve(root, name);
    if (!file.startsWith(root + sep)) throw new Error(`bootstrap: the pack names a file outside its folder: ${name}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return join(root, pack.entry);
}

/** One log line per failure, with this file's frames named instead of its whole data: URL. */
function fail(err) {
  const stack = String(err?.stack ?? err).replace(/data:text\/javascript;base64,[A-Za-z0-9+/=]+/g, 'bootstrap.mjs');
  console.error(JSON.stringify({ level: 'ERROR', message: 'bootstrap: the server did not start', error: stack }));
  process.exit(1);
}

try {
  const started = Date.now();
  const entry = unpack(await fetchPack(), process.env.MCP_BUNDLE_DIR || '/tmp/mcp-bundle');
  console.log(JSON.stringify({ level: 'INFO', message: 'bootstrap: bundle loaded', entry, ms: Date.now() - started }));
  await import(pathToFileURL(entry).href);
} catch (err) {
  fail(err);
}
