// Stream caps on the modelled deployed path (`npm run start:aws`: ten Lambda environments, one
// request each). One caller holding listen streams must not take the function from everyone else:
// its streams past its cap are refused with 429 (past the server-wide cap, 503), never 500, and
// another caller's calls, its own stream and /health are served. The caps follow the modelled
// concurrency (MCP_AWS_CONCURRENCY 10: five streams server-wide, two per caller).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PATH_DEFAULTS } from '../../infra/deployed-path.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';

const NOTES = 'functions/notes/handler.ts';
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'stream-caps', version: '1' },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };

interface Callers {
  path: AwsPath;
  keys: { alice: string; bob: string };
  streams: AbortController;
}

async function start(redis: boolean): Promise<Callers> {
  const path = await startAwsPath(NOTES, { MCP_AUTH_MODE: 'apikey' }, { redis });
  const store = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), { cacheSeconds: 1 });
  const [alice, bob] = await Promise.all(['alice', 'bob'].map(async (principalId) => (await store.create({ principalId })).key));
  return { path, keys: { alice: alice!, bob: bob! }, streams: new AbortController() };
}

function listen(c: Callers, key: string, id: number) {
  return fetch(c.path.url, {
    method: 'POST',
    signal: c.streams.signal,
    headers: { ...HEADERS, 'mcp-method': 'subscriptions/listen', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

function echo(c: Callers, key: string) {
  return fetch(c.path.url, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-method': 'tools/call', 'mcp-name': 'echo', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'still here' }, _meta: META } }),
  });
}

/** Alice opens twelve listen streams one after the other, keeping every one that opens. */
async function twelveStreams(c: Callers): Promise<Response[]> {
  const answers: Response[] = [];
  for (let i = 1; i <= 12; i++) {
    const res = await listen(c, c.keys.alice, i);
    if (res.status !== 200) await res.text().then((body) => Object.defineProperty(res, 'bodyText', { value: body }));
    answers.push(res);
  }
  return answers;
}

const bodyOf = (res: Response) => JSON.parse((res as Response & { bodyText: string }).bodyText) as { error: { code: number; message: string } };

describe('one caller holding 12 listen streams on the modelled deployed path (Redis counts the caps)', () => {
  let c: Callers;
  let answers: Response[];
  before(async () => {
    c = await start(true);
    answers = await twelveStreams(c);
  });
  after(async () => {
    c?.streams.abort();
    await c?.path.stop();
  });

  it('opens her first two and refuses the other ten with 429, Retry-After and a JSON-RPC error saying what to do', () => {
    assert.deepEqual(answers.map((a) => a.status), [200, 200, ...Array(10).fill(429)]);
    for (const refused of answers.slice(2)) {
      // Her oldest stream reaches the construct's stream cap this long from now.
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait > PATH_DEFAULTS.streamMaxSeconds - 60 && wait <= PATH_DEFAULTS.streamMaxSeconds, `Retry-After ${wait}`);
      const { error } = bodyOf(refused);
      assert.equal(error.code, -32000);
      assert.equal(error.message, `Too many open notification streams: at most 2 per caller at once across this server (MCP_STREAMS_PER_PRINCIPAL); close one you no longer read, or retry after ${wait} s, when your oldest reaches the stream cap`);
    }
  });

  it("serves another caller's calls, its own stream and /health while hers stay open", async () => {
    const call = await echo(c, c.keys.bob);
    assert.equal(call.status, 200);
    assert.match(await call.text(), /still here/);
    const own = await listen(c, c.keys.bob, 1);
    assert.equal(own.status, 200, "bob's own listen stream opens");
    assert.equal((await fetch(`${c.path.baseUrl}/health`)).status, 200);
    // The environments that answered the call and /health go idle once their invocations end.
    const deadline = Date.now() + 5000;
    while (c.path.lambda.counts().busy > 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(c.path.lambda.counts().busy, 3, 'three environments hold streams (two of hers, his); the other seven serve calls');
  });
});

describe('control: the same twelve streams with each environment counting only its own (no Redis)', () => {
  let c: Callers;
  let answers: Response[];
  before(async () => {
    c = await start(false);
    answers = await twelveStreams(c);
  });
  after(async () => {
    c?.streams.abort();
    await c?.path.stop();
  });

  it("her streams take all ten environments, and API Gateway answers a throttled invoke with 500, for her and for another caller's call", async () => {
    assert.deepEqual(answers.map((a) => a.status), [...Array(10).fill(200), 500, 500]);
    assert.equal(bodyOf(answers[10]!).error, undefined, 'the 500 is API Gateway\'s {"message":"Internal server error"}, not the kit\'s');
    const call = await echo(c, c.keys.bob);
    assert.equal(call.status, 500);
    await call.text();
  });
});
