// The legacy lane answers a 2025-era session's requests exactly as the SDK path would. Two kits on
// the same data plane, one with the lane and one without, each open a session per 2025-era
// revision and get the same requests: every outcome a tool can have (text, structured output good
// and bad, resource links, errors, an MRTR question, notifications and progress mid-call, a
// server-to-client request), and requests the lane must leave to the SDK (bad arguments, an
// unknown tool, unusual members). Status, the headers a client reads and the body must match; the
// access line says which lane answered. Then the hostile cases: another principal's session, a
// deleted one, a modern version header on a session.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { ProtocolError, ProtocolErrorCode, UrlElicitationRequiredError, inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { createLogger } from '../../shared/log.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { SessionStore } from '../../shared/store/sessions.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startTestDynamo, startTestS3 } from '../helpers/server.ts';
import { messagesOf } from '../helpers/lanes.ts';

/** Why each `waits` call's signal aborted, in order. */
const aborts: string[] = [];
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const lanes = defineServer({
  name: 'legacy-lanes',
  version: '1.0.0',
  title: 'Legacy lanes',
  tools: [
    tool('echo', { description: 'echo', input: z.object({ text: z.string() }) }, ({ text }) => text),
    tool('noinput', { description: 'no input' }, () => 'none'),
    tool('structured', { description: 's', output: z.object({ n: z.number() }) }, () => ({ ...text('n=1'), structuredContent: { n: 1 } })),
    tool('structured_only', { description: 's', output: z.object({ n: z.number() }) }, () => ({ content: [], structuredContent: { n: 1 } })),
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
    tool('link', { description: 'l' }, () => ({
      content: [{ type: 'resource_link', uri: 'https://example.com/a', name: 'a', title: 'A', mimeType: 'text/plain', size: 3 }],
    })),
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
    tool('logs', { description: 'l' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.log('debug', 'quiet');
      // A level the SDK does not know is never held back.
      await ctx.mcp.mcpReq.log('verbose' as never, 'odd');
      await ctx.mcp.mcpReq.log('error', 'loud');
      return 'logged';
    }),
    tool('notifies_link', { description: 'n' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: 'first' } });
      return { content: [{ type: 'resource_link', uri: 'https://example.com/b', name: 'b' }] };
    }),
    tool('odd_notification', { description: 'o' }, async (_args, ctx) => {
      await ctx.mcp.mcpReq.notify({ method: 'notifications/resources/updated', params: { uri: 'https://example.com/a' } });
      return 'sent';
    }),
    tool('reports', { description: 'p' }, async (_args, ctx) => {
      await ctx.progress(1, 2, 'half');
      return 'done';
    }),
    tool('contentless', { description: 'c' }, () => ({}) as never),
    tool('empty', { description: 'e' }, () => ({ content: [] })),
    tool('extra_key', { description: 'x' }, () => ({ ...text('x'), extra: 1 }) as never),
    tool('meta', { description: 'm' }, () => ({ ...text('m'), _meta: { mine: true } })),
    tool('raw_elicit', { description: 'r' }, async (_args, ctx) =>
      JSON.stringify(await ctx.mcp.mcpReq.elicitInput({ message: 'x', requestedSchema: { type: 'object', properties: {} } } as never)),
    ),
    tool('raw_sample', { description: 'r' }, async (_args, ctx) =>
      JSON.stringify(await ctx.mcp.mcpReq.requestSampling({ messages: [], maxTokens: 1, tools: [] } as never)),
    ),
    tool('raw_context', { description: 'r' }, (_args, ctx) =>
      JSON.stringify({
        sessionId: typeof ctx.mcp.sessionId,
        mcpReq: Object.keys(ctx.mcp.mcpReq).sort(),
        http: Object.keys(ctx.mcp.http ?? {}).sort(),
        meta: ctx.mcp.mcpReq._meta ?? null,
        envelope: ctx.mcp.mcpReq.envelope ?? null,
        id: ctx.mcp.mcpReq.id,
        method: ctx.mcp.mcpReq.method,
        state: ctx.mcp.mcpReq.requestState() ?? null,
        aborted: ctx.mcp.mcpReq.signal.aborted,
        principal: ctx.principal.id,
      }),
    ),
    tool('confirm', { description: 'c' }, async (_args, ctx) =>
      JSON.stringify(
        await ctx.mcp.mcpReq.elicitInput({ message: 'ok?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } } as never),
      ),
    ),
    tool('waits', { description: 'w' }, (_args, ctx) => {
      const signal = ctx.mcp.mcpReq.signal;
      return new Promise<string>((resolve) => signal.addEventListener('abort', () => (aborts.push(String(signal.reason)), resolve('aborted')), { once: true }));
    }),
    tool('maybe_task', { description: 't', task: 'optional' }, async (_args, ctx) => {
      await ctx.task.start();
      return `ran${ctx.task.id ? ' as a task' : ''}`;
    }),
  ],
});

const REVISIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];
const ACCEPT_BOTH = 'application/json, text/event-stream';

type Call = { body: Record<string, any>; headers: Record<string, string> };
function call(name: string, args?: unknown, change: (c: Call) => void = () => {}): Call {
  const c: Call = {
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, ...(args !== undefined && { arguments: args }) } },
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH },
  };
  change(c);
  return c;
}
const withToken = (token: unknown) => (c: Call) => (c.body.params._meta = { progressToken: token });

/** What a client can tell apart: status, the headers it reads, and the body's messages parsed. */
async function observe(response: Response) {
  const type = response.headers.get('content-type');
  const messages = messagesOf(type, await response.text());
  // Wire ids of server-to-client requests and signed state differ per run; what is around them must not.
  const fresh = JSON.parse(JSON.stringify(messages).replace(/"(requestState|taskId|createdAt|lastUpdatedAt)":"[^"]+"/g, '"$1":"…"'));
  return { status: response.status, type, cache: response.headers.get('cache-control'), session: response.headers.get('mcp-session-id'), messages: fresh };
}

describe('legacy lane', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let withLane: ReturnType<typeof createKit>;
  let sdkOnly: ReturnType<typeof createKit>;
  /** What the lane kit logged (its access lines aside). */
  const logged: string[] = [];
  const keys = { alice: '', bob: '' };
  /** Alice's session per kit and revision. */
  const sessions = new Map<string, string>();

  const send = (kit: ReturnType<typeof createKit>, c: Call, key = keys.alice) =>
    kit.app.fetch(
      new Request('http://127.0.0.1/mcp', {
        method: c.body === undefined ? 'DELETE' : 'POST',
        headers: { ...c.headers, authorization: `Bearer ${key}` },
        ...(c.body !== undefined && { body: JSON.stringify(c.body) }),
      }),
    );

  async function open(kit: ReturnType<typeof createKit>, revision: string, capabilities: object = {}, key = keys.alice) {
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: revision, capabilities, clientInfo: { name: 'legacy-lane-test', version: '1' } },
    };
    const response = await send(kit, { body: init, headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH } }, key);
    const id = response.headers.get('mcp-session-id');
    assert.equal(response.status, 200, await response.text());
    const headers = { 'content-type': 'application/json', accept: ACCEPT_BOTH, 'mcp-session-id': id!, 'mcp-protocol-version': revision };
    assert.equal((await send(kit, { body: { jsonrpc: '2.0', method: 'notifications/initialized' }, headers }, key)).status, 202);
    return id!;
  }

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const store = new ApiKeyStore(new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
      cacheSeconds: 30,
    });
    keys.alice = (await store.create({ principalId: 'alice' })).key;
    keys.bob = (await store.create({ principalId: 'bob' })).key;
    const config = loadConfig({
      LOG_LEVEL: 'INFO',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_REQUEST_STATE_KEY: 'legacy-lane-test-key-0123456789abcdef',
    });
    withLane = createKit(lanes, config, { log: createLogger(config, 'lanes', (line) => void logged.push(line)) });
    sdkOnly = createKit(lanes, config, { directLane: false });
    for (const revision of REVISIONS) {
      sessions.set(`lane ${revision}`, await open(withLane, revision));
      sessions.set(`sdk ${revision}`, await open(sdkOnly, revision));
    }
  });
  after(async () => {
    await Promise.all([withLane.close(), sdkOnly.close()]);
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  const inSession = (c: Call, session: string, revision: string): Call => ({
    body: c.body,
    headers: { 'mcp-session-id': session, 'mcp-protocol-version': revision, ...c.headers },
  });

  /** One kit's answer, and the lane its access line names. */
  async function answer(kit: ReturnType<typeof createKit>, c: Call, key?: string) {
    const lines: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
      typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (lines.push(chunk), true) : original(chunk, ...rest),
    );
    let observed;
    try {
      observed = await observe(await send(kit, c, key));
    } finally {
      write.mock.restore();
    }
    const access = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mcp request');
    return { observed, lane: access?.lane as string | undefined };
  }

  /** Both kits' answers to one call in a session of `revision`. */
  async function both(c: Call, revision: string) {
    const direct = await answer(withLane, inSession(c, sessions.get(`lane ${revision}`)!, revision));
    const sdk = await answer(sdkOnly, inSession(c, sessions.get(`sdk ${revision}`)!, revision));
    return { direct: direct.observed, sdk: sdk.observed, lane: direct.lane, sdkLane: sdk.lane };
  }

  /** Requests the lane answers itself. */
  const directCases: [string, Call][] = [
    ['echo', call('echo', { text: 'hi' })],
    ['string id', call('echo', { text: 'hi' }, (c) => (c.body.id = 'abc'))],
    ['no arguments on a tool without input', call('noinput')],
    ['structured output that passes the schema', call('structured', {})],
    ['an error result of a tool with an output schema', call('structured_error', {})],
    ['structured content without an output schema', call('free_structure', {})],
    ['a thrown error', call('throws', {})],
    ['a thrown protocol error', call('throws_protocol', {})],
    ['a log notification before the result (SSE)', call('notifies', {})],
    ['a log notification, JSON-only Accept', call('notifies', {}, (c) => (c.headers.accept = 'application/json'))],
    ['log levels without a session level', call('logs', {})],
    ['a result without content', call('contentless', {})],
    ['empty content', call('empty', {})],
    ['a progress token', call('echo', { text: 'hi' }, withToken('t'))],
    ['a numeric progress token', call('echo', { text: 'hi' }, withToken(7))],
    ['progress reported (SSE)', call('reports', {}, withToken('p'))],
    ['progress reported, JSON-only Accept', call('reports', {}, (c) => (withToken('p')(c), (c.headers.accept = 'application/json')))],
    ['progress reported without a token', call('reports', {})],
    ['the SDK context the tool sees', call('raw_context', {})],
    ['the SDK context the tool sees, with a progress token', call('raw_context', {}, withToken('p'))],
    ['ping', { body: { jsonrpc: '2.0', id: 9, method: 'ping' }, headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH } }],
  ];
  /** Requests the SDK serves: before the tool runs, or after, from the run's outcome, or mid-call. */
  const sdkCases: [string, Call][] = [
    ['arguments that fail the schema', call('echo', { text: 1 })],
    ['missing arguments', call('echo')],
    ['arguments as an array', call('echo', [1])],
    ['an unknown tool', call('nope', {})],
    ['a fractional id', call('echo', { text: 'hi' }, (c) => (c.body.id = 1.5))],
    ['an extra params member', call('echo', { text: 'hi' }, (c) => (c.body.params.cursor = 'x'))],
    ['a fractional progress token', call('echo', { text: 'hi' }, withToken(1.5))],
    ['a task-capable tool', call('maybe_task', {})],
    ['structured output failing the schema', call('structured_bad', {})],
    ['structured output missing', call('structured_missing', {})],
    ['structured output only', call('structured_only', {})],
    ['a URL elicitation', call('url_elicit', {})],
    ['a resource link', call('link', {})],
    ['an image', call('image', {})],
    ['an MRTR question', call('asks', {})],
    ['an unknown result member', call('extra_key', {})],
    ['a result _meta', call('meta', {})],
    ['a notification and then a resource link (SSE)', call('notifies_link', {})],
    ['a notification the SDK sends', call('odd_notification', {})],
    ['an elicitation the client cannot take', call('raw_elicit', {})],
    ['a sampling request the client cannot take', call('raw_sample', {})],
    [
      'ping with params',
      { body: { jsonrpc: '2.0', id: 9, method: 'ping', params: { x: 1 } }, headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH } },
    ],
  ];

  for (const revision of REVISIONS) {
    describe(revision, () => {
      for (const [name, c] of directCases) {
        it(`answers itself, as the SDK path would: ${name}`, async () => {
          const { direct, sdk, lane } = await both(c, revision);
          assert.deepEqual(direct, sdk);
          assert.equal(lane, 'direct');
        });
      }
      for (const [name, c] of sdkCases) {
        it(`leaves it to the SDK: ${name}`, async () => {
          const { direct, sdk, lane } = await both(c, revision);
          assert.deepEqual(direct, sdk);
          assert.notEqual(lane, 'direct');
        });
      }
    });
  }

  it('tools/list: the SDK answers the first of a revision, the lane the next ones, all alike', async () => {
    const list = { body: { jsonrpc: '2.0', id: 4, method: 'tools/list' }, headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH } };
    for (const revision of REVISIONS) {
      const first = await both(list, revision);
      const second = await both(list, revision);
      assert.deepEqual(first.direct, first.sdk);
      assert.deepEqual(second.direct, first.sdk);
      assert.equal(first.lane, 'sdk');
      assert.equal(second.lane, 'direct');
      const tools = second.direct.messages[0].result.tools as { name: string; outputSchema?: unknown }[];
      assert.equal(tools.length, lanes.tools.length);
      // Shaped for the revision: no output schemas before 2025-06-18.
      assert.equal(
        tools.some((t) => t.outputSchema),
        revision >= '2025-06-18',
      );
    }
    const cursor = await both({ ...list, body: { ...list.body, params: { cursor: 'x' } } }, '2025-06-18');
    assert.deepEqual(cursor.direct, cursor.sdk);
    assert.notEqual(cursor.lane, 'direct');
  });

  it('the lane is what the control kit lacks: it names no lane there', async () => {
    const { lane, sdkLane } = await both(call('echo', { text: 'hi' }), '2025-06-18');
    assert.equal(lane, 'direct');
    assert.equal(sdkLane, undefined);
  });

  it('a session with a log level: the lane filters log notifications as the SDK does', async () => {
    const setLevel = {
      body: { jsonrpc: '2.0', id: 3, method: 'logging/setLevel', params: { level: 'warning' } },
      headers: { 'content-type': 'application/json' },
    };
    const revision = '2025-06-18';
    const lane = await open(withLane, revision);
    const sdk = await open(sdkOnly, revision);
    assert.equal((await send(withLane, inSession(setLevel, lane, revision))).status, 200);
    assert.equal((await send(sdkOnly, inSession(setLevel, sdk, revision))).status, 200);
    const direct = await answer(withLane, inSession(call('logs', {}), lane, revision));
    const control = await answer(sdkOnly, inSession(call('logs', {}), sdk, revision));
    assert.deepEqual(direct.observed, control.observed);
    assert.equal(direct.lane, 'direct');
    assert.deepEqual(
      direct.observed.messages.map((m: { params?: { data?: unknown } }) => m.params?.data ?? 'result'),
      ['odd', 'loud', 'result'],
    );
  });

  /** Reads an SSE body frame by frame. */
  function frames(response: Response) {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    return async (): Promise<Record<string, any> | undefined> => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: (.*)$/m.exec(frame);
          if (data) return JSON.parse(data[1]!);
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffered += value;
      }
    };
  }

  it('an elicitation mid-call: the lane brings in the SDK on the same stream, and the client answer reaches it', { timeout: 10_000 }, async () => {
    const revision = '2025-06-18';
    const run = async (kit: ReturnType<typeof createKit>) => {
      const session = await open(kit, revision, { elicitation: {} });
      const lines: string[] = [];
      const original = process.stdout.write.bind(process.stdout);
      const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
        typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (lines.push(chunk), true) : original(chunk, ...rest),
      );
      try {
        const response = await send(kit, inSession(call('confirm', {}), session, revision));
        assert.equal(response.headers.get('content-type'), 'text/event-stream');
        const next = frames(response);
        const asked = await next();
        assert.equal(asked?.method, 'elicitation/create');
        const reply = { jsonrpc: '2.0', id: asked!.id, result: { action: 'accept', content: { ok: true } } };
        assert.equal((await send(kit, inSession({ body: reply, headers: { 'content-type': 'application/json' } }, session, revision))).status, 202);
        const result = await next();
        assert.equal(await next(), undefined);
        const lane = lines.map((l) => JSON.parse(l)).find((l) => l.method === 'tools/call')?.lane;
        return { asked, result, lane };
      } finally {
        write.mock.restore();
      }
    };
    const direct = await run(withLane);
    const sdk = await run(sdkOnly);
    assert.deepEqual({ ...direct, lane: undefined }, { ...sdk, lane: undefined });
    assert.equal(direct.result?.result?.content?.[0]?.text, JSON.stringify({ action: 'accept', content: { ok: true } }));
    assert.equal(direct.lane, 'sdk');
  });

  it('a cancelled call: the tool is aborted and the response ends, as on the SDK path', { timeout: 10_000 }, async () => {
    const revision = '2025-11-25';
    const run = async (kit: ReturnType<typeof createKit>, key: 'lane' | 'sdk') => {
      const session = sessions.get(`${key} ${revision}`)!;
      const before = aborts.length;
      const pending = send(
        kit,
        inSession(
          call('waits', {}, (c) => (c.body.id = 'w1')),
          session,
          revision,
        ),
      );
      // The cancellation must find the call running: retried until the tool has seen it.
      const cancel = {
        body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'w1', reason: 'enough' } },
        headers: { 'content-type': 'application/json' },
      };
      while (aborts.length === before) {
        assert.equal((await send(kit, inSession(cancel, session, revision))).status, 202);
        await new Promise((r) => setImmediate(r));
      }
      return { status: (await pending).status, reason: aborts.at(-1) };
    };
    const direct = await run(withLane, 'lane');
    const sdk = await run(sdkOnly, 'sdk');
    assert.deepEqual(direct, sdk);
    assert.equal(direct.reason, 'enough');
  });

  it('a hand-over whose session restore fails after the stream opened ends it with a JSON-RPC error for the call', async () => {
    // A stored client the SDK refuses on replay: the restore fails once the lane hands the call over.
    const table = new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
    const stored = await new SessionStore(table, 3600, 0).create({
      protocolVersion: '2025-11-25',
      clientInfo: { name: 5 } as never,
      clientCapabilities: {},
      principalId: 'apikey:alice',
    });
    const broken = await observe(
      await send(
        withLane,
        inSession(
          call('notifies_link', {}, (c) => (c.body.id = 'n1')),
          stored.id,
          '2025-11-25',
        ),
      ),
    );
    assert.equal(broken.type, 'text/event-stream');
    assert.equal(broken.messages[0]?.method, 'notifications/message', 'the notification was streamed first');
    assert.equal(broken.messages.length, 2, JSON.stringify(broken.messages));
    assert.equal(broken.messages[1].id, 'n1');
    assert.equal(broken.messages[1].error.code, -32603);
    assert.match(
      broken.messages[1].error.message,
      /^Internal error \(request id [^)]+\): the server failed after this response began streaming, so no result follows; retry the request$/,
    );
    // No error answer can carry the failure now, so it is logged, under the request id the client saw.
    const requestId = /request id ([^)]+)/.exec(broken.messages[1].error.message)![1];
    const line = logged.map((l) => JSON.parse(l)).find((l) => l.message === 'request failed after its response began streaming');
    assert.ok(line, `not logged:\n${logged.join('')}`);
    assert.equal(line.level, 'ERROR');
    assert.equal(line.requestId, requestId);
    assert.match(line.error, /\S/);
    // Without a stream (JSON only), the same failure is the app's error answer.
    const plain = await observe(
      await send(
        withLane,
        inSession(
          call('notifies_link', {}, (c) => ((c.body.id = 'n2'), (c.headers.accept = 'application/json'))),
          stored.id,
          '2025-11-25',
        ),
      ),
    );
    assert.equal(plain.status, 500, JSON.stringify(plain));
    assert.match(plain.messages[0].error.message, /^Internal error \(request id [^)]+\)$/);
    // Control: the same call in a sound session ends with its result.
    const sound = await observe(await send(withLane, inSession(call('notifies_link', {}), sessions.get('lane 2025-11-25')!, '2025-11-25')));
    assert.equal(sound.messages.at(-1).result.content[0].type, 'resource_link');
  });

  it('random perturbations of a plain call get the same answer on both paths', async () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const perturbation = fc.oneof(
      fc.record({ at: fc.constant('args'), value: fc.oneof(json, fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 3 })) }),
      fc.record({ at: fc.constant('meta'), value: fc.oneof(json, fc.dictionary(fc.constantFrom('progressToken', 'x'), json, { maxKeys: 2 })) }),
      fc.record({ at: fc.constant('id'), value: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)) }),
      fc.record({ at: fc.constant('name'), value: fc.constantFrom('echo', 'noinput', 'structured', 'link', 'nope', '') }),
      fc.record({ at: fc.constant('extra'), value: json }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...REVISIONS), fc.array(perturbation, { minLength: 1, maxLength: 3 }), async (revision, changes) => {
        const c = call('echo', { text: 'hi' }, (c) => {
          for (const { at, value } of changes) {
            if (at === 'args') c.body.params.arguments = value;
            if (at === 'meta') c.body.params._meta = value;
            if (at === 'id') c.body.id = value;
            if (at === 'name') c.body.params.name = value;
            if (at === 'extra') c.body.params.extra = value;
          }
        });
        const { direct, sdk } = await both(c, revision);
        assert.deepEqual(direct, sdk, JSON.stringify(c.body));
      }),
      { numRuns: 150 },
    );
  });

  describe('hostile callers', () => {
    it("another principal's session id answers as an unknown one, and runs nothing", async () => {
      const revision = '2025-06-18';
      const c = call('raw_context', {});
      const direct = await answer(withLane, inSession(c, sessions.get(`lane ${revision}`)!, revision), keys.bob);
      const sdk = await answer(sdkOnly, inSession(c, sessions.get(`sdk ${revision}`)!, revision), keys.bob);
      const unknown = await answer(withLane, inSession(c, 'no-such-session', revision), keys.bob);
      assert.equal(direct.observed.status, 404);
      assert.deepEqual(direct.observed, sdk.observed);
      assert.deepEqual(direct.observed, unknown.observed);
      assert.notEqual(direct.lane, 'direct');
    });

    it('a deleted session id, replayed, answers 404 on both', async () => {
      const revision = '2025-03-26';
      const lane = await open(withLane, revision);
      const sdk = await open(sdkOnly, revision);
      const remove = (id: string): Call => ({ body: undefined as never, headers: { 'mcp-session-id': id, 'mcp-protocol-version': revision } });
      assert.equal((await send(withLane, remove(lane))).status, 204);
      assert.equal((await send(sdkOnly, remove(sdk))).status, 204);
      const direct = await answer(withLane, inSession(call('echo', { text: 'hi' }), lane, revision));
      const control = await answer(sdkOnly, inSession(call('echo', { text: 'hi' }), sdk, revision));
      assert.equal(direct.observed.status, 404);
      assert.deepEqual(direct.observed, control.observed);
      assert.notEqual(direct.lane, 'direct');
    });

    for (const version of ['2026-07-28', '2099-01-01']) {
      it(`a session id under a ${version} version header answers as on the SDK path`, async () => {
        const revision = '2025-06-18';
        const c = call('echo', { text: 'hi' }, (c) => (c.headers['mcp-protocol-version'] = version));
        const direct = await answer(withLane, inSession(c, sessions.get(`lane ${revision}`)!, revision));
        const sdk = await answer(sdkOnly, inSession(c, sessions.get(`sdk ${revision}`)!, revision));
        assert.ok(direct.observed.status >= 400 || direct.observed.messages[0]?.error, JSON.stringify(direct.observed));
        assert.deepEqual(direct.observed, sdk.observed);
        assert.notEqual(direct.lane, 'direct');
      });
    }
  });
});
