// Turns measured units (cost/units.json) and a price table (cost/pricing.json) into a monthly
// estimate for a number of calls in a mix: the quantity of each billed item, then its price,
// tiers applied. Pure: no I/O, so tests and the CLI share it.
import type { Mix } from './mixes.ts';
import type { MeasuredUnits, Unit } from './measure.ts';
import pricingTable from './pricing.json' with { type: 'json' };

export type Pricing = typeof pricingTable;
export const PRICING: Pricing = pricingTable;

type Tier = { upTo: number | null; price: number };

/** Cost of `quantity` under graduated tiers (each tier's price applies to the part inside it). */
export function tiered(quantity: number, tiers: Tier[]): number {
  let cost = 0;
  let from = 0;
  for (const { upTo, price } of tiers) {
    const top = upTo ?? Infinity;
    if (quantity <= from) break;
    cost += (Math.min(quantity, top) - from) * price;
    from = top;
  }
  return cost;
}

export interface Line {
  service: string;
  item: string;
  quantity: number;
  unit: string;
  cost: number;
}

export interface Estimate {
  calls: number;
  lines: Line[];
  byService: Record<string, number>;
  total: number;
}

const GB = 1024 ** 3;

/** Sum of a quantity over the mix, per call. */
function perCall(units: MeasuredUnits, mix: Mix, pick: (u: Unit) => number): number {
  return Object.entries(mix.perCall).reduce((sum, [id, count]) => {
    const unit = units.units[id];
    if (!unit) throw new Error(`the mix names "${id}", which cost/units.json does not measure (it has ${Object.keys(units.units).join(', ')})`);
    return sum + count * pick(unit);
  }, 0);
}

export function estimate(units: MeasuredUnits, pricing: Pricing, mix: Mix, calls: number): Estimate {
  const q = (pick: (u: Unit) => number) => perCall(units, mix, pick) * calls;
  const invocations = q((u) => u.lambda.invocations);
  const gbSeconds = q((u) => u.lambda.gbSeconds) + (mix.toolGbSecondsPerCall ?? 0) * calls;
  const apiRequests = q((u) => u.apiGateway.requests);
  const cfRequests = q((u) => u.cloudFront.requests);
  const cfOutGb = q((u) => u.cloudFront.bytesOut) / GB;
  const cfInGb = q((u) => u.cloudFront.bytesIn) / GB;
  const edge = q((u) => u.cloudFront.edgeFunctionInvocations);
  const rru = q((u) => u.dynamodb.readUnits);
  const wru = q((u) => u.dynamodb.writeUnits);
  const puts = q((u) => u.s3.putClassRequests);
  const gets = q((u) => u.s3.getClassRequests);
  const commands = q((u) => u.redis.commands);
  const redisGb = q((u) => u.redis.bytes) / GB;
  const logGb = q((u) => u.logs.bytes) / GB;
  const { lambda, apiGateway, cloudFront, dynamodb, s3, upstash, cloudWatchLogs } = pricing;
  const edgeGbSeconds = edge * (cloudFront.lambdaAtEdge.billedMsPerInvocation / 1000) * (cloudFront.lambdaAtEdge.memoryMb / 1024);
  const lines: Line[] = [
    { service: 'Lambda', item: 'requests', quantity: invocations, unit: 'requests', cost: (invocations / 1e6) * lambda.perMillionRequests },
    { service: 'Lambda', item: `duration at ${units.memoryMb} MB, arm64`, quantity: gbSeconds, unit: 'GB-s', cost: tiered(gbSeconds, lambda.perGbSecond) },
    {
      service: 'API Gateway',
      item: 'REST requests (streamed: one per 10 MB)',
      quantity: apiRequests,
      unit: 'requests',
      cost: tiered(
        apiRequests / 1e6,
        apiGateway.perMillionRequests.map((t) => ({ upTo: t.upTo === null ? null : t.upTo / 1e6, price: t.price })),
      ),
    },
    {
      service: 'CloudFront',
      item: 'HTTPS requests',
      quantity: cfRequests,
      unit: 'requests',
      cost: (cfRequests / 1e4) * cloudFront.perTenThousandHttpsRequests,
    },
    { service: 'CloudFront', item: 'data out to clients', quantity: cfOutGb, unit: 'GB', cost: tiered(cfOutGb, cloudFront.dataTransferOutPerGb) },
    { service: 'CloudFront', item: 'data to the origin (request bodies)', quantity: cfInGb, unit: 'GB', cost: cfInGb * cloudFront.dataTransferToOriginPerGb },
    {
      service: 'CloudFront',
      item: 'Lambda@Edge origin-response runs',
      quantity: edge,
      unit: 'requests',
      cost: (edge / 1e6) * cloudFront.lambdaAtEdge.perMillionRequests + edgeGbSeconds * cloudFront.lambdaAtEdge.perGbSecond,
    },
    { service: 'DynamoDB', item: 'read request units', quantity: rru, unit: 'RRU', cost: (rru / 1e6) * dynamodb.perMillionReadRequestUnits },
    { service: 'DynamoDB', item: 'write request units', quantity: wru, unit: 'WRU', cost: (wru / 1e6) * dynamodb.perMillionWriteRequestUnits },
    { service: 'S3', item: 'PUT, COPY, POST, LIST requests', quantity: puts, unit: 'requests', cost: (puts / 1e3) * s3.perThousandPutCopyPostList },
    { service: 'S3', item: 'GET and other requests', quantity: gets, unit: 'requests', cost: (gets / 1e3) * s3.perThousandGetAndOther },
    { service: 'Upstash Redis', item: 'commands', quantity: commands, unit: 'commands', cost: (commands / 1e5) * upstash.perHundredThousandCommands },
    {
      service: 'Upstash Redis',
      item: `bandwidth (first ${upstash.freeBandwidthGb} GB free)`,
      quantity: redisGb,
      unit: 'GB',
      cost: Math.max(0, redisGb - upstash.freeBandwidthGb) * upstash.bandwidthPerGb,
    },
    { service: 'CloudWatch Logs', item: 'ingestion', quantity: logGb, unit: 'GB', cost: logGb * cloudWatchLogs.ingestionPerGb },
  ];
  const byService: Record<string, number> = {};
  for (const line of lines) byService[line.service] = (byService[line.service] ?? 0) + line.cost;
  return { calls, lines, byService, total: lines.reduce((sum, l) => sum + l.cost, 0) };
}
