// JSON-RPC batches (2025-03-26 and 2024-11-05 sessions) get no discount: every message counts
// against the rate limits and is checked against the standard headers on its own, and a batch
// over the limit is answered message by message. Real redis-server behind the Upstash endpoint.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { MAX_BATCH_MESSAGES } from '../../shared/http/legacy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
type Answer = { id: number; result?: { content: { text: string }[] }; error?: { code: number; message: string } };

describe('batches', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let redis: TestRedis;
  const servers: Awaited<ReturnType<typeof startInProcess>>[] = [];

  before(async () => {
    [dynamo, redis] = await Promise.all([startTestDynamo(), startTestRedis()]);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all([dynamo.stop(), redis.dispose()]);
  });

  /** A server of its own name, so its rate-limit counters (keyed by server name) start empty. */
  async function start(name: string) {
    const server = await startInProcess(
      { ...notes, name },
      {
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        ...redis.env,
        MCP_RATE_LIMIT_ENABLED: 'true',
        MCP_RATE_LIMIT_REQUESTS: '5',
        MCP_RATE_LIMIT_WINDOW_SECONDS: '60',
      },
    );
    servers.push(server);
    return server.url;
  }

  async function session(url: string, protocolVersion = '2025-03-26') {
    const init = await fetch(url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion, capabilities: {}, clientInfo: { name: 'batch', version: '1' } },
      }),
    });
    assert.equal(init.status, 200);
    return { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': protocolVersion };
  }

  const echoCalls = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'echo', arguments: { text: `call ${i + 1}` } } }));
  const post = (url: string, headers: Record<string, string>, body: unknown) =>
    fetch(url, { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });

  it('a batch of 200 calls is counted 200 times: 5 are served, 195 answered with the limit, in order', async () => {
    const url = await start('batch-count');
    // initialize uses one of the principal's five tokens.
    const headers = await session(url);
    const res = await post(url, headers, echoCalls(200));
    assert.equal(res.status, 200);
    const answers = (await res.json()) as Answer[];
    assert.deepEqual(
      answers.map((a) => a.id),
      echoCalls(200).map((c) => c.id),
      'one answer per call, in order',
    );
    const served = answers.filter((a) => a.result);
    const refused = answers.filter((a) => a.error);
    assert.equal(served.length + refused.length, 200);
    assert.equal(served.length, 4, 'four tokens were left after initialize');
    for (const a of refused) {
      assert.equal(a.error!.code, -32000);
      assert.match(a.error!.message, /Rate limit exceeded: at most 5 requests per minute/);
    }
    // The tokens are spent: the next single call is refused too.
    const next = await post(url, headers, { jsonrpc: '2.0', id: 999, method: 'tools/call', params: { name: 'echo', arguments: { text: 'one more' } } });
    assert.equal(next.status, 429);
  });

  it(`refuses a batch of more than ${MAX_BATCH_MESSAGES} messages, saying how many it holds`, async () => {
    const url = await start('batch-size');
    const headers = { 'mcp-session-id': 'x'.repeat(43), 'mcp-protocol-version': '2025-03-26' };
    const res = await post(url, headers, echoCalls(MAX_BATCH_MESSAGES + 1));
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, new RegExp(`at most ${MAX_BATCH_MESSAGES} messages \\(got ${MAX_BATCH_MESSAGES + 1}\\)`));
  });

  it('checks Mcp-Method against every message of a batch, and Mcp-Name against what each names', async () => {
    const url = await start('batch-headers');
    const headers = { 'mcp-session-id': 'x'.repeat(43), 'mcp-protocol-version': '2025-03-26' };
    const mixed = [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
    ];
    const method = await post(url, { ...headers, 'mcp-method': 'tools/list' }, mixed);
    assert.equal(method.status, 400);
    assert.match(
      ((await method.json()) as { error: { message: string } }).error.message,
      /Mcp-Method header \(tools\/list\) does not match the request's method \(tools\/call\)/,
    );
    const name = await post(
      url,
      { ...headers, 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      echoCalls(1).concat({ ...echoCalls(1)[0]!, id: 7, params: { name: 'note_add', arguments: { text: 'x' } } }),
    );
    assert.equal(name.status, 400);
    const body = (await name.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32020);
    assert.match(body.error.message, /Mcp-Name header \(echo\) does not match what the request names \(note_add\)/);
  });

  it("checks a 2025-era request's Mcp-Name as the 2026-07-28 era does; the matching header passes", async () => {
    const url = await start('single-headers');
    const headers = await session(url, '2025-06-18');
    const call = echoCalls(1)[0]!;
    const wrong = await post(url, { ...headers, 'mcp-name': 'note_add' }, call);
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as { error: { code: number } }).error.code, -32020);
    const right = await post(url, { ...headers, 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, call);
    assert.equal(right.status, 200);
    assert.equal(((await right.json()) as Answer).result!.content[0]!.text, 'call 1');
  });
});
