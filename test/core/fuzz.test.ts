// Random and nearly valid JSON-RPC envelopes under random header combinations, sent over real HTTP
// to a real server: never a 5xx, always an answer a client can parse, never a hang, and /health
// answering after every request. Bounded in runs and time; a failure prints the seed and path to
// replay it: FUZZ_SEED=<seed> FUZZ_PATH=<path> node --import tsx --test test/core/fuzz.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const LEGACY_RUNS = Number(process.env.FUZZ_LEGACY_RUNS ?? 200);
/** Above the tool timeout the server is given, so a slow tool is told apart from a hang. */
const REQUEST_TIMEOUT_MS = 8000;
const TOOL_TIMEOUT_MS = 3000;
/** How long an open-ended stream (GET, subscriptions/listen) is read before the client leaves. */
const OPEN_STREAM_READ_MS = 300;
const MAX_BODY_BYTES = 65_536;
/** Whole-property bound, shrinking included. */
const PROPERTY_TIME_LIMIT_MS = 60_000;
const ALLOWED_ORIGIN = 'http://localhost:6274';
const NEST_MARK = '__fuzz_nest__';
/** Stand for a live notebook handle and an artifact of it, made in `before` and put in at send time. */
const HANDLE_MARK = '__fuzz_handle__';
const ARTIFACT_MARK = '__fuzz_artifact__';

const MODERN = '2026-07-28';
const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
};
const MCP_METHODS = [
  'initialize',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
  'tasks/get',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
];
const TOOLS = ['echo', 'note_add', 'note_list', 'notebook_clear', 'notebook_export', 'word_stats'];
const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** Session ids are placeholders in a plan, resolved when it is sent (the sessions exist only then). */
type SessionRef = 'SESSION_2025_06_18' | 'SESSION_2025_03_26' | 'UNKNOWN' | 'HUGE' | { raw: string };

type Body =
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string }
  /** `levels` nested arrays: rendered at send time so a counterexample prints short. */
  | { kind: 'deep'; levels: number }
  /** `value` with NEST_MARK replaced by `levels` nested arrays. */
  | { kind: 'nested'; value: unknown; levels: number }
  | { kind: 'padded'; bytes: number };

interface Plan {
  httpMethod: 'POST' | 'GET' | 'DELETE' | 'PUT';
  headers: Record<string, string | undefined>;
  session?: SessionRef;
  body?: Body;
}

// ---- Arbitraries -----------------------------------------------------------------------------

const weighted = <T>(...entries: [number, fc.Arbitrary<T>][]) => fc.oneof(...entries.map(([weight, arbitrary]) => ({ weight, arbitrary })));
const absent = fc.constant(undefined);
const json = fc.jsonValue({ maxDepth: 3 });

const idArb: fc.Arbitrary<unknown> = weighted<unknown>(
  [6, fc.integer()],
  [4, fc.string({ maxLength: 20 })],
  [1, fc.constant(null)],
  [1, fc.double()],
  [1, fc.boolean()],
  [1, fc.constant(Number.MAX_SAFE_INTEGER + 2)],
  [1, json],
);
const methodArb = weighted<string>([8, fc.constantFrom(...MCP_METHODS)], [1, fc.string({ maxLength: 30 })]);
const metaArb: fc.Arbitrary<unknown> = weighted<unknown>(
  [6, fc.constant(MODERN_META)],
  [1, fc.constant({ ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2025-06-18' })],
  [1, fc.constant({ ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' })],
  [1, fc.record({ progressToken: weighted<unknown>([3, fc.integer()], [3, fc.string()], [1, json]) })],
  [1, fc.dictionary(fc.string({ maxLength: 12 }), json, { maxKeys: 3 })],
  [1, json],
);

const toolArgs = (tool: string): fc.Arbitrary<unknown> => {
  const text = fc.string({ maxLength: 200 });
  const notebook = weighted<unknown>(
    [2, absent],
    [2, fc.constant(HANDLE_MARK)],
    [1, fc.string({ maxLength: 60 })],
    [1, fc.constant('h_unknownhandleunknownhandleunknownhandle0123')],
  );
  switch (tool) {
    case 'echo':
      return fc.record({ text: weighted<unknown>([4, text], [1, json]) });
    case 'note_add':
      return fc.record({ text: weighted<unknown>([4, text], [1, json]), notebook }, { requiredKeys: ['text'] });
    case 'word_stats':
      return fc.record({ text, top: fc.integer({ min: -5, max: 60 }), chunkDelayMs: fc.integer({ min: -1, max: 30 }) }, { requiredKeys: ['text'] });
    default:
      return fc.record({ notebook, downloadUrl: fc.boolean() }, { requiredKeys: [] });
  }
};

const paramsFor = (method: string): fc.Arbitrary<Record<string, unknown> | undefined> => {
  switch (method) {
    case 'tools/call':
      return weighted<string>([6, fc.constantFrom(...TOOLS)], [1, fc.string({ maxLength: 20 })]).chain((name) =>
        fc.record({ name: fc.constant(name), arguments: weighted<unknown>([6, toolArgs(name)], [1, json]) }, { requiredKeys: ['name'] }),
      );
    case 'resources/read':
    case 'resources/subscribe':
      return fc.record({
        uri: weighted<unknown>(
          [2, fc.constant(`notes://notebook/${HANDLE_MARK}`)],
          [2, fc.constant(ARTIFACT_MARK)],
          [1, fc.constant('notes://notebook/h_unknownhandleunknownhandleunknownhandle0123')],
          [2, fc.string({ maxLength: 60 }).map((path) => `artifact://${path}`)],
          [1, fc.constant('artifact://p/AAAAAAAAAAAAAAAAAAAAAA/notebook.md')],
          [1, fc.webUrl()],
          [1, json],
        ),
      });
    case 'prompts/get':
      return fc.record(
        {
          name: weighted<unknown>([3, fc.constant('summarize_notebook')], [1, fc.string()]),
          arguments: weighted<unknown>(
            [2, fc.constant({ notebook: HANDLE_MARK })],
            [1, fc.dictionary(fc.string({ maxLength: 10 }), weighted<unknown>([3, fc.string()], [1, json]), { maxKeys: 2 })],
          ),
        },
        { requiredKeys: ['name'] },
      );
    case 'logging/setLevel':
      return fc.record({ level: weighted<unknown>([3, fc.constantFrom(...LEVELS)], [1, fc.string()]) });
    case 'initialize':
      return fc.record(
        {
          protocolVersion: weighted<unknown>([3, fc.constantFrom(...LEGACY_VERSIONS, MODERN)], [1, fc.string()]),
          capabilities: weighted<unknown>([3, fc.constant({})], [1, json]),
          clientInfo: weighted<unknown>([3, fc.constant({ name: 'fuzz', version: '1' })], [1, json]),
        },
        { requiredKeys: [] },
      );
    case 'notifications/cancelled':
      return fc.record({ requestId: idArb, reason: fc.string() }, { requiredKeys: ['requestId'] });
    case 'completion/complete':
      return fc.record({
        ref: fc.record({ type: fc.constantFrom('ref/prompt', 'ref/resource', 'ref/nope'), name: fc.string(), uri: fc.string() }, { requiredKeys: ['type'] }),
        argument: fc.record({ name: fc.string(), value: fc.string() }),
      });
    default:
      return weighted<Record<string, unknown> | undefined>(
        [2, absent],
        [2, fc.constant({})],
        [1, fc.dictionary(fc.string({ maxLength: 12 }), json, { maxKeys: 3 })],
      );
  }
};

/** A request or notification: mostly well-formed, with one member sometimes wrong or missing. */
const callArb = (withMeta: fc.Arbitrary<unknown>) =>
  methodArb.chain((method) =>
    fc
      .record({
        jsonrpc: weighted<unknown>([12, fc.constant('2.0')], [1, fc.constantFrom('1.0', 2)]),
        id: weighted<unknown>([4, idArb], [1, absent]),
        params: weighted<unknown>([12, paramsFor(method)], [1, json]),
        meta: weighted<unknown>([2, withMeta], [1, absent]),
        extra: weighted<unknown>([15, absent], [1, json]),
      })
      .map(({ jsonrpc, id, params, meta, extra }) => {
        const message: Record<string, unknown> = { jsonrpc, method };
        if (id !== undefined) message.id = id;
        if (meta !== undefined && (params === undefined || (typeof params === 'object' && params !== null && !Array.isArray(params)))) {
          message.params = { ...(params as object), _meta: meta };
        } else if (params !== undefined) message.params = params;
        if (extra !== undefined) message.extra = extra;
        return message;
      }),
  );

const responseArb = fc
  .record({
    jsonrpc: fc.constant('2.0'),
    id: idArb,
    outcome: weighted<Record<string, unknown>>(
      [3, fc.record({ result: weighted<unknown>([3, fc.constant({})], [1, json]) })],
      [2, fc.record({ error: fc.record({ code: fc.integer(), message: fc.string(), data: json }, { requiredKeys: ['code', 'message'] }) })],
      [1, fc.record({ result: json, error: json })],
    ),
  })
  .map(({ outcome, ...rest }) => ({ ...rest, ...outcome }));

const messageArb = (withMeta: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => weighted<unknown>([8, callArb(withMeta)], [1, responseArb], [1, json]);

/** Mutates a valid serialization: truncate, insert a character, or drop a character. */
const nearJsonArb = fc
  .tuple(callArb(metaArb), fc.nat(), fc.constantFrom('truncate', 'insert', 'drop'), fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', '\uFEFF', 'x'))
  .map(([message, at, how, char]) => {
    const text = JSON.stringify(message);
    const i = at % (text.length + 1);
    return how === 'truncate' ? text.slice(0, i) : how === 'insert' ? text.slice(0, i) + char + text.slice(i) : text.slice(0, i) + text.slice(i + 1);
  });

const bodyArb = (withMeta: fc.Arbitrary<unknown>): fc.Arbitrary<Body> =>
  weighted<Body>(
    [14, messageArb(withMeta).map((value) => ({ kind: 'json', value }))],
    [3, fc.array(messageArb(withMeta), { maxLength: 4 }).map((value) => ({ kind: 'json', value }))],
    [2, nearJsonArb.map((text) => ({ kind: 'raw', text }))],
    [1, fc.string({ maxLength: 40 }).map((text) => ({ kind: 'raw', text }))],
    [1, fc.constantFrom(64, 127, 129, 5000).map((levels) => ({ kind: 'deep', levels }))],
    [1, fc.constantFrom(MAX_BODY_BYTES - 100, MAX_BODY_BYTES + 1).map((bytes) => ({ kind: 'padded', bytes }))],
  );

const headerString = fc.string({ maxLength: 40 });

/** What a body names, so headers can agree with it or not. */
function bodyNames(body: Body | undefined): { method?: string; name?: string } {
  const value =
    body?.kind === 'json' && !Array.isArray(body.value) ? (body.value as { method?: unknown; params?: { name?: unknown; uri?: unknown } } | null) : undefined;
  const method = typeof value?.method === 'string' ? value.method : undefined;
  const name = value?.params?.name ?? value?.params?.uri;
  return { ...(method && { method }), ...(typeof name === 'string' && { name }) };
}

const isLive = (ref: SessionRef) => ref === 'SESSION_2025_06_18' || ref === 'SESSION_2025_03_26';

const sessionArb = weighted<SessionRef | undefined>(
  [5, absent],
  [3, fc.constant('SESSION_2025_06_18')],
  [1, fc.constant('SESSION_2025_03_26')],
  [1, fc.constant('UNKNOWN')],
  [1, headerString.map((raw) => ({ raw }))],
  [1, fc.constant('HUGE' as const)],
);

/** Anything goes: every member and header drawn independently. */
const chaosPlanArb: fc.Arbitrary<Plan> = fc
  .record({
    httpMethod: weighted<Plan['httpMethod']>([20, fc.constant('POST')], [2, fc.constant('GET')], [1, fc.constant('DELETE')], [1, fc.constant('PUT')]),
    body: bodyArb(metaArb),
    session: sessionArb,
  })
  .chain(({ httpMethod, body, session }) => {
    const names = bodyNames(body);
    return fc
      .record({
        'content-type': weighted<string | undefined>(
          [12, fc.constant('application/json')],
          [1, fc.constant('application/json; charset=utf-8')],
          [1, fc.constantFrom('text/plain', 'application/json-patch+json', 'application/jsonx')],
          [1, absent],
          [1, headerString],
        ),
        accept: weighted<string | undefined>(
          [8, fc.constant('application/json, text/event-stream')],
          [1, fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html')],
          [1, absent],
          [1, headerString],
        ),
        'mcp-protocol-version': weighted<string | undefined>(
          [3, absent],
          [4, fc.constant(MODERN)],
          [3, fc.constantFrom(...LEGACY_VERSIONS)],
          [1, fc.constant('1999-01-01')],
          [1, headerString],
        ),
        'mcp-method': weighted<string | undefined>([2, absent], [5, fc.constant(names.method)], [1, fc.constantFrom(...MCP_METHODS)], [1, headerString]),
        'mcp-name': weighted<string | undefined>([2, absent], [4, fc.constant(names.name)], [1, headerString]),
        origin: weighted<string | undefined>([8, absent], [1, fc.constant(ALLOWED_ORIGIN)], [1, fc.constant('http://evil.example')], [1, headerString]),
        'x-request-id': weighted<string | undefined>([8, absent], [1, headerString]),
      })
      .map((headers) => ({
        httpMethod,
        headers,
        // A DELETE of a live session would end it for the rest of the run.
        ...(session !== undefined && { session: httpMethod === 'DELETE' && isLive(session) ? 'UNKNOWN' : session }),
        ...(httpMethod !== 'GET' && httpMethod !== 'DELETE' && { body }),
      }));
  });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const validIdArb = fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000_000 }), fc.string({ minLength: 1, maxLength: 16 }));

/** A request or notification as a client would send it: its params are those of the method. */
const wellFormedArb = (meta: fc.Arbitrary<unknown>, notification = false) =>
  fc.constantFrom(...MCP_METHODS.filter((m) => m.startsWith('notifications/') === notification)).chain((method) =>
    fc.record({ id: validIdArb, params: paramsFor(method), meta }).map(({ id, params, meta }) => ({
      jsonrpc: '2.0',
      ...(!notification && { id }),
      method,
      ...((params !== undefined || meta !== undefined) && { params: { ...params, ...(meta !== undefined && { _meta: meta }) } }),
    })),
  );

const modernMetaArb = weighted<unknown>(
  [6, fc.constant(MODERN_META)],
  [1, fc.integer().map((progressToken) => ({ ...MODERN_META, progressToken }))],
  [1, fc.constantFrom(...LEVELS).map((level) => ({ ...MODERN_META, 'io.modelcontextprotocol/logLevel': level }))],
);

/** A 2026-07-28 request with headers that agree with its body. */
const modernPlanArb: fc.Arbitrary<Plan> = weighted<Record<string, unknown>>([5, wellFormedArb(modernMetaArb)], [1, wellFormedArb(modernMetaArb, true)]).map(
  (message) => {
    const params = message.params as { name?: unknown; uri?: unknown } | undefined;
    const name = params?.name ?? params?.uri;
    return {
      httpMethod: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': message.method as string,
        ...(typeof name === 'string' && { 'mcp-name': name }),
      },
      body: { kind: 'json', value: message },
    };
  },
);

const SESSION_VERSION = { SESSION_2025_06_18: '2025-06-18', SESSION_2025_03_26: '2025-03-26' } as const;

/** A 2025-era request on a live session, as a client of that revision sends it. */
const legacyWellFormedArb: fc.Arbitrary<Plan> = fc
  .record({
    session: fc.constantFrom('SESSION_2025_06_18' as const, 'SESSION_2025_03_26' as const),
    message: weighted<Record<string, unknown>>(
      [5, wellFormedArb(weighted<unknown>([3, absent], [1, fc.record({ progressToken: fc.oneof(fc.integer(), fc.string({ maxLength: 8 })) })]))],
      [1, wellFormedArb(absent, true)],
    ),
    accept: weighted<string>([4, fc.constant('application/json, text/event-stream')], [1, fc.constant('application/json')]),
  })
  .map(({ session, message, accept }) => ({
    httpMethod: 'POST',
    session,
    headers: { 'content-type': 'application/json', accept, 'mcp-protocol-version': SESSION_VERSION[session] },
    body: { kind: 'json', value: message },
  }));

/** One small change that makes a valid request nearly valid. */
type Mutation =
  | { kind: 'header'; name: string; value: string | undefined }
  | { kind: 'member'; name: string; value: unknown }
  | { kind: 'meta'; value: unknown }
  | { kind: 'session'; ref: SessionRef | undefined }
  | { kind: 'batch' }
  | { kind: 'nest'; levels: number }
  | { kind: 'raw'; at: number; char: string };

const mutationArb = (sessions: boolean): fc.Arbitrary<Mutation> =>
  weighted<Mutation>(
    [
      3,
      fc.record({
        kind: fc.constant('header' as const),
        name: fc.constantFrom('content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'origin'),
        value: weighted<string | undefined>(
          [1, absent],
          [2, headerString],
          [2, fc.constantFrom(MODERN, ...LEGACY_VERSIONS, 'text/event-stream', 'application/json', 'tools/list', 'echo', 'http://evil.example')],
        ),
      }),
    ],
    [
      3,
      fc.record({
        kind: fc.constant('member' as const),
        name: fc.constantFrom('jsonrpc', 'id', 'method', 'params', 'extra'),
        value: weighted<unknown>([1, absent], [2, json], [1, idArb], [1, methodArb]),
      }),
    ],
    [2, fc.record({ kind: fc.constant('meta' as const), value: weighted<unknown>([1, absent], [3, metaArb]) })],
    [sessions ? 2 : 0, fc.record({ kind: fc.constant('session' as const), ref: sessionArb })],
    [1, fc.constant({ kind: 'batch' as const })],
    [1, fc.record({ kind: fc.constant('nest' as const), levels: fc.constantFrom(100, 129, 10_000) })],
    [1, fc.record({ kind: fc.constant('raw' as const), at: fc.nat(), char: fc.constantFrom('{', '}', '"', ',', '\\', 'x') })],
  );

function mutate(plan: Plan, mutations: Mutation[]): Plan {
  const out: Plan = { ...plan, headers: { ...plan.headers }, ...(plan.body && { body: structuredClone(plan.body) }) };
  for (const m of mutations) {
    const message = out.body?.kind === 'json' && isObject(out.body.value) ? out.body.value : undefined;
    switch (m.kind) {
      case 'header':
        out.headers[m.name] = m.value;
        break;
      case 'member':
        if (message && m.value === undefined) delete message[m.name];
        else if (message) message[m.name] = m.value;
        break;
      case 'meta':
        if (message && isObject(message.params) && m.value === undefined) delete message.params._meta;
        else if (message && isObject(message.params)) message.params._meta = m.value;
        break;
      case 'session':
        if (m.ref === undefined) delete out.session;
        else out.session = m.ref;
        break;
      case 'batch':
        if (out.body?.kind === 'json') out.body = { kind: 'json', value: [out.body.value] };
        break;
      case 'nest':
        // Deep inside what the server keeps or validates: capabilities, tool arguments, or a spare param.
        if (message && isObject(message.params)) {
          const key = ['capabilities', 'arguments'].find((k) => k in (message.params as object)) ?? 'nested';
          message.params[key] = { deep: NEST_MARK };
          out.body = { kind: 'nested', value: message, levels: m.levels };
        }
        break;
      case 'raw':
        if (out.body) {
          const text = render(out.body);
          const i = m.at % (text.length + 1);
          out.body = { kind: 'raw', text: text.slice(0, i) + m.char + text.slice(i) };
        }
        break;
    }
  }
  return out;
}

const mutated = (plan: fc.Arbitrary<Plan>, sessions: boolean) =>
  fc.tuple(plan, fc.array(mutationArb(sessions), { maxLength: 2 })).map(([p, mutations]) => mutate(p, mutations));

/** Both eras, valid and nearly valid, and some chaos. */
const planArb = weighted<Plan>([3, chaosPlanArb], [4, mutated(modernPlanArb, true)], [3, mutated(legacyWellFormedArb, true)]);

/** The 2025-era path with a live session: legacy envelopes, batches, replies, streams. */
const legacyChaosArb: fc.Arbitrary<Plan> = fc
  .record({
    session: fc.constantFrom<SessionRef>('SESSION_2025_06_18', 'SESSION_2025_03_26'),
    httpMethod: weighted<Plan['httpMethod']>([12, fc.constant('POST')], [1, fc.constant('GET')]),
    body: weighted<Body>(
      [10, messageArb(fc.record({ progressToken: fc.oneof(fc.integer(), fc.string({ maxLength: 8 })) })).map((value) => ({ kind: 'json', value }))],
      [4, fc.array(messageArb(absent), { minLength: 1, maxLength: 4 }).map((value) => ({ kind: 'json', value }))],
      [1, nearJsonArb.map((text) => ({ kind: 'raw', text }))],
    ),
    version: weighted<string | undefined>([4, absent], [4, fc.constantFrom(...LEGACY_VERSIONS)], [1, fc.constant(MODERN)], [1, headerString]),
    accept: weighted<string | undefined>(
      [6, fc.constant('application/json, text/event-stream')],
      [2, fc.constantFrom('application/json', 'text/event-stream')],
      [1, absent],
    ),
  })
  .map(({ session, httpMethod, body, version, accept }) => ({
    httpMethod,
    session,
    headers: { 'content-type': 'application/json', accept, 'mcp-protocol-version': version },
    ...(httpMethod === 'POST' && { body }),
  }));

const legacyPlanArb = weighted<Plan>([1, legacyChaosArb], [2, mutated(legacyWellFormedArb, false)]);

// ---- Sending and judging one plan --------------------------------------------------------------

function render(body: Body): string {
  switch (body.kind) {
    case 'json':
      return JSON.stringify(body.value);
    case 'raw':
      return body.text;
    case 'deep':
      return '['.repeat(body.levels) + ']'.repeat(body.levels);
    case 'nested':
      return JSON.stringify(body.value).replace(JSON.stringify(NEST_MARK), '['.repeat(body.levels) + ']'.repeat(body.levels));
    case 'padded': {
      const shell = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: '' } });
      return shell.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, body.bytes - shell.length))}"`);
    }
  }
}

const isJsonRpcAnswer = (v: unknown) => {
  const m = v as { jsonrpc?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  return (
    m !== null &&
    typeof m === 'object' &&
    m.jsonrpc === '2.0' &&
    (m.result !== undefined || (typeof m.error?.code === 'number' && typeof m.error.message === 'string'))
  );
};

/** Reads an SSE body: to its end, or for an open-ended stream for a moment; every data line must be JSON. */
async function readEvents(res: Response, openEnded: boolean): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + (openEnded ? OPEN_STREAM_READ_MS : REQUEST_TIMEOUT_MS);
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        assert.ok(openEnded, `an SSE response to a request did not end within ${REQUEST_TIMEOUT_MS} ms; got so far:\n${text.slice(0, 500)}`);
        break;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([reader.read(), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)))]);
      clearTimeout(timer);
      if (chunk === 'timeout') continue;
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const data = text.split('\n').filter((line) => line.startsWith('data:'));
  for (const line of data) JSON.parse(line.slice(5));
  if (!openEnded && data.length)
    assert.ok(isJsonRpcAnswer(JSON.parse(data.at(-1)!.slice(5))), `an SSE response must end with the JSON-RPC answer:\n${text.slice(-500)}`);
}

interface Server {
  url: string;
  sessions: Record<'SESSION_2025_06_18' | 'SESSION_2025_03_26', string>;
  handle: string;
  artifact: string;
}

const live = (text: string, server: Server) => text.replaceAll(HANDLE_MARK, server.handle).replaceAll(ARTIFACT_MARK, server.artifact);

function resolveSession(ref: SessionRef, server: Server): string {
  if (typeof ref !== 'string') return ref.raw;
  if (ref === 'UNKNOWN') return 'A'.repeat(43);
  if (ref === 'HUGE') return 'a'.repeat(10_240);
  return server.sessions[ref];
}

/** Answers by status and kind, to show what a run reached. */
type Tally = Map<string, number>;

function count(tally: Tally, res: Response, kind: string) {
  const key = `${res.status} ${kind}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

const summary = (tally: Tally) =>
  [...tally]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ×${n}`)
    .join(', ');

async function send(plan: Plan, server: Server, tally: Tally): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(plan.headers)) if (value !== undefined) headers[name] = live(value, server);
  if (plan.session !== undefined) headers['mcp-session-id'] = resolveSession(plan.session, server);
  let res: Response;
  try {
    res = await fetch(server.url, {
      method: plan.httpMethod,
      headers,
      ...(plan.body && { body: live(render(plan.body), server) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (${(err as Error).message})`);
  }
  const type = res.headers.get('content-type') ?? '';
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', 'security headers on every response');
  if (type.startsWith('text/event-stream')) {
    assert.ok(res.status < 500, `status ${res.status} on an SSE response`);
    count(tally, res, 'sse');
    const value = plan.body?.kind === 'json' || plan.body?.kind === 'nested' ? (plan.body.value as { method?: unknown } | null) : undefined;
    // A listen stream stays open by design, as does a GET stream; anything else must end with its answer.
    await readEvents(res, plan.httpMethod === 'GET' || (!Array.isArray(value) && value?.method === 'subscriptions/listen'));
    return;
  }
  const text = await res.text();
  assert.ok(res.status < 500, `status ${res.status}: ${text.slice(0, 500)}`);
  const error = /"error":\{"code":(-?\d+)/.exec(text)?.[1];
  count(tally, res, text === '' ? 'empty' : error ? `error ${error}` : 'result');
  if (text === '') {
    assert.ok(res.status === 202 || res.status === 204, `an empty body only for 202/204, got ${res.status}`);
    return;
  }
  assert.match(type, /^application\/json/, `a non-empty answer is JSON (status ${res.status}, content-type ${type}): ${text.slice(0, 200)}`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    assert.fail(`status ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  const answers = Array.isArray(answer) ? answer : [answer];
  for (const a of answers) assert.ok(isJsonRpcAnswer(a), `not a JSON-RPC answer: ${text.slice(0, 300)}`);
}

async function healthy(url: string): Promise<void> {
  const res = await fetch(url.replace(/\/mcp$/, '/health'), { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200, '/health after the request');
  await res.arrayBuffer();
}

function parameters(t: TestContext, numRuns: number): fc.Parameters<[Plan]> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  t.diagnostic(`fast-check seed ${seed} (replay: FUZZ_SEED=${seed}${process.env.FUZZ_PATH ? ` FUZZ_PATH=${process.env.FUZZ_PATH}` : ''})`);
  return {
    numRuns,
    seed,
    ...(process.env.FUZZ_PATH && { path: process.env.FUZZ_PATH, endOnFailure: true }),
    interruptAfterTimeLimit: PROPERTY_TIME_LIMIT_MS,
    markInterruptAsFailure: true,
    includeErrorInReport: true,
  };
}

describe('fuzz: random envelopes and headers over HTTP', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let instance: Awaited<ReturnType<typeof startInProcess>>;
  const server: Server = { url: '', sessions: { SESSION_2025_06_18: '', SESSION_2025_03_26: '' }, handle: '', artifact: '' };

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    instance = await startInProcess(notes, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_REQUEST_STATE_KEY: 'fuzz-request-state-key-0123456789abcdef',
      MCP_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MCP_TOOL_TIMEOUT_MS: String(TOOL_TIMEOUT_MS),
      MCP_ALLOWED_HOSTS: 'localhost,127.0.0.1',
      MCP_ALLOWED_ORIGINS: ALLOWED_ORIGIN,
    });
    server.url = instance.url;
    const start = async (protocolVersion: string) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion, capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
        }),
      });
      assert.equal(res.status, 200);
      return res.headers.get('mcp-session-id')!;
    };
    server.sessions = { SESSION_2025_06_18: await start('2025-06-18'), SESSION_2025_03_26: await start('2025-03-26') };
    const added = (await modernCall('note_add', { text: 'fuzz' })) as { structuredContent: { notebook: string } };
    server.handle = added.structuredContent.notebook;
    const exported = (await modernCall('notebook_export', { notebook: server.handle })) as { content: { uri?: string }[] };
    server.artifact = exported.content.find((c) => c.uri)!.uri!;
  });

  async function modernCall(name: string, args: Record<string, unknown>): Promise<unknown> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
      body: JSON.stringify({ jsonrpc: '2.0', id: name, method: 'tools/call', params: { name, arguments: args, _meta: MODERN_META } }),
    });
    const body = (await res.json()) as { result?: { isError?: boolean } };
    assert.ok(body.result && !body.result.isError, `${name}: ${JSON.stringify(body)}`);
    return body.result;
  }
  after(async () => {
    await instance?.stop();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  async function stillServes() {
    await healthy(server.url);
    const legacy = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'mcp-session-id': server.sessions.SESSION_2025_06_18,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'after', method: 'tools/call', params: { name: 'echo', arguments: { text: 'legacy ok' } } }),
    });
    assert.equal(((await legacy.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, 'legacy ok');
    const modern = (await modernCall('echo', { text: 'modern ok' })) as { content: { text: string }[] };
    assert.equal(modern.content[0]!.text, 'modern ok');
  }

  it(`${RUNS} random requests: no 5xx, a parseable answer, no hang, /health after each`, async (t) => {
    const started = performance.now();
    const tally: Tally = new Map();
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        await send(plan, server, tally);
        await healthy(server.url);
      }),
      parameters(t, RUNS),
    );
    t.diagnostic(`${RUNS} runs in ${Math.round(performance.now() - started)} ms: ${summary(tally)}`);
    await stillServes();
  });

  it(`${LEGACY_RUNS} requests on live 2025-era sessions: same guarantees, and the sessions survive`, async (t) => {
    const started = performance.now();
    const tally: Tally = new Map();
    await fc.assert(
      fc.asyncProperty(legacyPlanArb, async (plan) => {
        await send(plan, server, tally);
        await healthy(server.url);
      }),
      parameters(t, LEGACY_RUNS),
    );
    t.diagnostic(`${LEGACY_RUNS} runs in ${Math.round(performance.now() - started)} ms: ${summary(tally)}`);
    await stillServes();
  });
});
