// The Lambda adapter's response relay (shared/adapters/lambda-stream.ts) against Hono's own
// `streamHandle`, differentially: the same app and API Gateway REST events through both give the
// same prelude (status, headers, cookies) and the same bytes, for a JSON answer, an empty one, an
// SSE stream and a missing route; an SSE body is relayed as it comes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { streamHandle } from 'hono/aws-lambda';
import { streamResponses } from '../../shared/adapters/lambda-stream.ts';

type Prelude = { statusCode: number; headers: Record<string, string>; cookies: string[] };

class Collector extends Writable {
  prelude?: Prelude;
  chunks: string[] = [];
  writes = 0;
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.writes++;
    this.chunks.push(Buffer.from(chunk).toString('utf8'));
    done();
  }
}

const g = globalThis as { awslambda?: Record<string, unknown> };
g.awslambda ??= {};
g.awslambda.streamifyResponse = (fn: unknown) => fn;
g.awslambda.HttpResponseStream = { from: (stream: Collector, prelude: Prelude) => ((stream.prelude = prelude), stream) };

const encoder = new TextEncoder();
let release: () => void = () => {};

const app = new Hono();
app.post('/mcp', async (c) => {
  const body = await c.req.json<{ text: string }>();
  c.header('set-cookie', 'a=1');
  c.header('x-kit', 'yes');
  return c.json({ echo: body.text }, 201);
});
app.get('/empty', (c) => c.body(null, 204));
app.get('/sse', () => {
  const gate = new Promise<void>((resolve) => (release = resolve));
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode('data: one\n\n'));
      await gate;
      controller.enqueue(encoder.encode('data: two\n\n'));
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
});

function event(method: string, path: string, body?: string) {
  const headers: Record<string, string> = { host: 'abc.execute-api.us-east-1.amazonaws.com', 'content-type': 'application/json' };
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    requestContext: {
      requestId: 'r',
      stage: 'prod',
      httpMethod: method,
      path: `/prod${path}`,
      domainName: 'abc.execute-api.us-east-1.amazonaws.com',
      identity: { sourceIp: '127.0.0.1' },
    },
    body: body ?? null,
    isBase64Encoded: false,
  };
}

const kit = streamResponses(app);
const hono = streamHandle(app) as unknown as (event: unknown, stream: Writable, context: unknown) => Promise<void>;

async function through(handler: (event: never, stream: Writable, context: unknown) => Promise<void>, e: unknown) {
  const out = new Collector();
  const ended = new Promise((resolve) => out.once('finish', resolve));
  const running = handler(e as never, out, {});
  if ((e as { path: string }).path === '/sse') setImmediate(() => release());
  await running;
  await ended;
  return { prelude: out.prelude, body: out.chunks.join(''), writes: out.writes };
}

describe('Lambda response relay', () => {
  for (const [name, e] of [
    ['a JSON answer with a cookie', event('POST', '/mcp', JSON.stringify({ text: 'hi' }))],
    ['an empty answer', event('GET', '/empty')],
    ['an SSE stream', event('GET', '/sse')],
    ['a route that does not exist', event('GET', '/nope')],
  ] as const) {
    it(`relays ${name} as Hono's streamHandle does`, { timeout: 10_000 }, async () => {
      const [ours, theirs] = [await through(kit, e), await through(hono, e)];
      assert.ok(theirs.prelude, 'control: streamHandle wrote a prelude');
      assert.deepEqual(ours.prelude, theirs.prelude);
      assert.equal(ours.body, theirs.body);
    });
  }

  it('writes a complete answer in one write', async () => {
    const ours = await through(kit, event('POST', '/mcp', JSON.stringify({ text: 'x'.repeat(100_000) })));
    assert.equal(ours.prelude?.statusCode, 201);
    assert.deepEqual(ours.prelude?.cookies, ['a=1']);
    assert.equal(ours.writes, 1);
    assert.equal(JSON.parse(ours.body).echo.length, 100_000);
  });

  it('serves concurrent invocations each their own request (Lambda Managed Instances run several at once)', async () => {
    const texts = ['first', 'second', 'third'];
    const answers = await Promise.all(texts.map((text) => through(kit, event('POST', '/mcp', JSON.stringify({ text })))));
    assert.deepEqual(
      answers.map((a) => JSON.parse(a.body).echo),
      texts,
    );
  });

  it('relays an SSE frame before the stream ends', { timeout: 10_000 }, async () => {
    const out = new Collector();
    const firstFrame = new Promise<void>((resolve) => {
      const write = out._write.bind(out);
      out._write = (chunk, encoding, done) => (write(chunk, encoding, done), resolve());
    });
    const running = kit(event('GET', '/sse') as never, out, {});
    await firstFrame;
    assert.equal(out.chunks.join(''), 'data: one\n\n');
    release();
    await running;
    assert.equal(out.chunks.join(''), 'data: one\n\ndata: two\n\n');
  });
});
