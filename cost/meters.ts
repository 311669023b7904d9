// Meters for the billable units of each service the kit calls, as counting proxies in front of
// the local emulators and the modelled CloudFront. What each counts, and how its service bills it:
// - DynamoDB: read and write request units, as dynalite computes them when asked to
//   (ReturnConsumedCapacity, which the meter adds to every request): item size rounded up to
//   4 KB per read unit (halved when eventually consistent), 1 KB per write unit; a conditional
//   write whose condition fails is still billed, at least 1 write unit, which the meter counts;
//   a query is billed on the sum of its items' sizes, as dynalite does. Transactions (twice the
//   units) are not counted: the kit uses none, and dynalite has none;
// - S3: requests by price class (PUT, COPY, POST and LIST; GET, HEAD and the rest; DELETE free);
// - Redis (the Upstash REST endpoint): commands, one per command in a pipeline or transaction,
//   and the bytes each way (Upstash bills commands and bandwidth);
// - the front door (CloudFront, and so API Gateway behind it): requests and bytes each way.
import { startMeterProxy, type Exchange, type MeterProxy } from './meter-proxy.ts';

export interface Usage {
  dynamodb: { requests: number; readUnits: number; writeUnits: number; operations: Record<string, number> };
  s3: { putClass: number; getClass: number; deletes: number; bytesIn: number; bytesOut: number };
  redis: { httpRequests: number; commands: number; bytes: number; byCommand: Record<string, number> };
  /** `apiGatewayRequests`: a streamed response is billed as one request per 10 MB, rounded up. */
  front: { requests: number; apiGatewayRequests: number; requestBytes: number; responseBytes: number; largestResponseBytes: number };
}

const emptyUsage = (): Usage => ({
  dynamodb: { requests: 0, readUnits: 0, writeUnits: 0, operations: {} },
  s3: { putClass: 0, getClass: 0, deletes: 0, bytesIn: 0, bytesOut: 0 },
  redis: { httpRequests: 0, commands: 0, bytes: 0, byCommand: {} },
  front: { requests: 0, apiGatewayRequests: 0, requestBytes: 0, responseBytes: 0, largestResponseBytes: 0 },
});

/** What happened between two snapshots (`later` minus `earlier`), maxima taken from `later`. */
export function usageBetween(earlier: Usage, later: Usage): Usage {
  const minus = <T extends Record<string, unknown>>(a: T, b: T): T =>
    Object.fromEntries(
      Object.entries(b).map(([k, v]) => [
        k,
        typeof v === 'number'
          ? k.startsWith('largest')
            ? v
            : v - ((a[k] as number | undefined) ?? 0)
          : minus((a[k] ?? {}) as Record<string, unknown>, v as Record<string, unknown>),
      ]),
    ) as T;
  return minus(earlier as unknown as Record<string, unknown>, later as unknown as Record<string, unknown>) as unknown as Usage;
}

const bump = (counts: Record<string, number>, key: string, by = 1) => void (counts[key] = (counts[key] ?? 0) + by);

const DYNAMO_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

type Capacity = { CapacityUnits?: number };

function recordDynamo(usage: Usage['dynamodb'], exchange: Exchange) {
  const operation = String(exchange.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
  usage.requests++;
  bump(usage.operations, operation);
  const answer = exchange.responseBody?.length
    ? (JSON.parse(exchange.responseBody.toString('utf8')) as { ConsumedCapacity?: Capacity | Capacity[]; __type?: string })
    : {};
  const consumed = [answer.ConsumedCapacity ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
  if (DYNAMO_READS.has(operation)) usage.readUnits += consumed;
  else if (DYNAMO_WRITES.has(operation)) {
    const conditionFailed = exchange.status === 400 && String(answer.__type).endsWith('ConditionalCheckFailedException');
    usage.writeUnits += conditionFailed ? 1 : consumed;
  }
}

/** Asks dynalite to compute consumed capacity, as DynamoDB would bill it. */
function withCapacity(body: Buffer): Buffer {
  if (body.length === 0) return body;
  const request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...request, ReturnConsumedCapacity: 'TOTAL' }));
}

function recordS3(usage: Usage['s3'], exchange: Exchange) {
  const query = new URL(exchange.url, 'http://s3').searchParams;
  usage.bytesIn += exchange.requestBytes;
  usage.bytesOut += exchange.responseBytes;
  if (exchange.method === 'DELETE' && !query.has('uploadId')) usage.deletes++;
  else if (exchange.method === 'PUT' || exchange.method === 'POST' || (exchange.method === 'GET' && (query.has('list-type') || query.has('uploads'))))
    usage.putClass++;
  else usage.getClass++;
}

function recordRedis(usage: Usage['redis'], exchange: Exchange) {
  usage.httpRequests++;
  usage.bytes += exchange.requestBytes + exchange.responseBytes;
  const path = new URL(exchange.url, 'http://redis').pathname.replace(/\/+$/, '');
  const body = exchange.requestBody?.length ? (JSON.parse(exchange.requestBody.toString('utf8')) as unknown) : [];
  const commands = (path === '' ? [body] : (body as unknown[])) as unknown[][];
  for (const command of commands) {
    usage.commands++;
    bump(usage.byCommand, String(command[0]).toUpperCase());
  }
}

const API_GATEWAY_STREAM_BILLING_BYTES = 10 * 1024 * 1024;

function recordFront(usage: Usage['front'], exchange: Exchange) {
  usage.requests++;
  usage.apiGatewayRequests += Math.max(1, Math.ceil(exchange.responseBytes / API_GATEWAY_STREAM_BILLING_BYTES));
  usage.requestBytes += exchange.requestBytes;
  usage.responseBytes += exchange.responseBytes;
  usage.largestResponseBytes = Math.max(usage.largestResponseBytes, exchange.responseBytes);
}

export type MeteredService = keyof Usage;

export interface Meters {
  usage: Usage;
  /** A copy of the counts so far. */
  snapshot(): Usage;
  /** Starts a meter in front of `target` for one service; resolves to the URL to use instead. */
  attach(service: MeteredService, target: string): Promise<string>;
  stop(): Promise<void>;
}

const RECORDERS: { [S in MeteredService]: Omit<Parameters<typeof startMeterProxy>[0], 'target' | 'record'> & { record(usage: Usage[S], e: Exchange): void } } =
  {
    dynamodb: { rewriteRequest: withCapacity, keepResponseBody: true, record: recordDynamo },
    s3: { record: recordS3 },
    redis: { inspectRequest: true, record: recordRedis },
    front: { record: recordFront },
  };

/** Meters whose counts all land in one `Usage`. */
export function createMeters(): Meters {
  const usage = emptyUsage();
  const proxies: MeterProxy[] = [];
  return {
    usage,
    snapshot: () => structuredClone(usage),
    async attach(service, target) {
      const { record, ...options } = RECORDERS[service];
      const proxy = await startMeterProxy({ target, ...options, record: (e) => (record as (u: unknown, e: Exchange) => void)(usage[service], e) });
      proxies.push(proxy);
      return proxy.url;
    },
    stop: async () => void (await Promise.all(proxies.map((p) => p.stop()))),
  };
}
