// `npm run cost`: the estimate's arithmetic (tiers, mixes, every service priced from the table),
// the standard mixes against the checked-in units, and the CLI as a new user meets it, bad input
// included.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { estimate, PRICING, tiered } from '../../cost/estimate.ts';
import type { MeasuredUnits, Unit } from '../../cost/measure.ts';
import { MIXES } from '../../cost/mixes.ts';

const UNITS = JSON.parse(readFileSync(new URL('../../cost/units.json', import.meta.url), 'utf8')) as MeasuredUnits;

/** A unit that costs exactly one of everything. */
const ONE: Unit = {
  description: 'one of everything',
  lambda: { invocations: 1, asyncInvocations: 0, billedMs: 1000, gbSeconds: 1 },
  apiGateway: { requests: 1, bytesOut: 1024 ** 3 },
  cloudFront: { requests: 1, bytesIn: 1024 ** 3, bytesOut: 1024 ** 3, edgeFunctionInvocations: 1 },
  dynamodb: { readUnits: 1, writeUnits: 1, requests: 2 },
  s3: { putClassRequests: 1, getClassRequests: 1 },
  redis: { commands: 1, bytes: 1024 ** 3, byCommand: {} },
  logs: { bytes: 1024 ** 3 },
};

function cli(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/cost.ts', ...args], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('the cost estimate', () => {
  it('applies graduated tiers: each price to the part of the quantity inside its tier', () => {
    const tiers = [
      { upTo: 10, price: 2 },
      { upTo: 30, price: 1 },
      { upTo: null, price: 0.5 },
    ];
    assert.equal(tiered(5, tiers), 10);
    assert.equal(tiered(25, tiers), 20 + 15);
    assert.equal(tiered(50, tiers), 20 + 20 + 10);
    assert.equal(tiered(0, tiers), 0);
  });

  it('prices a million calls of one of everything from the table, service by service', () => {
    const units = { ...UNITS, units: { one: ONE } };
    const result = estimate(units, PRICING, { description: '', perCall: { one: 1 } }, 1e6);
    const p = PRICING;
    const close = (actual: number | undefined, expected: number, what: string) =>
      assert.ok(Math.abs(actual! - expected) < 1e-6 * Math.max(1, expected), `${what}: ${actual} ≠ ${expected}`);
    close(result.byService.Lambda, p.lambda.perMillionRequests + 1e6 * p.lambda.perGbSecond[0]!.price, 'Lambda');
    close(result.byService['API Gateway'], p.apiGateway.perMillionRequests[0]!.price, 'API Gateway');
    const edge = p.cloudFront.lambdaAtEdge;
    const edgeCost = edge.perMillionRequests + 1e6 * (edge.billedMsPerInvocation / 1000) * (edge.memoryMb / 1024) * edge.perGbSecond;
    close(
      result.byService.CloudFront,
      100 * p.cloudFront.perTenThousandHttpsRequests + 1e6 * p.cloudFront.dataTransferToOriginPerGb + tiered(1e6, p.cloudFront.dataTransferOutPerGb) + edgeCost,
      'CloudFront',
    );
    close(result.byService.DynamoDB, p.dynamodb.perMillionReadRequestUnits + p.dynamodb.perMillionWriteRequestUnits, 'DynamoDB');
    close(result.byService.S3, 1000 * (p.s3.perThousandPutCopyPostList + p.s3.perThousandGetAndOther), 'S3');
    close(
      result.byService['Upstash Redis'],
      10 * p.upstash.perHundredThousandCommands + (1e6 - p.upstash.freeBandwidthGb) * p.upstash.bandwidthPerGb,
      'Upstash',
    );
    close(result.byService['CloudWatch Logs'], 1e6 * p.cloudWatchLogs.ingestionPerGb, 'CloudWatch Logs');
    close(
      result.total,
      Object.values(result.byService).reduce((a, b) => a + b, 0),
      'total',
    );
  });

  it("scales linearly below the first tiers, and adds a mix's own tool time", () => {
    const mix = MIXES.chat!;
    const [small, large] = [estimate(UNITS, PRICING, mix, 1e5), estimate(UNITS, PRICING, mix, 1e6)];
    assert.ok(Math.abs(large.total - 10 * small.total) < 1e-6 * large.total);
    const agent = estimate(UNITS, PRICING, MIXES.agent!, 1e6);
    const gbSeconds = agent.lines.find((l) => l.item.startsWith('duration'))!.quantity;
    assert.ok(gbSeconds > MIXES.agent!.toolGbSecondsPerCall! * 1e6, "the tasks' work is billed on top of the measured units");
  });

  it('has a price source, a date and a region, and every standard mix names only measured units', () => {
    assert.equal(PRICING.region, 'us-east-1');
    assert.match(PRICING.readOn, /^\d{4}-\d{2}-\d{2}$/);
    for (const service of [PRICING.lambda, PRICING.apiGateway, PRICING.cloudFront, PRICING.dynamodb, PRICING.s3, PRICING.upstash, PRICING.cloudWatchLogs]) {
      assert.match(service.source, /^https:\/\//);
    }
    for (const [name, mix] of Object.entries(MIXES)) {
      for (const id of Object.keys(mix.perCall)) assert.ok(UNITS.units[id], `mix ${name} names ${id}, which cost/units.json lacks`);
      assert.ok(estimate(UNITS, PRICING, mix, 1e6).total > 0);
    }
  });
});

describe('npm run cost', () => {
  it('prints a monthly estimate per service and in total for a million calls', () => {
    const { code, out } = cli('--calls', '1000000');
    assert.equal(code, 0);
    assert.match(out, /Monthly estimate for 1,000,000 calls, mix "chat"/);
    for (const service of ['Lambda', 'API Gateway', 'CloudFront', 'DynamoDB', 'S3', 'Upstash Redis', 'CloudWatch Logs'])
      assert.match(out, new RegExp(`^  ${service} +\\$`, 'm'));
    assert.match(out, /^ {2}Total +\$\d+\.\d\d/m);
    assert.match(out, /prices for us-east-1, read \d{4}-\d{2}-\d{2}/);
  });

  it('takes the standard mixes, a mix of your own, suffixed counts and --json', () => {
    for (const mix of Object.keys(MIXES)) assert.equal(cli('--calls', '2M', '--mix', mix).code, 0, mix);
    const own = JSON.parse(cli('--calls', '1e6', '--mix', 'modernCall=1', '--json').out) as { total: number; calls: number };
    assert.equal(own.calls, 1e6);
    const direct = estimate(UNITS, PRICING, { description: '', perCall: { modernCall: 1 } }, 1e6);
    assert.ok(Math.abs(own.total - direct.total) < 1e-9);
  });

  it('refuses bad input with a message that says what it wanted, and the usage', () => {
    const cases: [string[], RegExp][] = [
      [[], /--calls is required/],
      [['--calls', 'lots'], /--calls takes a number of calls above 0.*got "lots"/],
      [['--calls', '-5'], /--calls/],
      [['--calls', '0'], /above 0/],
      [['--calls', '1000', '--mix', 'party'], /"party" is neither a standard mix \(chat, agent, dashboard\)/],
      [['--calls', '1000', '--mix', 'modernCall=x'], /modernCall needs a count of 0 or more/],
      [['--calls', '1000', '--mix', 'teleport=1'], /"teleport" is not a measured unit/],
      [['--calls', '1000', '--units', '/nonexistent.json'], /cannot read \/nonexistent\.json: run npm run cost:measure/],
      [['--calls', '1000', '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = cli(...args);
      assert.equal(code, 2, `${args.join(' ')} exits 2`);
      assert.match(err, message, args.join(' '));
      assert.match(err, /Usage: npm run cost -- --calls <N>/);
    }
  });
});
