// The slow-answer keep-alive (shared/http/slow-answer.ts, a timer per request; the shared timer
// it replaced is measured beside it in bench/slow-answer-timer.ts): a quick answer is returned as
// it is; one not ready within the interval becomes an SSE stream no earlier than its own deadline,
// whatever the number of requests open (1 and 1,000), whichever intervals they use, with quick
// answers coming and going among them; a late failure is worded for its request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { streamIfSlow } from '../../shared/http/slow-answer.ts';

const json = (value: unknown) => new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json' } });
const noLateError = () => assert.fail('no late error expected');

/** An answer the test settles when it chooses. */
function later() {
  let settle!: (r: Response) => void;
  let fail!: (e: unknown) => void;
  const answer = new Promise<Response>((resolve, reject) => ((settle = resolve), (fail = reject)));
  return { answer, settle, fail };
}

/** `n` slow requests at `afterMs`, each checked to open as a stream no earlier than its own deadline, in the order they came. */
async function slowRequests(n: number, afterMs: number) {
  const started: number[] = [];
  const opened: number[] = [];
  const pending = Array.from({ length: n }, (_, k) => {
    const { answer, settle } = later();
    started.push(performance.now());
    const response = streamIfSlow(answer, afterMs, k, `req-${k}`, noLateError).then((r) => (opened.push(k), { r, at: performance.now(), settle }));
    return response;
  });
  const results = await Promise.all(pending);
  for (const [k, { r, at, settle }] of results.entries()) {
    assert.equal(r.headers.get('content-type'), 'text/event-stream', `request ${k} streams`);
    assert.ok(at - started[k]! >= afterMs - 1, `request ${k} opened after ${(at - started[k]!).toFixed(1)} ms, before its ${afterMs} ms`);
    settle(json({ jsonrpc: '2.0', id: k, result: { n: k } }));
  }
  assert.deepEqual(
    opened,
    [...opened].sort((a, b) => a - b),
    'opened in the order they came',
  );
  // Each stream: keep-alive, then the answer as one SSE message.
  const last = await results.at(-1)!.r.text();
  assert.match(last, /^: keep-alive\n\n/);
  assert.match(last, new RegExp(`event: message\\ndata: \\{"jsonrpc":"2.0","id":${n - 1},"result":\\{"n":${n - 1}\\}\\}\\n\\n$`));
  return results.map((r) => r.at);
}

describe('slow answers', () => {
  it('returns a quick answer as it is, and a request that does not ask for keep-alive untouched', async () => {
    const quick = json({ ok: true });
    assert.equal(await streamIfSlow(Promise.resolve(quick), 50, 1, 'r', noLateError), quick);
    const answer = Promise.resolve(json({}));
    assert.equal(streamIfSlow(answer, 0, 1, 'r', noLateError), answer);
  });

  it('opens one slow answer at its deadline', async () => void (await slowRequests(1, 40)));

  it('opens 1,000 slow answers, each at its own deadline', async () => void (await slowRequests(1_000, 60)));

  it('keeps each interval on time when two intervals are open at once, among quick answers', async () => {
    const quick = Array.from({ length: 500 }, (_, k) => streamIfSlow(Promise.resolve(json({ k })), 30, k, `q-${k}`, noLateError));
    // The longer interval's requests come first: the shorter one's must not wait behind them.
    const [long, short] = await Promise.all([slowRequests(50, 300), slowRequests(50, 30), ...quick]);
    assert.ok(Math.max(...short) < Math.min(...long), 'every 30 ms answer opened before the first 300 ms one');
    // The control: a slow answer that arrives before its deadline is not a stream.
    const { answer, settle } = later();
    const response = streamIfSlow(answer, 200, 1, 'r', noLateError);
    setImmediate(() => settle(json({ early: true })));
    assert.equal((await response).headers.get('content-type'), 'application/json');
  });

  it('words a late failure for its own request', async () => {
    const { answer, fail } = later();
    const seen: string[] = [];
    const response = await streamIfSlow(answer, 20, 7, 'req-late', (error, requestId) => {
      seen.push(requestId);
      return { code: -32603, message: `${(error as Error).message} (request id ${requestId})` };
    });
    fail(new Error('store down'));
    const text = await response.text();
    assert.deepEqual(seen, ['req-late']);
    assert.match(text, /event: message\ndata: \{"jsonrpc":"2.0","id":7,"error":\{"code":-32603,"message":"store down \(request id req-late\)"\}\}\n\n$/);
  });
});
