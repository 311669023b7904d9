// The local model of the deployed path behaves as AWS documents it, seen through a bare probe
// function: one request per execution environment, frozen between invocations, the function
// timeout, init failures, throttling, API Gateway's proxy event and header remapping, CloudFront's
// origin timeout, edge functions and error caching. Everything else in test/aws runs on it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LAMBDA_NODE_MAJOR } from '../../infra/function-bundle.ts';
import { startAwsModel, type AwsModel, type AwsModelOptions } from '../../local/aws/deployment.ts';
import { waitFor } from '../helpers/wait.ts';

const PROBE = 'test/fixtures/aws/probe-handler.ts';
const quiet = () => {};

async function start(options: Partial<AwsModelOptions> = {}): Promise<AwsModel> {
  return startAwsModel({ entry: PROBE, environment: {}, log: quiet, ...options });
}

const probe = (model: AwsModel, query: string, init?: RequestInit) => fetch(`${model.url}?${query}`, init);

describe('modelled Lambda', () => {
  let model: AwsModel;
  before(async () => {
    model = await start({ concurrency: 3 });
  });
  after(() => model.stop());

  it('serves one request per environment: a request that finds them busy starts another', async () => {
    const slow = probe(model, 'probe=sleep&ms=600');
    await waitFor('one busy environment', () => model.lambda.counts().busy === 1, 5000, 10);
    const quick = await probe(model, 'probe=ticks');
    assert.equal(quick.status, 200);
    assert.equal((await slow).status, 200);
    await waitFor('two invocations recorded', () => model.lambda.invocations.length >= 2, 5000, 10);
    const [first, second] = model.lambda.invocations.slice(-2);
    assert.notEqual(first!.environment, second!.environment, 'the second request ran in a second environment');
    assert.ok(
      model.lambda.invocations.some((i) => i.initDurationMs !== undefined),
      'cold starts report an init duration',
    );
  });

  it('names the runtime the construct deploys (LAMBDA_NODE_MAJOR) in AWS_EXECUTION_ENV', async () => {
    const runtime = (await (await probe(model, 'probe=runtime')).json()) as { executionEnv: string };
    assert.equal(runtime.executionEnv, `AWS_Lambda_nodejs${LAMBDA_NODE_MAJOR}.x`);
  });

  it('freezes an environment between invocations: its timers do not run', async () => {
    // One environment, so both requests reach it (idle ones are picked at random).
    const single = await start({ concurrency: 1 });
    try {
      const a = (await (await probe(single, 'probe=ticks')).json()) as { ticks: number; pid: number };
      await waitFor('the environment idle', () => single.lambda.counts().idle === 1, 5000, 10);
      await new Promise((r) => setTimeout(r, 600));
      const b = (await (await probe(single, 'probe=ticks')).json()) as { ticks: number; pid: number };
      assert.equal(a.pid, b.pid, 'the same environment answered both');
      // 600 ms idle would be ~60 ticks of a 10 ms timer in a process that was not frozen.
      assert.ok(b.ticks - a.ticks < 15, `the timer advanced ${b.ticks - a.ticks} ticks while the environment was idle`);
    } finally {
      await single.stop();
    }
  });

  it('hands the function a REST proxy event: stage, paths, multi-value headers, Host of the API', async () => {
    const res = await probe(model, 'probe=event&a=1&a=2', { headers: { 'x-twice': 'one' } });
    const event = (await res.json()) as Record<string, any>;
    assert.equal(event.path, '/mcp');
    assert.equal(event.resource, '/mcp');
    assert.equal(event.requestContext.stage, 'dev');
    assert.equal(event.requestContext.path, '/dev/mcp');
    assert.deepEqual(event.multiValueQueryStringParameters.a, ['1', '2']);
    assert.equal(event.headers.Host ?? event.headers.host, new URL(model.apiUrl).host, 'CloudFront forwards every viewer header but Host');
    assert.ok(event.headers.via ?? event.headers.Via, 'CloudFront adds Via');
    assert.equal(event.headers['x-twice'], 'one');
  });

  it('renames WWW-Authenticate as API Gateway does (and Server), keeping other headers', async () => {
    const direct = await fetch(`${model.apiUrl}?probe=status&code=401`);
    assert.equal(direct.status, 401);
    assert.equal(direct.headers.get('www-authenticate'), null);
    assert.equal(direct.headers.get('x-amzn-remapped-www-authenticate'), 'Bearer realm="probe"');
    assert.equal(direct.headers.get('x-amzn-remapped-server'), 'probe');
    assert.equal(direct.headers.get('x-probe'), 'kept');
  });

  it('answers for API Gateway what reaches no function: unknown resources and methods, a missing stage', async () => {
    const unknown = await fetch(`${model.baseUrl}/nowhere`);
    assert.equal(unknown.status, 403);
    assert.deepEqual(await unknown.json(), { message: 'Missing Authentication Token' });
    const method = await fetch(`${model.baseUrl}/health`, { method: 'POST' });
    assert.equal(method.status, 403);
  });

  it('refuses a body over the REST payload limit with 413', async () => {
    const res = await probe(model, 'probe=ok', { method: 'POST', body: 'x'.repeat(10 * 1024 * 1024 + 1) });
    assert.equal(res.status, 413);
  });

  it('answers 502 when the function fails before its response, and keeps serving', async () => {
    const crashed = await probe(model, 'probe=crash');
    assert.equal(crashed.status, 502);
    assert.deepEqual(await crashed.json(), { message: 'Internal server error' });
    assert.equal((await probe(model, 'probe=ok')).status, 200);
  });
});

describe('modelled Lambda limits', () => {
  it('ends an invocation at the function timeout and starts a fresh environment next time', async () => {
    const model = await start({ timeoutSeconds: 1 });
    try {
      const first = (await (await probe(model, 'probe=ticks')).json()) as { pid: number };
      // The answer ends before the invocation does: wait until its environment is free again.
      await waitFor('one idle environment', () => model.lambda.counts().idle === 1, 5000, 10);
      const timedOut = await probe(model, 'probe=sleep&ms=3000');
      assert.equal(timedOut.status, 502);
      await waitFor('a Sandbox.Timedout invocation', () => model.lambda.invocations.some((i) => i.error === 'Sandbox.Timedout'), 5000, 10);
      const next = (await (await probe(model, 'probe=ticks')).json()) as { pid: number };
      assert.notEqual(next.pid, first.pid);
    } finally {
      await model.stop();
    }
  });

  it('throttles beyond the concurrency limit: API Gateway answers 500', async () => {
    const model = await start({ concurrency: 1 });
    try {
      const busy = probe(model, 'probe=sleep&ms=800');
      await waitFor('one busy environment', () => model.lambda.counts().busy === 1, 5000, 10);
      const throttled = await probe(model, 'probe=ok');
      assert.equal(throttled.status, 500);
      assert.equal((await busy).status, 200);
    } finally {
      await model.stop();
    }
  });

  it('retries a failed init with the next request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-probe-'));
    const model = await start({ environment: { PROBE_FAIL_INIT_ONCE: join(dir, 'failed') } });
    try {
      assert.equal((await probe(model, 'probe=ok')).status, 502);
      assert.equal((await probe(model, 'probe=ok')).status, 200);
    } finally {
      await model.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops while an asynchronous invocation is still streaming, without an error nobody hears', async () => {
    const model = await start();
    const invoked = await fetch(`${model.invokeApi.url}/2015-03-31/functions/probe/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: JSON.stringify({ httpMethod: 'POST', path: '/mcp', headers: {}, queryStringParameters: { probe: 'gap', ms: '5000' } }),
    });
    assert.equal(invoked.status, 202);
    await waitFor('one busy environment', () => model.lambda.counts().busy === 1, 5000, 10);
    const unheard: unknown[] = [];
    const listen = (error: unknown) => unheard.push(error);
    process.on('uncaughtException', listen);
    try {
      await model.stop();
      // An 'error' event without a listener is thrown on a later tick.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unheard, []);
      assert.ok(
        model.lambda.invocations.some((i) => i.error === 'Shutdown'),
        'the invocation in flight ended as shut down',
      );
    } finally {
      process.off('uncaughtException', listen);
    }
  });

  it('reclaims idle environments', async () => {
    const model = await start({ idleReclaimMs: 200 });
    try {
      assert.equal((await probe(model, 'probe=ok')).status, 200);
      await waitFor('no idle environment', () => model.lambda.counts().idle === 0, 5000, 10);
    } finally {
      await model.stop();
    }
  });
});

describe('modelled CloudFront', () => {
  it('answers 504 when the origin sends no byte within the origin response timeout', async () => {
    const model = await start({ originReadTimeoutMs: 500 });
    try {
      const res = await probe(model, 'probe=sleep&ms=1500');
      assert.equal(res.status, 504);
      assert.equal(res.headers.get('x-cache'), 'Error from cloudfront');
    } finally {
      await model.stop();
    }
  });

  it('cuts a response that goes silent between bytes for the origin response timeout', async () => {
    const model = await start({ originReadTimeoutMs: 500 });
    try {
      const res = await probe(model, 'probe=gap&ms=1500');
      assert.equal(res.status, 200);
      await assert.rejects(res.text(), 'the body is cut before "second"');
    } finally {
      await model.stop();
    }
  });

  it('runs a viewer-response function only below 400, and an origin-response function on every answer', async () => {
    const seen: number[] = [];
    const model = await start({
      edge: {
        viewerResponse: ({ response }) => (seen.push(response.statusCode), response),
        originResponse: (event) => {
          const response = event.Records[0].cf.response;
          response.headers['x-origin-response'] = [{ key: 'X-Origin-Response', value: response.status }];
          return response;
        },
      },
    });
    try {
      const ok = await probe(model, 'probe=ok');
      const denied = await probe(model, 'probe=status&code=401');
      assert.deepEqual(seen, [200], 'the viewer-response function never saw the 401');
      assert.equal(ok.headers.get('x-origin-response'), '200');
      assert.equal(denied.headers.get('x-origin-response'), '401');
    } finally {
      await model.stop();
    }
  });

  it('caches GET error answers for the error-caching TTL unless the distribution sets it to 0', async () => {
    const caching = await start({ errorCachingSeconds: 10 });
    const deployed = await start();
    try {
      for (const [model, cached] of [
        [caching, true],
        [deployed, false],
      ] as const) {
        const first = await probe(model, 'probe=status&code=404');
        assert.equal(first.status, 404);
        // Read to the end: the distribution stores an answer once it has all of it.
        await first.arrayBuffer();
        // The same URL again: a cached 404 would come back without reaching the function.
        const before = model.lambda.invokes;
        await (await probe(model, 'probe=status&code=404')).arrayBuffer();
        assert.equal(model.lambda.invokes === before, cached, cached ? 'served from the error cache' : 'reached the function again');
      }
    } finally {
      await Promise.all([caching.stop(), deployed.stop()]);
    }
  });
});

describe('modelled execution environment', () => {
  it('lets the function write /tmp but not its code directory, its working directory', async () => {
    const model = await start();
    try {
      const seen = (await (await probe(model, 'probe=fs')).json()) as { cwd: string; code: string; tmp: string };
      assert.match(seen.cwd, /\.local\/aws\/aws-probe-handler$/);
      assert.equal(seen.tmp, 'ok');
      assert.notEqual(seen.code, 'ok', 'a write to the code directory fails');
    } finally {
      await model.stop();
    }
  });

  it('ends an environment that goes past its memory size, as Lambda does (signal: killed), where cgroups allow', async () => {
    const lines: string[] = [];
    // 256 MB: room for Node 24, the bundle and 16 MB more (at 128 MB the 16 MB probe itself was killed once on a loaded
    // machine); 400 MB is past it either way.
    const model = await start({ memorySizeMb: 256, log: (line) => lines.push(line) });
    try {
      assert.equal((await probe(model, 'probe=memory&mb=16')).status, 200);
      if (lines.some((l) => l.includes('no writable cgroup here'))) return;
      assert.equal((await probe(model, 'probe=memory&mb=400')).status, 502);
      await waitFor('a Runtime.ExitError invocation', () => model.lambda.invocations.some((i) => i.error === 'Runtime.ExitError'), 5000, 10);
      assert.ok(
        lines.some((l) => /Runtime exited: exited \(SIGKILL\)/.test(l)),
        lines.filter((l) => !l.startsWith('[env')).join('\n'),
      );
    } finally {
      await model.stop();
    }
  });

  it('gives an environment CPU in proportion to its memory (1,769 MB a vCPU), where cgroups allow', async () => {
    const lines: string[] = [];
    const model = await start({ memorySizeMb: 442, log: (line) => lines.push(line) });
    try {
      const { cpuMs } = (await (await probe(model, 'probe=spin&ms=600')).json()) as { cpuMs: number };
      if (lines.some((l) => l.includes('no writable cgroup here'))) return;
      // A quarter of a vCPU: about 150 ms of CPU in 600 ms.
      assert.ok(cpuMs < 600 * 0.4, `the environment got ${cpuMs} ms of CPU in 600 ms`);
    } finally {
      await model.stop();
    }
  });
});

describe('the Node.js runtime contract', () => {
  let model: AwsModel;
  before(async () => {
    model = await start({ timeoutSeconds: 3 });
  });
  after(() => model.stop());

  it("ends the client's response at end(), while the handler works on", async () => {
    const res = await probe(model, 'probe=end-then-work&ms=1500');
    assert.equal(await res.text(), 'done');
    const answeredAt = Date.now();
    await waitFor('the invocation to end after its answer', () => model.lambda.invocations.some((i) => i.endedAt >= answeredAt), 5000, 10);
    const invocation = model.lambda.invocations.at(-1)!;
    assert.equal(invocation.error, undefined);
    assert.ok(invocation.endedAt - answeredAt > 1000, `the answer ended ${invocation.endedAt - answeredAt} ms before the invocation`);
  });

  it('sends the prelude (status and headers) at the first write(), not when the handler sets it up', async () => {
    const started = Date.now();
    const res = await fetch(`${model.apiUrl}?probe=late-write&ms=700`);
    const headersAfter = Date.now() - started;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'late');
    assert.ok(headersAfter >= 650, `status and headers arrived after ${headersAfter} ms, before the first write`);
  });

  it('answers end(chunk) with no write() as malformed (502): the runtime sends no prelude for it', async () => {
    const res = await probe(model, 'probe=end-chunk');
    assert.equal(res.status, 502);
    // Control: the same answer written with write() then end() arrives as the handler set it.
    const written = await probe(model, 'probe=status&code=404');
    assert.equal(written.status, 404);
  });

  it("answers end() with no write() as 200 without the handler's status and headers", async () => {
    const res = await probe(model, 'probe=end-empty');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-probe'), null);
    assert.equal(await res.text(), '');
  });

  it('leaves a stream the handler never ended open until the function timeout, then cuts it', async () => {
    const res = await probe(model, 'probe=unended');
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), 'the body is cut, not ended');
    await waitFor('a Sandbox.Timedout invocation', () => model.lambda.invocations.some((i) => i.error === 'Sandbox.Timedout'), 5000, 10);
  });
});

describe('modelled asynchronous invocations', () => {
  const invokeEvent = (model: AwsModel, probeName: string) =>
    fetch(`${model.invokeApi.url}/2015-03-31/functions/probe/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: JSON.stringify({ httpMethod: 'GET', path: '/mcp', headers: {}, queryStringParameters: { probe: probeName } }),
    });

  it("retries a failed event twice, then hands Lambda's record of it to the on-failure destination", async () => {
    const lines: string[] = [];
    const model = await start({ log: (line) => lines.push(line), asyncQueue: { duplicateShare: 0 } });
    try {
      assert.equal((await invokeEvent(model, 'crash')).status, 202);
      await waitFor('RetriesExhausted in the log', () => lines.some((l) => /RetriesExhausted after 3 attempts$/.test(l)), 10_000, 10);
      // The record runs as one more invocation of the function (the construct's destination).
      await waitFor('four invocations recorded', () => model.lambda.invocations.length === 4, 5000, 10);
      assert.deepEqual(
        model.lambda.invocations.map((i) => i.error),
        ['Error', 'Error', 'Error', undefined],
      );
      const gaps = model.lambda.invocations.slice(1, 3).map((i, n) => i.startedAt - model.lambda.invocations[n]!.endedAt);
      assert.ok(gaps[0]! >= 950 && gaps[1]! >= 1950, `retried after ${gaps.join(' and ')} ms (1 and 2 minutes on AWS, 60x faster here)`);
    } finally {
      await model.stop();
    }
  });

  it('backs a throttled event off from 1 s doubling to 5 minutes, and drops it past its maximum age', async () => {
    const lines: string[] = [];
    // 6000x faster: back-off from 1/6 ms to 50 ms, an hour's maximum age in 600 ms.
    const model = await start({ log: (line) => lines.push(line), asyncQueue: { timeScale: 6000, throttledAttempts: 1_000, duplicateShare: 0 } });
    try {
      const started = Date.now();
      assert.equal((await invokeEvent(model, 'ok')).status, 202);
      await waitFor('EventAgeExceeded in the log', () => lines.some((l) => /EventAgeExceeded after \d+ attempts$/.test(l)), 5_000, 10);
      assert.ok(Date.now() - started >= 550, 'kept for its maximum age');
      const id = /\[lambda async\] (\S+) EventAgeExceeded/.exec(lines.find((l) => l.includes('EventAgeExceeded'))!)![1]!;
      const waits = lines.filter((l) => l.startsWith(`[lambda async] ${id} throttled`)).map((l) => Number(/again in ([\d.]+) ms/.exec(l)![1]));
      assert.deepEqual(
        waits.slice(0, 4).map((w) => Math.round(w * 6)),
        [1, 2, 4, 8],
        'the wait doubles from 1 s',
      );
      assert.equal(Math.max(...waits), 50, 'and stops at 5 minutes');
    } finally {
      await model.stop();
    }
  });
});

describe('client aborts', () => {
  /** Sends a POST announcing 1,000 bytes, 3 of them, then closes the connection. */
  async function abortedUpload(url: string, headers: Record<string, string> = {}) {
    const { hostname, port, pathname, search } = new URL(url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    const head = Object.entries({ host: hostname, 'content-length': '1000', ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    await new Promise<void>((resolve, reject) =>
      socket.write(`POST ${pathname}${search} HTTP/1.1\r\n${head}\r\nabc`, (error) => (error ? reject(error) : resolve())),
    );
    socket.destroy();
  }

  it('survives an upload cut short at every hop, logging it as a 499 there, and keeps serving', async () => {
    const lines: string[] = [];
    const model = await start({ log: (line) => lines.push(line) });
    const logged = (pattern: RegExp) => waitFor(`${pattern} in the log`, () => lines.some((l) => pattern.test(l)), 5000, 10);
    try {
      await abortedUpload(`${model.url}?probe=ok`);
      await logged(/^\[cloudfront\] \S+ 499 client closed the connection/);
      await abortedUpload(`${model.apiUrl}?probe=ok`);
      await logged(/^\[api\] \S+ 499 client closed the connection/);
      await abortedUpload(`${model.invokeApi.url}/2015-03-31/functions/probe/invocations`, { 'x-amz-invocation-type': 'Event' });
      await logged(/^\[lambda invoke\] \S+ 499 client closed the connection/);
      assert.equal(model.lambda.invokes, 0, 'no cut-short upload reached the function');
      assert.equal((await probe(model, 'probe=ok')).status, 200, 'CloudFront, API Gateway and Lambda still serve');
      const invoked = await fetch(`${model.invokeApi.url}/2015-03-31/functions/probe/invocations`, {
        method: 'POST',
        headers: { 'x-amz-invocation-type': 'Event' },
        body: JSON.stringify({ httpMethod: 'GET', path: '/mcp', headers: {}, queryStringParameters: { probe: 'ok' } }),
      });
      assert.equal(invoked.status, 202, 'the Invoke API still serves');
    } finally {
      await model.stop();
    }
  });
});
