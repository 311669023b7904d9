// The function's REPORT lines of the last hour, for `npm run verify`: one CloudWatch Logs
// FilterLogEvents call (JSON 1.1 protocol) signed with the environment's AWS credentials, through
// the SDK's own signer and credential chain (no Logs client is a dependency of the kit). Answers a
// sentence saying why instead when it cannot read them. `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` (the
// SDK's own variable) points it elsewhere, as the tests do.
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
import { createHash, createHmac } from 'node:crypto';

export interface ReportLine {
  initMs?: number;
  memorySizeMb: number;
  maxMemoryMb: number;
}

/** `REPORT RequestId: … Duration: … Memory Size: 1024 MB Max Memory Used: 81 MB Init Duration: 250.1 ms` */
export function parseReport(message: string): ReportLine | undefined {
  const size = /Memory Size: (\d+) MB/.exec(message)?.[1];
  const used = /Max Memory Used: (\d+) MB/.exec(message)?.[1];
  if (!message.startsWith('REPORT') || size === undefined || used === undefined) return undefined;
  const init = /Init Duration: ([\d.]+) ms/.exec(message)?.[1];
  return { memorySizeMb: Number(size), maxMemoryMb: Number(used), ...(init !== undefined && { initMs: Math.round(Number(init)) }) };
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** Cold starts and memory over the lines; `nearLimit` when memory used reached 90% of the size. */
export function summarizeReports(found: readonly ReportLine[]): { detail: string; nearLimit: boolean } {
  const inits = found
    .map((r) => r.initMs)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const memory = Math.max(...found.map((r) => r.maxMemoryMb));
  const size = Math.min(...found.map((r) => r.memorySizeMb));
  const init = inits.length ? `p50 ${inits[Math.floor(inits.length / 2)]} ms, max ${inits.at(-1)} ms (${inits.length} cold starts)` : 'none seen';
  return { detail: `${found.length} invocations; init ${init}; memory up to ${memory} of ${size} MB`, nearLimit: memory >= size * 0.9 };
}

/** SHA-256 for the signer, from node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  reset() {}
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

export async function reportLines(logGroup: string, region: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<ReportLine[] | string> {
  if (!region) return 'no region: pass --region or set AWS_REGION';
  const [{ defaultProvider }, { SignatureV4 }] = await Promise.all([import('@aws-sdk/credential-provider-node'), import('@smithy/signature-v4')]);
  let credentials;
  try {
    credentials = await defaultProvider()();
  } catch (error) {
    return `no AWS credentials in this environment (${(error as Error).message.split('\n')[0]}): REPORT lines need logs:FilterLogEvents on ${logGroup}`;
  }
  const endpoint = new URL(env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? `https://logs.${region}.amazonaws.com/`);
  const host = endpoint.host;
  const body = JSON.stringify({ logGroupName: logGroup, filterPattern: 'REPORT', startTime: Date.now() - 3_600_000, limit: 1000 });
  const signer = new SignatureV4({ credentials, region, service: 'logs', sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port && { port: Number(endpoint.port) }),
    path: '/',
    headers: { host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.FilterLogEvents' },
    body,
  });
  const response = await fetch(new URL('/', endpoint), { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(15_000) });
  const out = (await response.json()) as { events?: { message: string }[]; message?: string; __type?: string };
  if (!response.ok) return `CloudWatch Logs refused FilterLogEvents on ${logGroup}: ${out.__type ?? response.status} ${out.message ?? ''}`.trim();
  return (out.events ?? []).map((e) => parseReport(e.message)).filter((r): r is ReportLine => r !== undefined);
}
