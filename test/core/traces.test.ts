// Traces as a user follows them: one call from a client with a `traceparent`, through the gateway
// to an upstream server and its table, is one trace whose spans from both servers link by parent
// id; a task's worker span is the child of the request that created it; `_meta.traceparent`
// (SEP-414) parents a message's span; with tracing off nothing is recorded but the context still
// travels; spans reach an OTLP/HTTP endpoint and the X-Ray daemon's UDP port in their formats.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import notes from '../../functions/notes/server.ts';
import echo from '../../functions/echo/server.ts';
import { lambdaHandler } from '../../shared/adapters/lambda.ts';
import { xrayExporter } from '../../shared/adapters/xray.ts';
import { installLambdaRuntime, invoke } from '../../bench/in-process-lambda.ts';
import { restEventFor } from '../../bench/probes/event.ts';
import { modernCall } from '../../bench/request.ts';
import { incomingTrace } from '../../shared/http/request-trace.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway } from '../../shared/gateway/gateway.ts';
import { createLogger } from '../../shared/log.ts';
import { inTrace, parseTraceparent, startSpan, type SpanRecord } from '../../shared/trace.ts';
import { createRedis } from '../../shared/redis.ts';
import { createS3Client } from '../../shared/artifacts/client.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { startTestS3 } from '../helpers/server.ts';
import { jsonLinesExporter, otlpExporter } from '../../shared/trace-export.ts';
import fixture from '../fixtures/tasks.ts';
import { modernCaller, startDataPlane, type DataPlane } from '../helpers/gateway.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { waitFor } from '../helpers/wait.ts';
import { startInProcess } from '../helpers/server.ts';
import { PutObjectCommand } from '@aws-sdk/client-s3';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

/** The local span output: JSON lines, parsed back. */
function spanLines() {
  const lines: string[] = [];
  return { exporter: jsonLinesExporter((line) => void lines.push(line)), spans: () => lines.map((l) => JSON.parse(l) as SpanRecord & { message: string }) };
}

/** The chain of parents from a span up to the first span not in `spans`. */
function ancestors(span: SpanRecord, spans: SpanRecord[]): SpanRecord[] {
  const chain: SpanRecord[] = [];
  for (let s: SpanRecord | undefined = span; s?.parentSpanId; ) {
    s = spans.find((p) => p.spanId === s!.parentSpanId);
    if (s) chain.push(s);
  }
  return chain;
}

describe('traces', () => {
  let plane: DataPlane;
  before(async () => (plane = await startDataPlane()));
  after(() => plane.stop());

  async function gatewayInFront(tracing: boolean) {
    const upstream = spanLines();
    const front = spanLines();
    const notesServer = await startInProcess(notes, { ...plane.env, MCP_TRACING: 'true' }, { traceExporter: upstream.exporter });
    const config = { ...plane.env, MCP_GATEWAY_CONFIG: JSON.stringify({ upstreams: { notes: { url: notesServer.url } } }) };
    const gateway = createGateway(await loadGatewayConfig(config, () => Promise.reject(new Error('no files'))));
    const gatewayServer = await startInProcess(gateway.definition, { ...plane.env, MCP_TRACING: String(tracing) }, { traceExporter: front.exporter });
    const client = await modernCaller(gatewayServer.url, { headers: { traceparent: TRACEPARENT } });
    return {
      upstream,
      front,
      notesUrl: notesServer.url,
      call: (text: string) => client.callTool({ name: 'notes__note_add', arguments: { text } }),
      async stop() {
        await client.close();
        await gatewayServer.stop();
        await gateway.close();
        await notesServer.stop();
      },
    };
  }

  it("one call through the gateway is one trace: the upstream request is the child of the gateway's upstream span, down to DynamoDB", async () => {
    const run = await gatewayInFront(true);
    try {
      await run.call('traced note');
      const upstreamTool = await waitFor('the upstream tool span', () => run.upstream.spans().find((s) => s.name === 'tool note_add'));
      const frontSpans = run.front.spans();
      const upstreamSpans = run.upstream.spans();
      const all = [...frontSpans, ...upstreamSpans];
      assert.ok(
        all.every((s) => s.traceId === CLIENT_TRACE && s.message === 'span'),
        "every span of both servers is in the client's trace",
      );
      assert.ok(new Set(all.map((s) => s.spanId)).size === all.length, 'span ids are unique');
      for (const s of all)
        assert.ok(s.parentSpanId === CLIENT_SPAN || all.some((p) => p.spanId === s.parentSpanId), `${s.service} ${s.name} has a parent in the trace`);

      const frontCall = frontSpans.find((s) => s.name === 'tools/call notes__note_add')!;
      assert.ok(frontCall, JSON.stringify(frontSpans.map((s) => s.name)));
      assert.equal(frontCall.parentSpanId, CLIENT_SPAN, "the gateway's request continues the client's span");
      assert.equal(frontCall.kind, 'server');
      assert.deepEqual(
        [frontCall.attributes['http.request.method'], frontCall.attributes['http.response.status_code'], frontCall.attributes['mcp.method.name']],
        ['POST', 200, 'tools/call'],
      );
      const upstreamCall = frontSpans.find((s) => s.name === 'upstream notes' && ancestors(s, frontSpans).some((a) => a.spanId === frontCall.spanId));
      assert.ok(upstreamCall, "the gateway's tools/call has an upstream span");
      assert.equal(upstreamCall.kind, 'client');

      const chain = ancestors(upstreamTool, all).map((s) => `${s.service}:${s.name}`);
      assert.deepEqual(chain.slice(0, 2), ['notes:tools/call note_add', `${frontCall.service}:upstream notes`], "tool ← request ← the gateway's upstream call");
      assert.ok(chain.includes(`${frontCall.service}:tools/call notes__note_add`));
      const dynamo = upstreamSpans.filter((s) => s.name.startsWith('DynamoDB.') && ancestors(s, upstreamSpans).some((a) => a.spanId === upstreamTool.spanId));
      assert.ok(dynamo.length > 0, `the tool's DynamoDB calls are its children: ${JSON.stringify(upstreamSpans.map((s) => s.name))}`);
      assert.ok(dynamo.every((s) => s.kind === 'client' && s.endMs >= s.startMs));
    } finally {
      await run.stop();
    }
  });

  it("control: with the gateway's tracing off it records nothing and passes the client's context on unchanged", async () => {
    const run = await gatewayInFront(false);
    try {
      await run.call('untraced gateway');
      const upstreamHttp = await waitFor('the upstream request span', () => run.upstream.spans().find((s) => s.name === 'tools/call note_add'));
      assert.deepEqual(run.front.spans(), []);
      assert.equal(upstreamHttp.traceId, CLIENT_TRACE);
      assert.equal(upstreamHttp.parentSpanId, CLIENT_SPAN);
    } finally {
      await run.stop();
    }
  });

  it('`_meta.traceparent` parents the message span, linked to the HTTP request it came in', async () => {
    const spans = spanLines();
    const server = await startInProcess(notes, { ...plane.env, MCP_TRACING: 'true' }, { traceExporter: spans.exporter });
    try {
      const res = await postToolCall(
        server.url,
        { name: 'echo', arguments: { text: 'hi' } },
        { meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, traceparent: TRACEPARENT } },
      );
      assert.equal(res.status, 200, await res.text());
      const message = await waitFor('the message span', () => spans.spans().find((s) => s.name === 'tools/call echo'));
      const http = spans.spans().find((s) => s.name === 'POST /mcp')!;
      assert.notEqual(http.traceId, CLIENT_TRACE, 'no HTTP traceparent: the request starts a trace');
      assert.equal(message.traceId, CLIENT_TRACE);
      assert.equal(message.parentSpanId, CLIENT_SPAN);
      assert.deepEqual(
        message.links?.map((l) => l.spanId),
        [http.spanId],
      );
      assert.equal(spans.spans().find((s) => s.name === 'tool echo')!.parentSpanId, message.spanId);
    } finally {
      await server.stop();
    }
  });

  it("a task's worker span is the child of the tool span of the request that created it", async () => {
    const spans = spanLines();
    const server = await startInProcess(fixture, { ...plane.env, MCP_TRACING: 'true', MCP_TASK_POLL_MS: '100' }, { traceExporter: spans.exporter });
    try {
      const res = await postToolCall(
        server.url,
        { name: 'countdown', arguments: { ms: 50 } },
        {
          headers: { accept: 'application/json', traceparent: TRACEPARENT },
          meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
          },
        },
      );
      const answer = (await res.json()) as { result?: { resultType?: string } };
      assert.equal(answer.result?.resultType, 'task', JSON.stringify(answer));
      const worker = await waitFor('the worker span', () => spans.spans().find((s) => s.name === 'task countdown'));
      const all = spans.spans();
      const creator = all.find((s) => s.spanId === worker.parentSpanId);
      assert.equal(creator?.name, 'tool countdown', 'the worker continues the span that called ctx.task.start()');
      assert.equal(worker.traceId, CLIENT_TRACE);
      assert.equal(worker.kind, 'consumer');
      assert.deepEqual(
        worker.links?.map((l) => l.spanId),
        [creator.spanId],
      );
      assert.deepEqual(
        ancestors(creator, all).map((s) => [s.name, s.parentSpanId]),
        [['tools/call countdown', CLIENT_SPAN]],
        'the creating tool span sits in the creating request',
      );
      const rerun = await waitFor('the tool span in the worker', () =>
        spans.spans().find((s) => s.name === 'tool countdown' && s.parentSpanId === worker.spanId),
      );
      assert.equal(rerun.traceId, CLIENT_TRACE);
    } finally {
      await server.stop();
    }
  });

  it("a streamed answer's request span ends when its body ends, not when streaming starts, with its access line", async () => {
    const spans = spanLines();
    // An answer not ready within the keep-alive interval becomes an SSE stream (shared/http/slow-answer.ts).
    const server = await startInProcess(
      fixture,
      { ...plane.env, MCP_TRACING: 'true', MCP_SSE_KEEPALIVE_MS: '50', LOG_LEVEL: 'INFO' },
      { traceExporter: spans.exporter },
    );
    // The access line and the span wait on the same wrapped body (access-log.ts whenBodyEnds).
    const accessLines: Record<string, any>[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
      typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (accessLines.push(JSON.parse(chunk)), true) : original(chunk, ...rest),
    );
    const call = (ms: number) =>
      postToolCall(
        server.url,
        { name: 'countdown', arguments: { ms } },
        {
          headers: { traceparent: TRACEPARENT },
          meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      );
    const requestSpan = () => spans.spans().find((s) => s.name === 'tools/call countdown');
    try {
      const res = await call(300);
      assert.match(
        res.headers.get('content-type') ?? '',
        /^text\/event-stream/,
        `a slow answer is a stream: ${res.status} ${res.headers.get('content-type') === 'application/json' ? await res.clone().text() : ''}`,
      );
      const reader = res.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /keep-alive/);
      assert.equal(requestSpan(), undefined, 'the span is still open while the stream runs');
      assert.equal(accessLines.length, 0, 'the access line waits for the stream too');
      while (!(await reader.read()).done);
      const request = await waitFor('the request span', requestSpan);
      const [line] = await waitFor('the access line', () => (accessLines.length ? accessLines : undefined));
      assert.equal(line!.traceId, request.traceId, "the access line carries the span's trace");
      assert.ok(line!.durationMs >= 300, `the access line times the whole stream, ${line!.durationMs} ms`);
      const tool = spans.spans().find((s) => s.name === 'tool countdown')!;
      assert.equal(tool.parentSpanId, request.spanId);
      assert.ok(request.endMs >= tool.endMs, `the request span (ends ${request.endMs}) outlasts its tool's (${tool.endMs})`);
      assert.ok(request.endMs - request.startMs >= 300, `the span covers the whole stream, ${request.endMs - request.startMs} ms`);
      // Control: a quick answer is JSON, and its span ends with the response, as before.
      const json = await call(0);
      assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
      await json.text();
      const spansNow = spans.spans().filter((s) => s.name === 'tools/call countdown');
      assert.equal(spansNow.length, 2);
      assert.equal(accessLines.length, 2);
    } finally {
      write.mock.restore();
      await server.stop();
    }
  });

  it('log lines carry the trace id, in W3C and X-Ray form', () => {
    const lines: string[] = [];
    const log = createLogger({ logLevel: 'INFO', stage: 'test' }, 'svc', (l) => void lines.push(l));
    inTrace(parseTraceparent(TRACEPARENT)!, () => {
      log.info('inside');
      log.audit('auth.failed', { requestId: 'r' });
    });
    log.info('outside');
    const [inside, audit, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(inside!.traceId, CLIENT_TRACE);
    assert.equal(inside!.xray_trace_id, `1-${CLIENT_TRACE.slice(0, 8)}-${CLIENT_TRACE.slice(8)}`);
    assert.equal(audit!.traceId, CLIENT_TRACE);
    assert.equal(outside!.traceId, undefined);
  });

  it("spans reach an OTLP/HTTP JSON endpoint and the X-Ray daemon's UDP port", async () => {
    const span: SpanRecord = {
      traceId: CLIENT_TRACE,
      spanId: 'a1b2c3d4e5f60718',
      parentSpanId: CLIENT_SPAN,
      name: 'DynamoDB.GetItem',
      kind: 'client',
      service: 'notes',
      startMs: 1_765_000_000_000.5,
      endMs: 1_765_000_000_012.25,
      attributes: { 'rpc.service': 'DynamoDB' },
    };
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => (bodies.push(`${req.url} ${body}`), res.end('{}')));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const udp = createSocket('udp4');
    const packets: string[] = [];
    udp.on('message', (m) => packets.push(m.toString()));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    try {
      const otlp = otlpExporter(`http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`, 'notes', () => assert.fail('export failed'));
      otlp.export(span);
      await otlp.flush!();
      const [path, json] = [bodies[0]!.split(' ', 1)[0], JSON.parse(bodies[0]!.slice(bodies[0]!.indexOf(' ') + 1))];
      assert.equal(path, '/v1/traces');
      const sent = json.resourceSpans[0].scopeSpans[0].spans[0];
      assert.deepEqual(json.resourceSpans[0].resource.attributes, [{ key: 'service.name', value: { stringValue: 'notes' } }]);
      assert.deepEqual(
        [sent.traceId, sent.spanId, sent.parentSpanId, sent.kind, sent.startTimeUnixNano],
        [CLIENT_TRACE, span.spanId, CLIENT_SPAN, 3, '1765000000000500000'],
      );

      const xray = xrayExporter(`127.0.0.1:${udp.address().port}`);
      const child: SpanRecord = { ...span, spanId: 'b1b2c3d4e5f60718', parentSpanId: span.spanId, name: 'upstream notes' };
      xray.export(child);
      xray.export(span);
      assert.equal(packets.length, 0, 'nothing is sent before the flush');
      await xray.flush!();
      const packet = await waitFor('the UDP packet', () => packets[0]);
      const [header, doc] = packet.split('\n');
      assert.equal(header, '{"format":"json","version":1}');
      const segment = JSON.parse(doc!);
      assert.equal(segment.trace_id, `1-${CLIENT_TRACE.slice(0, 8)}-${CLIENT_TRACE.slice(8)}`);
      assert.deepEqual(
        [segment.type, segment.parent_id, segment.id, segment.namespace, segment.name],
        ['subsegment', CLIENT_SPAN, span.spanId, 'aws', 'DynamoDB.GetItem'],
      );
      assert.equal(segment.end_time - segment.start_time > 0.011, true);
      assert.deepEqual(
        segment.subsegments.map((s: Record<string, unknown>) => [s.id, s.name, s.namespace, s.trace_id, s.type]),
        [[child.spanId, 'upstream notes', 'remote', undefined, undefined]],
        'the child nested in one document',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(packets.length, 1, 'one datagram for the tree');
    } finally {
      collector.close();
      udp.close();
    }
  });

  it("where a request's trace comes from: Lambda's own first (the client's a link), else traceparent, else X-Amzn-Trace-Id", () => {
    const request = (headers: Record<string, string>) => new Request('http://x/mcp', { headers });
    const lambda = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const onLambda = incomingTrace(request({ traceparent: TRACEPARENT }), lambda);
    assert.deepEqual(onLambda.parent, { traceId: '5759e988bd862e3fe1be46a994272793', spanId: '53995c3f42cd8ad8', sampled: true });
    assert.deepEqual(onLambda.links, [{ traceId: CLIENT_TRACE, spanId: CLIENT_SPAN, sampled: true }]);
    assert.deepEqual(incomingTrace(request({ traceparent: TRACEPARENT, 'x-amzn-trace-id': lambda })), {
      parent: { traceId: CLIENT_TRACE, spanId: CLIENT_SPAN, sampled: true },
      links: [],
    });
    assert.deepEqual(incomingTrace(request({ 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0' })).parent, {
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: '',
      sampled: false,
    });
    assert.deepEqual(
      incomingTrace(request({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' })),
      { links: [] },
      'an all-zero trace id is no trace',
    );
  });

  it("on Lambda, a sampled invocation's spans reach the X-Ray daemon as one document under Lambda's segment; an unsampled one sends nothing", async () => {
    const daemon = createSocket('udp4');
    const packets: string[] = [];
    daemon.on('message', (m) => packets.push(m.toString()));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    const before = process.env._X_AMZN_TRACE_ID;
    installLambdaRuntime();
    const handler = lambdaHandler(echo, {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      MCP_REQUEST_STATE_KEY: 'traces-test-request-state-key-0123456789',
      LOG_LEVEL: 'ERROR',
      MCP_TRACING: 'true',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    });
    const call = async (root: string, sampled: 0 | 1) => {
      process.env._X_AMZN_TRACE_ID = `Root=1-${root.slice(0, 8)}-${root.slice(8)};Parent=53995c3f42cd8ad8;Sampled=${sampled}`;
      const result = await invoke(handler, restEventFor(modernCall(1)));
      assert.equal(result.statusCode, 200, result.body);
    };
    try {
      await call('5759e988bd862e3fe1be46a994272793', 1);
      await call('5759e988bd862e3fe1be46a994272794', 0);
      await call('5759e988bd862e3fe1be46a994272795', 1);
      await waitFor('two datagrams', () => packets.length >= 2);
      const documents = packets.map((p) => JSON.parse(p.split('\n')[1]!));
      assert.deepEqual(
        documents.map((d) => d.trace_id),
        ['1-5759e988-bd862e3fe1be46a994272793', '1-5759e988-bd862e3fe1be46a994272795'],
        'nothing from the unsampled invocation',
      );
      const [first] = documents;
      assert.deepEqual([first.type, first.parent_id, first.name], ['subsegment', '53995c3f42cd8ad8', 'tools/call echo']);
      assert.deepEqual(
        first.subsegments.map((s: { name: string }) => s.name),
        ['tool echo'],
      );
      assert.equal(first.annotations.gen_ai_tool_name, 'echo');
    } finally {
      if (before === undefined) delete process.env._X_AMZN_TRACE_ID;
      else process.env._X_AMZN_TRACE_ID = before;
      daemon.close();
    }
  });

  it('Redis commands and pipelines, and S3 calls, are client spans of the span that made them; outside a traced span they make none', async () => {
    const [redisServer, s3] = await Promise.all([startTestRedis(), startTestS3()]);
    try {
      const spans = spanLines();
      const redis = createRedis({ url: redisServer.url, token: redisServer.token, timeoutMs: 2_000 });
      const client = await createS3Client({ region: 'us-east-1', s3Endpoint: s3.endpoint });
      const work = async () => {
        await redis.set('traced', '1');
        await redis.pipeline().get('traced').incr('n').exec();
        await client.send(new PutObjectCommand({ Bucket: 'mcp-kit-artifacts', Key: 'traced.txt', Body: 'x' }));
      };
      await work();
      assert.deepEqual(spans.spans(), [], 'no span outside a traced one');
      const parent = startSpan({ service: 'test', exporter: spans.exporter }, 'parent', { kind: 'internal' });
      await parent.run(work);
      parent.end();
      const all = spans.spans();
      assert.deepEqual(
        all.map((s) => [s.name, s.kind, s.parentSpanId]),
        [
          ['Redis set', 'client', parent.context.spanId],
          ['Redis pipeline', 'client', parent.context.spanId],
          ['S3.PutObject', 'client', parent.context.spanId],
          ['parent', 'internal', undefined],
        ],
      );
      assert.equal(all[1]!.attributes['db.operation.batch.size'], 2);
    } finally {
      await Promise.all([redisServer.dispose(), s3.stop()]);
    }
  });
});
