// The direct lane answers exactly as the SDK lane would. Two kits on the same data plane, one
// with the direct lane and one without, get the same 2026-07-28 requests: canonical calls, every
// outcome a tool can have (text, structured output good and bad, errors, an MRTR question, links,
// notifications sent mid-call), and requests the lane must leave to the SDK (malformed envelopes,
// headers that disagree, progress tokens, log levels). Status, content type and body must match;
// the access line says which lane answered, so the lane is shown to serve what it should. Then
// fast-check throws random perturbations of a canonical call at both.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError, ProtocolErrorCode, UrlElicitationRequiredError, inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { bothLanes, call, CC, CI, laneCases, type Call } from '../helpers/lanes.ts';
import { startTestDynamo, startTestS3 } from '../helpers/server.ts';

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const lanes = defineServer({
  name: 'lanes',
  version: '1.0.0',
  title: 'Lanes',
  tools: [
    tool('echo', { description: 'echo', input: z.object({ text: z.string() }) }, ({ text }) => text),
    tool('noinput', { description: 'no input' }, () => 'none'),
    tool('structured', { description: 's', output: z.object({ n: z.number() }) }, () => ({ ...text('n=1'), structuredContent: { n: 1 } })),
    tool('structured_bad', { description: 's', output: z.object({ n: z.number() }) }, () => ({ ...text('bad'), structuredContent: { n: 'one' } })),
    tool('structured_missing', { description: 's', output: z.object({ n: z.number() }) }, () => text('none')),
    tool('structured_error', { description: 's', output: z.object({ n: z.number() }) }, () => ({ ...text('failed'), isError: true })),
    tool('free_structure', { description: 's' }, () => ({ ...text('free'), structuredContent: { any: ['thing'] } })),
    tool('throws', { description: 't' }, () => {
      throw new Error('boom');
    }),
    tool('throws_protocol', { description: 't' }, () => {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'not like that');
    }),
    tool('url_elicit', { description: 'u' }, () => {
      throw new UrlElicitationRequiredError([{ mode: 'url', message: 'sign in', url: 'https://example.com/login', elicitationId: 'e1' }] as never);
    }),
    tool('link', { description: 'l' }, () => ({ content: [{ type: 'resource_link', uri: 'https://example.com/a', name: 'a' }] })),
    tool('image', { description: 'i' }, () => ({ content: [{ type: 'image', data: 'aGk=', mimeType: 'image/png' }] })),
    tool('asks', { description: 'a' }, async (_args, ctx) =>
      inputRequired({
        inputRequests: { ok: inputRequired.elicit({ message: 'ok?', requestedSchema: z.object({ ok: z.boolean() }) }) },
        requestState: await ctx.mintRequestState({ asked: 1 }),
      }),
    ),
    tool('notifies', { description: 'n' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: 'hello' } });
      return 'after';
    }),
    tool('notifies_link', { description: 'n' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: 'first' } });
      return { content: [{ type: 'resource_link', uri: 'https://example.com/b', name: 'b' }] };
    }),
    tool('reports', { description: 'p' }, async (_args, ctx) => {
      await ctx.progress(1, 2, 'half');
      return 'done';
    }),
    tool('contentless', { description: 'c' }, () => ({}) as never),
    tool('empty', { description: 'e' }, () => ({ content: [] })),
    tool('extra_key', { description: 'x' }, () => ({ ...text('x'), extra: 1 }) as never),
    tool('block_extra', { description: 'x' }, () => ({ content: [{ type: 'text', text: 'x', annotations: { priority: 1 } }] })),
    tool('meta', { description: 'm' }, () => ({ ...text('m'), _meta: { mine: true } })),
    tool('explicit_ok', { description: 'o' }, () => ({ ...text('ok'), isError: false })),
    tool('raw_elicit', { description: 'r' }, async (_args, ctx) =>
      JSON.stringify(await ctx.mcp.mcpReq.elicitInput({ message: 'x', requestedSchema: { type: 'object', properties: {} } } as never)),
    ),
    tool('raw_send', { description: 'r' }, async (_args, ctx) => JSON.stringify(await ctx.mcp.mcpReq.send({ method: 'ping' } as never))),
    tool('raw_context', { description: 'r' }, (_args, ctx) =>
      JSON.stringify({
        mcpReq: Object.keys(ctx.mcp.mcpReq).sort(),
        http: Object.keys(ctx.mcp.http ?? {}).sort(),
        meta: ctx.mcp.mcpReq._meta ?? null,
        envelope: ctx.mcp.mcpReq.envelope,
        id: ctx.mcp.mcpReq.id,
        state: ctx.mcp.mcpReq.requestState() ?? null,
      }),
    ),
    tool('headers', { description: 'h', input: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }) }, ({ region }) => region),
    tool('maybe_task', { description: 't', task: 'optional' }, async (_args, ctx) => {
      await ctx.task.start();
      return `ran${ctx.task.id ? ' as a task' : ''}`;
    }),
  ],
});

describe('direct lane', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let withLane: ReturnType<typeof createKit>;
  let sdkOnly: ReturnType<typeof createKit>;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const config = loadConfig({
      LOG_LEVEL: 'INFO',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_REQUEST_STATE_KEY: 'direct-lane-test-key-0123456789abcdef',
    });
    withLane = createKit(lanes, config);
    sdkOnly = createKit(lanes, config, { directLane: false });
  });
  after(async () => {
    await Promise.all([withLane.close(), sdkOnly.close()]);
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  const both = (c: Call) => bothLanes(withLane, sdkOnly, c);

  /** Requests the lane answers itself. */
  const directCases: [string, Call][] = [
    ['echo', call('echo', { text: 'hi' })],
    ['string id', call('echo', { text: 'hi' }, (c) => (c.body.id = 'abc'))],
    ['no arguments on a tool without input', call('noinput')],
    ['empty arguments on a tool without input', call('noinput', {})],
    ['structured output that passes the schema', call('structured', {})],
    ['an error result of a tool with an output schema', call('structured_error', {})],
    ['structured content without an output schema', call('free_structure', {})],
    ['a thrown error', call('throws', {})],
    ['a thrown protocol error (an isError result, as the SDK makes it)', call('throws_protocol', {})],
    ['a notification before the result (SSE)', call('notifies', {})],
    ['a notification, JSON-only Accept', call('notifies', {}, (c) => (c.headers.accept = 'application/json'))],
    ['a result without content', call('contentless', {})],
    ['empty content', call('empty', {})],
    ['isError false', call('explicit_ok', {})],
    ['elicitInput on 2026-07-28', call('raw_elicit', {})],
    ['send on 2026-07-28', call('raw_send', {})],
    ['the SDK context the tool sees', call('raw_context', {})],
    [
      'client capabilities',
      call(
        'echo',
        { text: 'hi' },
        (c) => (c.body.params._meta[CC] = { elicitation: { form: {} }, roots: { listChanged: true }, sampling: {}, extensions: { 'io.example/x': {} } }),
      ),
    ],
    ['client title', call('echo', { text: 'hi' }, (c) => (c.body.params._meta[CI].title = 'Lanes'))],
    ['an optional task for a client that takes none', call('maybe_task', {})],
    ['a progress token', call('echo', { text: 'hi' }, (c) => (c.body.params._meta.progressToken = 't'))],
    ['a numeric progress token', call('echo', { text: 'hi' }, (c) => (c.body.params._meta.progressToken = 7))],
    ['progress reported (SSE)', call('reports', {}, (c) => (c.body.params._meta.progressToken = 'p'))],
    ['progress reported without a token', call('reports', {})],
    ['the SDK context the tool sees, with a progress token', call('raw_context', {}, (c) => (c.body.params._meta.progressToken = 'p'))],
  ];
  /** Requests it hands to the SDK lane, before or after running the tool. */
  const sdkCases: [string, Call][] = [
    ['arguments that fail the schema', call('echo', { text: 1 })],
    ['missing arguments', call('echo')],
    ['arguments as an array', call('echo', [1])],
    ['an unknown tool', call('nope', {})],
    ['Mcp-Name disagreeing', call('echo', { text: 'hi' }, (c) => (c.headers['mcp-name'] = 'other'))],
    ['Mcp-Name missing', call('echo', { text: 'hi' }, (c) => delete c.headers['mcp-name'])],
    ['Mcp-Name in Base64', call('echo', { text: 'hi' }, (c) => (c.headers['mcp-name'] = `=?base64?${btoa('echo')}?=`))],
    ['Mcp-Method missing', call('echo', { text: 'hi' }, (c) => delete c.headers['mcp-method'])],
    ['no MCP-Protocol-Version header', call('echo', { text: 'hi' }, (c) => delete c.headers['mcp-protocol-version'])],
    ['a fractional id', call('echo', { text: 'hi' }, (c) => (c.body.id = 1.5))],
    ['an extra top-level member', call('echo', { text: 'hi' }, (c) => (c.body.extra = 1))],
    ['an extra params member', call('echo', { text: 'hi' }, (c) => (c.body.params.cursor = 'x'))],
    ['a fractional progress token', call('echo', { text: 'hi' }, (c) => (c.body.params._meta.progressToken = 1.5))],
    ['a log level', call('echo', { text: 'hi' }, (c) => (c.body.params._meta['io.modelcontextprotocol/logLevel'] = 'debug'))],
    ['clientInfo without version', call('echo', { text: 'hi' }, (c) => delete c.body.params._meta[CI].version)],
    ['clientInfo with icons', call('echo', { text: 'hi' }, (c) => (c.body.params._meta[CI].icons = [{ src: 'https://example.com/i.png' }]))],
    ['roots.listChanged not a boolean', call('echo', { text: 'hi' }, (c) => (c.body.params._meta[CC] = { roots: { listChanged: 'yes' } }))],
    ['an unknown capability', call('echo', { text: 'hi' }, (c) => (c.body.params._meta[CC] = { teleport: {} }))],
    ['no envelope', call('echo', { text: 'hi' }, (c) => delete c.body.params._meta)],
    ['structured output failing the schema', call('structured_bad', {})],
    ['structured output missing', call('structured_missing', {})],
    ['a URL elicitation', call('url_elicit', {})],
    ['a resource link', call('link', {})],
    ['an image', call('image', {})],
    ['an MRTR question', call('asks', {})],
    ['an unknown result member', call('extra_key', {})],
    ['a block with annotations', call('block_extra', {})],
    ['a result _meta', call('meta', {})],
    ['a tool declaring x-mcp-header', call('headers', { region: 'eu' }, (c) => (c.headers['mcp-param-region'] = 'eu'))],
    [
      'an optional task for a client that takes tasks',
      call('maybe_task', {}, (c) => (c.body.params._meta[CC] = { extensions: { 'io.modelcontextprotocol/tasks': {} } })),
    ],
  ];

  laneCases(directCases, sdkCases, both);

  it('a tool that streamed a notification and then returns what only the SDK lane answers: the answer follows on the stream', async () => {
    const { direct, sdk } = await both(call('notifies_link', {}));
    assert.deepEqual(direct, sdk);
    assert.equal(direct.type, 'text/event-stream');
    assert.deepEqual(
      direct.messages.map((m: { method?: string }) => m.method ?? 'result'),
      ['notifications/message', 'result'],
    );
  });

  it('random perturbations of a canonical call get the same answer from both lanes', async () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const perturbation = fc.oneof(
      fc.record({ at: fc.constant('args'), value: fc.oneof(json, fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 3 })) }),
      fc.record({
        at: fc.constant('capabilities'),
        value: fc.dictionary(
          fc.constantFrom('elicitation', 'sampling', 'roots', 'extensions', 'experimental', 'tasks'),
          fc.oneof(json, fc.dictionary(fc.constantFrom('form', 'url', 'listChanged', 'context', 'x'), json, { maxKeys: 2 })),
          { maxKeys: 3 },
        ),
      }),
      fc.record({ at: fc.constant('clientInfo'), value: fc.dictionary(fc.constantFrom('name', 'version', 'title', 'icons'), json, { maxKeys: 4 }) }),
      fc.record({ at: fc.constant('id'), value: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)) }),
      fc.record({ at: fc.constant('name'), value: fc.constantFrom('echo', 'noinput', 'structured', 'nope', '') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(perturbation, { minLength: 1, maxLength: 3 }), async (changes) => {
        const c = call('echo', { text: 'hi' }, (c) => {
          for (const { at, value } of changes) {
            if (at === 'args') c.body.params.arguments = value;
            if (at === 'capabilities') c.body.params._meta[CC] = value;
            if (at === 'clientInfo') c.body.params._meta[CI] = value;
            if (at === 'id') c.body.id = value;
            if (at === 'name') c.body.params.name = c.headers['mcp-name'] = value as string;
          }
        });
        const { direct, sdk } = await both(c);
        assert.deepEqual(direct, sdk, JSON.stringify(c.body));
      }),
      { numRuns: 150 },
    );
  });
});
