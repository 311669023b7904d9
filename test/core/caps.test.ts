// Caps per caller, so one principal cannot pile up what the kit stores or holds open: sessions
// started per day, state handles minted per day, notification streams open on one instance. Each
// refusal says what the cap is and what to do, and has a control that succeeds once the tested
// factor changes. The session cache holds only recently seen sessions.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN = {
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
};
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'caps', version: '1' },
};

describe('caps per caller', () => {
  const running: { stop(): Promise<void> }[] = [];
  let server: Awaited<ReturnType<typeof startInProcess>>;

  /** A server on a table of its own, so each test starts with no session or handle counted. */
  async function start(env: Record<string, string> = {}) {
    const dynamo = await startTestDynamo();
    server = await startInProcess(notes, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      MCP_SESSIONS_PER_PRINCIPAL: '3',
      MCP_HANDLES_PER_PRINCIPAL: '2',
      MCP_STREAMS_PER_PRINCIPAL: '2',
      MCP_SESSION_CACHE_MS: '100',
      ...env,
    });
    running.push(server, dynamo);
  }
  after(async () => {
    for (const r of running.reverse()) await r.stop();
  });

  const initialize = () =>
    fetch(server.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'caps', version: '1' } },
      }),
    });
  const session = (id: string) => ({ 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });

  it('sessions: the fourth of the day is refused with 429 saying the cap; ending one makes room', async () => {
    await start();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await initialize();
      assert.equal(res.status, 200);
      ids.push(res.headers.get('mcp-session-id')!);
    }
    const fourth = await initialize();
    assert.equal(fourth.status, 429);
    assert.ok(Number(fourth.headers.get('retry-after')) > 0);
    assert.match(
      ((await fourth.json()) as { error: { message: string } }).error.message,
      /^Too many sessions: at most 3 per caller per 24 h; reuse a session, end the ones you no longer use with DELETE, or retry after \d+ s$/,
    );
    assert.equal((await fetch(server.url, { method: 'DELETE', headers: session(ids[0]!) })).status, 204);
    assert.equal((await initialize()).status, 200, 'control: a DELETE gave the slot back');
  });

  it('state handles: the third minted today is refused in the tool result; the handles already minted keep working', async () => {
    await start();
    const add = (args: Record<string, unknown>) =>
      fetch(server.url, {
        method: 'POST',
        headers: { ...HEADERS, ...MODERN, 'mcp-name': 'note_add' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'note_add', arguments: args, _meta: META } }),
      }).then(async (r) => (await r.json()) as { result: { isError?: boolean; content: { text: string }[]; structuredContent?: { notebook: string } } });
    const first = await add({ text: 'one' });
    await add({ text: 'two' });
    const third = await add({ text: 'three' });
    assert.equal(third.result.isError, true);
    assert.match(
      third.result.content[0]!.text,
      /Too many state handles: at most 2 per caller per 24 h; pass the handles you have back instead of starting new ones/,
    );
    const reused = await add({ text: 'again', notebook: first.result.structuredContent!.notebook });
    assert.equal(reused.result.isError, undefined, 'control: an existing handle still works');
    assert.match(reused.result.content[0]!.text, /^Added note 2 to h_/);
  });

  it('streams: a third open notification stream on this instance is refused; closing one makes room', async () => {
    await start();
    const res = await initialize();
    assert.equal(res.status, 200);
    const id = res.headers.get('mcp-session-id')!;
    const open = () => fetch(server.url, { headers: { accept: 'text/event-stream', ...session(id) } });
    const a = await open();
    const b = await open();
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await open();
    assert.equal(c.status, 429);
    assert.match(
      ((await c.json()) as { error: { message: string } }).error.message,
      /^Too many open notification streams: at most 2 per caller on one server instance/,
    );
    await a.body!.cancel();
    let again: Response | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await again?.body?.cancel();
      again = await open();
    }
    assert.equal(again!.status, 200, 'control: a closed stream gave its slot back');
    await Promise.all([b.body!.cancel(), again!.body!.cancel()]);
  });

  it('the session cache keeps only sessions seen within MCP_SESSION_CACHE_MS', async () => {
    // 1.5 s: three initializes on a loaded machine outlasted 100 ms, sweeping the first out early.
    await start({ MCP_SESSION_CACHE_MS: '1500' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await initialize()).headers.get('mcp-session-id')!);
    assert.equal(server.kit.stats().cachedSessions, 3);
    // Waits out the cache's time (a lower bound: a late timer only waits longer).
    await new Promise((r) => setTimeout(r, 1550));
    // Reading a session into the cache sweeps out the expired ones first.
    const list = await fetch(server.url, {
      method: 'POST',
      headers: { ...HEADERS, ...session(ids[0]!) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    assert.equal(list.status, 200);
    assert.equal(server.kit.stats().cachedSessions, 1);
  });
});
