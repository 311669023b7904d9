// How `npm run verify` reads REPORT lines (scripts/verify-logs.ts): the line format Lambda writes,
// the summary and its memory verdict, and a sentence instead of numbers when CloudWatch Logs
// refuses the call. The signed call itself is exercised end to end in test/aws/verify.test.ts.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parseReport, reportLines, summarizeReports } from '../../scripts/verify-logs.ts';

describe('REPORT lines for npm run verify', () => {
  it('parses memory and the init duration of a cold start, and nothing else', () => {
    assert.deepEqual(
      parseReport('REPORT RequestId: 1\tDuration: 2.1 ms\tBilled Duration: 3 ms\tMemory Size: 1024 MB\tMax Memory Used: 81 MB\tInit Duration: 250.6 ms'),
      { memorySizeMb: 1024, maxMemoryMb: 81, initMs: 251 },
    );
    assert.deepEqual(parseReport('REPORT RequestId: 2\tDuration: 2.1 ms\tBilled Duration: 3 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\t'), {
      memorySizeMb: 512,
      maxMemoryMb: 90,
    });
    assert.equal(parseReport('START RequestId: 1 Version: $LATEST'), undefined);
  });

  it('summarizes cold starts and memory, near the limit from 90% of the size', () => {
    assert.deepEqual(
      summarizeReports([
        { memorySizeMb: 1024, maxMemoryMb: 100, initMs: 300 },
        { memorySizeMb: 1024, maxMemoryMb: 120 },
      ]),
      {
        detail: '2 invocations; init p50 300 ms, max 300 ms (1 cold starts); memory up to 120 of 1024 MB',
        nearLimit: false,
      },
    );
    assert.equal(summarizeReports([{ memorySizeMb: 1024, maxMemoryMb: 922 }]).nearLimit, true);
    assert.match(summarizeReports([{ memorySizeMb: 1024, maxMemoryMb: 100 }]).detail, /init none seen/);
  });

  it('says why instead of answering numbers when CloudWatch Logs refuses the call, or no region is known', async () => {
    const server = createServer((_req, res) =>
      res
        .writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
        .end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'The specified log group does not exist.' })),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      assert.equal(
        await reportLines('/aws/lambda/missing', 'eu-west-1', env),
        'CloudWatch Logs refused FilterLogEvents on /aws/lambda/missing: ResourceNotFoundException The specified log group does not exist.',
      );
      assert.match(String(await reportLines('/aws/lambda/x', undefined, env)), /no region: pass --region or set AWS_REGION/);
    } finally {
      for (const name of Object.keys(env)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      server.close();
    }
  });
});
