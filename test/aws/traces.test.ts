// Traces on the modelled path as X-Ray would hold them when deployed: one call through CloudFront,
// API Gateway and Lambda is one trace whose segments link API Gateway's stage → Lambda → the
// function → the kit's request subsegment (with its tool nested), the kit's sent over UDP to the
// daemon stand-in; a caller's X-Amzn-Trace-Id (the gateway calling an upstream, a task worker's Invoke) is
// continued; with tracing off nothing is recorded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAwsModel, type AwsModel } from '../../local/aws/deployment.ts';
import type { SegmentDocument } from '../../local/aws/xray.ts';
import { KIT_ENV } from '../../bench/env.ts';
import { modernCall } from '../../bench/request.ts';
import { waitFor } from '../helpers/wait.ts';

const ECHO = 'functions/echo/handler.ts';
/** The benchmark's: every AWS endpoint on a closed port (the echo call needs none); open, as on loopback. */
const ENV = { ...KIT_ENV, MCP_AUTH_MODE: 'none', MCP_ALLOW_UNAUTHENTICATED: 'true' };

async function call(url: string, headers: Record<string, string> = {}) {
  const { headers: base, body } = modernCall(1);
  const res = await fetch(url, { method: 'POST', headers: { ...base, ...headers }, body });
  assert.equal(res.status, 200, await res.clone().text());
  await res.text();
}

const ORIGINS = ['AWS::ApiGateway::Stage', 'AWS::Lambda', 'AWS::Lambda::Function'];

/** The trace's segments once all have arrived: the kit's over UDP after the response, Lambda's when the invocation ends. */
const traceOf = (model: AwsModel, traceId: string) =>
  waitFor(`the segments of ${traceId}`, () => {
    const segments = model.xray!.segments(traceId);
    return segments.some((s) => s.type === 'subsegment') && ORIGINS.every((o) => segments.some((s) => s.origin === o)) ? segments : undefined;
  });

describe('traces on the modelled path', () => {
  let model: AwsModel;
  before(async () => (model = await startAwsModel({ entry: ECHO, environment: ENV, log: () => {}, concurrency: 2 })));
  after(() => model.stop());

  it("one call is one trace: API Gateway → Lambda → the function → the kit's request, its tool nested", async () => {
    await call(model.url);
    const stage = await waitFor("API Gateway's segment", () => model.xray!.segments().find((s) => s.origin === 'AWS::ApiGateway::Stage'));
    const segments = await traceOf(model, stage.trace_id);
    assert.deepEqual(new Set(model.xray!.segments().map((s) => s.trace_id)), new Set([stage.trace_id]), 'every segment in one trace');
    const by = (origin: string) => segments.find((s) => s.origin === origin)!;
    const [service, fn] = [by('AWS::Lambda'), by('AWS::Lambda::Function')];
    const kit = segments.find((s) => s.type === 'subsegment') as SegmentDocument;
    assert.equal(stage.parent_id, undefined, 'the trace starts at API Gateway');
    assert.deepEqual([service.parent_id, fn.parent_id, kit.parent_id], [stage.id, service.id, fn.id], 'each hop the child of the one before');
    assert.equal(kit.name, 'tools/call echo');
    assert.deepEqual(
      kit.subsegments?.map((s) => s.name),
      ['tool echo'],
    );
    assert.equal((stage as { http?: { response?: { status?: number } } }).http?.response?.status, 200);
    assert.ok(kit.start_time >= fn.start_time && kit.end_time <= fn.end_time, "the kit's request inside the invocation");
  });

  it("continues a caller's X-Amzn-Trace-Id, as an upstream behind API Gateway does for the gateway; another call is another trace", async () => {
    const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-0123456789abcdef01234567`;
    await call(model.url, { 'x-amzn-trace-id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1` });
    const segments = await traceOf(model, root);
    assert.equal(segments.find((s) => s.origin === 'AWS::ApiGateway::Stage')!.parent_id, '53995c3f42cd8ad8');
    const before = new Set(model.xray!.segments().map((s) => s.trace_id));
    await call(model.url);
    const fresh = await waitFor('a new trace', () => model.xray!.segments().find((s) => s.origin === 'AWS::ApiGateway::Stage' && !before.has(s.trace_id)));
    await traceOf(model, fresh.trace_id);
  });

  it("an asynchronous Invoke (a task worker's) continues the trace its X-Amzn-Trace-Id names, as the AWS SDK sends it from Lambda", async () => {
    const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-abcdef0123456789abcdef01`;
    const res = await fetch(`${model.invokeApi.url}/2015-03-31/functions/mcp-local-dev/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event', 'x-amzn-trace-id': `Root=${root};Parent=00f067aa0ba902b7;Sampled=1` },
      body: JSON.stringify({ probe: 'not an HTTP event' }),
    });
    assert.equal(res.status, 202);
    const service = await waitFor("Lambda's segment in the caller's trace", () => model.xray!.segments(root).find((s) => s.origin === 'AWS::Lambda'));
    assert.equal(service.parent_id, '00f067aa0ba902b7', 'the invocation hangs from the span that invoked it');
  });

  it('control: with tracing off the model records nothing and the function gets no daemon', async () => {
    const off = await startAwsModel({ entry: ECHO, environment: ENV, log: () => {}, concurrency: 1, tracing: false });
    try {
      await call(off.url);
      assert.equal(off.xray, undefined);
      assert.equal(off.lambda.options.environment.AWS_XRAY_DAEMON_ADDRESS, undefined);
    } finally {
      await off.stop();
    }
  });
});
