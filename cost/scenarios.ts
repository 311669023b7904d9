// The request types cost/measure.ts measures, as a client sends them through the front door:
// each `run` is one unit (a call, a session start, a minute of a stream...). A `prepare` runs once,
// unmeasured, so a unit starts from the state it usually meets (a live session, a warm cache).
// Requests are plain fetches with the headers and bodies MCP clients send, so what is counted is
// what crosses the wire, no more.

export const MODERN = '2026-07-28';
export const LEGACY = '2025-06-18';
/** The client capabilities of a 2026-07-28 client that takes tasks. */
const TAKING = { extensions: { 'io.modelcontextprotocol/tasks': {} } };

export interface ScenarioClient {
  /** The MCP URL clients use (through the metered front door). */
  url: string;
  apiKey: string;
  /** How long a unit's stream stays open (the stream cap it was measured with). */
  streamSeconds: number;
  /** The session cache lifetime (MCP_SESSION_CACHE_MS) the function was given. */
  sessionCacheMs: number;
  /** Resolves when an asynchronous (task worker) invocation started at or after `since` has ended. */
  workerEnded(since: number): Promise<void>;
  /** What scenarios hand on to later runs: a session id, an artifact URI. */
  state: Record<string, string>;
}

export interface Scenario {
  id: string;
  description: string;
  prepare?(c: ScenarioClient): Promise<void>;
  run(c: ScenarioClient): Promise<void>;
  /** A stream's unit is a minute however long it was measured: counts are scaled to 60 s. */
  stream?: boolean;
}

const META = (capabilities: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': capabilities,
  'io.modelcontextprotocol/clientInfo': { name: 'cost-measure', version: '1.0.0' },
});

let ids = 0;

async function post(c: ScenarioClient, headers: Record<string, string>, body: unknown): Promise<Response> {
  const res = await fetch(c.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${c.apiKey}`, ...headers },
    body: JSON.stringify(body),
  });
  if (res.status >= 400) throw new Error(`${res.status} from ${JSON.stringify(body).slice(0, 120)}: ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** The JSON-RPC result of a request, from a JSON answer or the last message of an SSE one. */
async function resultOf(res: Response): Promise<Record<string, any>> {
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => JSON.parse(l.slice(6)))
        .at(-1)
    : JSON.parse(text);
  if (json?.error) throw new Error(`JSON-RPC error: ${JSON.stringify(json.error)}`);
  return json.result;
}

/** A 2026-07-28 request: version and client in `_meta`, method and name mirrored in headers. */
async function modern(c: ScenarioClient, method: string, params: Record<string, unknown>, name?: string, capabilities?: Record<string, unknown>) {
  const headers: Record<string, string> = { 'mcp-protocol-version': MODERN, 'mcp-method': method, ...(name !== undefined && { 'mcp-name': name }) };
  return resultOf(await post(c, headers, { jsonrpc: '2.0', id: ++ids, method, params: { ...params, _meta: META(capabilities) } }));
}

async function legacyRequest(c: ScenarioClient, method: string, params: Record<string, unknown>) {
  const headers = { 'mcp-session-id': c.state.session!, 'mcp-protocol-version': LEGACY };
  return resultOf(await post(c, headers, { jsonrpc: '2.0', id: ++ids, method, params }));
}

/** `initialize` and the `notifications/initialized` that follows it: how a 2025-era session starts. */
async function startSession(c: ScenarioClient): Promise<string> {
  const res = await post(
    c,
    {},
    {
      jsonrpc: '2.0',
      id: ++ids,
      method: 'initialize',
      params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'cost-measure', version: '1.0.0' } },
    },
  );
  const session = res.headers.get('mcp-session-id');
  await resultOf(res);
  if (!session) throw new Error('initialize answered without Mcp-Session-Id');
  await (await post(c, { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY }, { jsonrpc: '2.0', method: 'notifications/initialized' })).text();
  return session;
}

const echo = (c: ScenarioClient) => modern(c, 'tools/call', { name: 'echo', arguments: { text: 'hello' } }, 'echo');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a stream to its end (the stream cap ends it); fails if it ends much sooner. */
async function holdStream(c: ScenarioClient, res: Response): Promise<void> {
  const started = Date.now();
  await res.text();
  if (Date.now() - started < c.streamSeconds * 1000 * 0.9) throw new Error(`the stream ended after ${Date.now() - started} ms, before the stream cap`);
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'discover',
    description: '`server/discover`, which a 2026-07-28 client sends once when it connects',
    run: (c) => modern(c, 'server/discover', {}).then(() => {}),
  },
  {
    id: 'toolsList',
    description: '`tools/list` by a 2026-07-28 client (clients list tools when they connect and when told the list changed)',
    run: (c) => modern(c, 'tools/list', {}).then(() => {}),
  },
  {
    id: 'modernCall',
    description: 'a `tools/call` of a trivial tool by a 2026-07-28 (stateless) client',
    prepare: (c) => echo(c).then(() => {}),
    run: (c) => echo(c).then(() => {}),
  },
  {
    id: 'legacyCall',
    description: 'a `tools/call` in a 2025-06-18 session whose record the environment has cached (calls less than MCP_SESSION_CACHE_MS apart)',
    prepare: async (c) => {
      c.state.session = await startSession(c);
    },
    run: (c) => legacyRequest(c, 'tools/call', { name: 'echo', arguments: { text: 'hello' } }).then(() => {}),
  },
  {
    id: 'legacyCallColdSession',
    description:
      'a `tools/call` in a 2025-06-18 session after MCP_SESSION_CACHE_MS (2 s) without one: the session is read from DynamoDB again (the usual case for calls an LLM makes seconds apart)',
    prepare: async (c) => {
      c.state.session ??= await startSession(c);
    },
    run: async (c) => {
      await pause(c.sessionCacheMs + 200);
      await legacyRequest(c, 'tools/call', { name: 'echo', arguments: { text: 'hello' } });
    },
  },
  {
    id: 'initialize',
    description: 'a 2025-era session start: `initialize` and `notifications/initialized` (two requests)',
    run: async (c) => {
      await startSession(c);
    },
  },
  {
    id: 'cachedHit',
    description: 'a `tools/call` of a cached tool answered from the Redis cache (the tool does not run)',
    prepare: (c) => modern(c, 'tools/call', { name: 'lookup', arguments: { key: 'k' } }, 'lookup').then(() => {}),
    run: (c) => modern(c, 'tools/call', { name: 'lookup', arguments: { key: 'k' } }, 'lookup').then(() => {}),
  },
  {
    id: 'artifactPut',
    description: 'a `tools/call` whose tool stores a 10 KB artifact in S3 and returns its link',
    run: async (c) => {
      const result = await modern(c, 'tools/call', { name: 'report', arguments: { title: 'Weekly' } }, 'report');
      c.state.artifact = (result.content as { type: string; uri?: string }[]).find((item) => item.type === 'resource_link')!.uri!;
    },
  },
  {
    id: 'artifactRead',
    description: '`resources/read` of a 10 KB artifact by its owner',
    prepare: async (c) => {
      const result = await modern(c, 'tools/call', { name: 'report', arguments: { title: 'Weekly' } }, 'report');
      c.state.artifact = (result.content as { type: string; uri?: string }[]).find((item) => item.type === 'resource_link')!.uri!;
    },
    run: (c) => modern(c, 'resources/read', { uri: c.state.artifact }, c.state.artifact).then(() => {}),
  },
  {
    id: 'task',
    description:
      'a task: the `tools/call` that creates it, the worker invocation that runs it (three progress updates), and one `tasks/get` that finds it completed with its result',
    run: async (c) => {
      const since = Date.now();
      const created = await modern(c, 'tools/call', { name: 'job', arguments: { steps: 3 } }, 'job', TAKING);
      if (created.resultType !== 'task') throw new Error(`expected a task, got ${JSON.stringify(created).slice(0, 200)}`);
      await c.workerEnded(since);
      const done = await modern(c, 'tasks/get', { taskId: created.taskId }, created.taskId, TAKING);
      if (done.status !== 'completed') throw new Error(`task ${done.status} after its worker ended`);
    },
  },
  {
    id: 'taskGet',
    description: 'one `tasks/get`, as a client polls a task every MCP_TASK_POLL_MS (1 s) until it ends',
    prepare: async (c) => {
      const since = Date.now();
      const created = await modern(c, 'tools/call', { name: 'job', arguments: { steps: 1 } }, 'job', TAKING);
      await c.workerEnded(since);
      c.state.task = created.taskId;
    },
    run: (c) => modern(c, 'tasks/get', { taskId: c.state.task }, c.state.task, TAKING).then(() => {}),
  },
  {
    id: 'listenStreamMinute',
    description: 'a minute of an open `subscriptions/listen` stream with nothing to report: the request, keep-alives, event polling, and its close',
    stream: true,
    run: async (c) => {
      const body = { jsonrpc: '2.0', id: ++ids, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META() } };
      await holdStream(c, await post(c, { 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' }, body));
    },
  },
  {
    id: 'getStreamMinute',
    description: 'a minute of an open 2025-era GET stream with nothing to report (GET streams are off unless the construct enables them)',
    stream: true,
    prepare: async (c) => {
      c.state.session ??= await startSession(c);
    },
    run: async (c) => {
      const res = await fetch(c.url, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${c.apiKey}`, 'mcp-session-id': c.state.session!, 'mcp-protocol-version': LEGACY },
      });
      if (res.status !== 200) throw new Error(`GET stream answered ${res.status}: ${await res.text()}`);
      await holdStream(c, res);
    },
  },
];
