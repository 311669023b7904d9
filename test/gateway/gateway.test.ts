// The gateway in front of real upstreams: two kit servers (notes, echo; both eras) and an SDK 1.x
// server that speaks only 2025, called by the SDK's clients of both eras. Lists carry every
// upstream under prefixed names; calls, prompts, reads and completions reach the right upstream
// with progress, MRTR rounds and resource links intact; bad names get errors that say what to do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import notes from '../../functions/notes/server.ts';
import { GATEWAY_META_KEY } from '../../shared/gateway/catalog.ts';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.ts';
import { legacyCaller, modernCaller, plainCaller, startDataPlane, startGateway, startUpstream, text, type RunningGateway } from '../helpers/gateway.ts';
import { startLegacyServer, type LegacyServer } from '../helpers/legacy-server.ts';

describe('gateway', () => {
  let gateway: RunningGateway;
  let odd: FaultyProxy;
  let old: LegacyServer;
  let stopAll: () => Promise<void>;
  const closing: { close(): Promise<void> }[] = [];

  before(async () => {
    const plane = await startDataPlane();
    const [notesServer, echoServer, oldServer] = await Promise.all([startUpstream(notes, plane), startUpstream(echo, plane), startLegacyServer('old')]);
    old = oldServer;
    // "odd" is echo again, behind a proxy that makes it list its tool twice and two more, one of
    // them with a name no MCP client accepts.
    odd = await startFaultyProxy(echoServer.url);
    odd.fault = {
      kind: 'rewrite',
      method: 'tools/list',
      edit: (result) => {
        const [tool] = result.tools as { name: string }[];
        return { ...result, tools: [tool, tool, { ...tool, name: 'has space' }, { ...tool, name: 'fine' }] };
      },
    };
    gateway = await startGateway(
      {
        upstreams: {
          notes: { url: notesServer.url },
          echo: { url: echoServer.url, protocol: 'legacy' },
          old: { url: old.url },
          odd: { url: odd.url },
        },
      },
      plane,
    );
    stopAll = async () => {
      for (const c of closing) await c.close().catch(() => {});
      await gateway.stop();
      await odd.close();
      await Promise.all([notesServer.stop(), echoServer.stop(), old.stop()]);
      await plane.stop();
    };
  });
  after(() => stopAll());

  const modern = async (confirm = true) => {
    const c = await modernCaller(gateway.url, { confirm });
    closing.push(c);
    return c;
  };
  const legacy = async (confirm = true) => {
    const c = await legacyCaller(gateway.url, { confirm });
    closing.push(c);
    return c;
  };

  describe('lists', () => {
    it("lists every upstream's tools under <upstream>__<tool>, to both eras", async () => {
      for (const caller of [await modern(), await legacy()]) {
        const names = (await caller.listTools()).tools.map((t) => t.name);
        for (const name of ['notes__echo', 'notes__note_add', 'notes__notebook_clear', 'echo__echo', 'old__echo', 'old__bump', 'odd__fine'])
          assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
      }
    });

    it('keeps tool definitions as the upstream wrote them, name aside', async () => {
      const { tools } = await (await modern()).listTools();
      const tool = tools.find((t) => t.name === 'notes__note_add')!;
      const original = notes.tools.find((t) => t.name === 'note_add')!;
      assert.equal(tool.description, original.description);
      assert.deepEqual(tool.annotations, original.annotations);
      assert.deepEqual(Object.keys((tool.inputSchema as { properties: object }).properties), ['text', 'notebook']);
    });

    it('lists prompts, resources and templates with prefixed names and URIs', async () => {
      const caller = await modern();
      assert.deepEqual(
        (await caller.listPrompts()).prompts.map((p) => p.name),
        ['notes__summarize_notebook'],
      );
      const templates = (await caller.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      assert.ok(templates.includes('notes+notes://notebook/{handle}'), templates.join(', '));
      assert.ok(templates.includes('notes+artifact://{+path}'), templates.join(', '));
    });

    it('tells its listeners when an upstream announces a tools list change', async () => {
      const caller = await modern();
      await caller.callTool({ name: 'old__echo', arguments: { text: 'open the session' } });
      let changed = 0;
      caller.setNotificationHandler('notifications/tools/list_changed', () => void changed++);
      const subscription = await caller.listen({ toolsListChanged: true });
      // The gateway's 2025 session with "old" hears it on its GET stream, once that stream is open.
      for (let i = 0; changed === 0 && i < 100; i++) {
        old.toolsChanged();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(changed > 0, 'no tools/list_changed reached the listener');
      await subscription.close();
    });

    it("answers a list with a private cache hint no longer than its upstreams'", async () => {
      const res = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta() } }, { 'mcp-method': 'tools/list' });
      const { result } = (await res.json()) as { result: { ttlMs: number; cacheScope: string } };
      // echo and old are 2025-era upstreams: no hint, so nothing may be cached.
      assert.equal(result.ttlMs, 0);
      assert.equal(result.cacheScope, 'private');
    });

    it('leaves out a name an upstream lists twice, or one that is not a valid tool name, and says so', async () => {
      const caller = await modern();
      const res = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta() } }, { 'mcp-method': 'tools/list' });
      const { result } = (await res.json()) as {
        result: { tools: { name: string }[]; _meta: Record<string, { skipped: { name: string; reason: string }[] }> };
      };
      const names = result.tools.map((t) => t.name);
      assert.ok(names.includes('odd__fine'));
      assert.ok(!names.includes('odd__echo') && !names.includes('odd__has space'));
      const skipped = result._meta[GATEWAY_META_KEY]!.skipped;
      assert.deepEqual(skipped.map((s) => s.name).sort(), ['odd__echo', 'odd__has space']);
      assert.match(skipped.find((s) => s.name === 'odd__echo')!.reason, /lists "echo" 2 times/);
      await assert.rejects(
        caller.callTool({ name: 'odd__echo', arguments: { text: 'x' } }),
        /Tool "odd__echo" is left out: upstream "odd" lists "echo" 2 times/,
      );
    });
  });

  describe('calls', () => {
    it('routes a call by its prefix, in both eras, to both kinds of upstream', async () => {
      for (const caller of [await modern(), await legacy()]) {
        assert.equal(text(await caller.callTool({ name: 'notes__echo', arguments: { text: 'to notes' } })), 'to notes');
        assert.equal(text(await caller.callTool({ name: 'echo__echo', arguments: { text: 'to echo' } })), 'to echo');
        assert.equal(text(await caller.callTool({ name: 'old__echo', arguments: { text: 'to old' } })), 'to old');
      }
    });

    it('passes progress through', async () => {
      const seen: number[] = [];
      const result = await (await modern()).callTool(
        { name: 'notes__word_stats', arguments: { text: 'w '.repeat(3500) } },
        { onprogress: (p) => seen.push(p.progress) },
      );
      assert.deepEqual(seen, [1, 2, 3, 4]);
      assert.match(text(result), /^3500 words/);
      const legacySeen: number[] = [];
      await (await legacy()).callTool({ name: 'old__slow', arguments: { steps: 3 } }, undefined, { onprogress: (p) => legacySeen.push(p.progress) });
      assert.deepEqual(legacySeen, [1, 2, 3]);
    });

    it('keeps upstream state handles working through the gateway', async () => {
      const caller = await legacy();
      const added = await caller.callTool({ name: 'notes__note_add', arguments: { text: 'via gateway' } });
      const handle = (added.structuredContent as { notebook: string }).notebook;
      assert.match(handle, /^h_/);
      await caller.callTool({ name: 'notes__note_add', arguments: { text: 'again', notebook: handle } });
      assert.equal(text(await caller.callTool({ name: 'notes__note_list', arguments: { notebook: handle } })), '1. via gateway\n2. again');
    });

    it("carries a multi round-trip confirmation to a 2026-07-28 caller, the upstream's state sealed in the gateway's", async () => {
      const caller = await modern();
      const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'doomed' } })).structuredContent as { notebook: string }).notebook;
      assert.match(text(await caller.callTool({ name: 'notes__notebook_clear', arguments: { notebook: handle } })), /^Cleared h_/);
      assert.deepEqual(caller.asked, [`Delete all 1 notes in ${handle}?`]);
      const declined = await modern(false);
      const kept = ((await declined.callTool({ name: 'notes__note_add', arguments: { text: 'kept' } })).structuredContent as { notebook: string }).notebook;
      assert.equal(text(await declined.callTool({ name: 'notes__notebook_clear', arguments: { notebook: kept } })), 'Nothing deleted.');
    });

    it("turns the upstream's round into a real elicitation for a 2025-era caller", async () => {
      const caller = await legacy();
      const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'doomed' } })).structuredContent as { notebook: string }).notebook;
      assert.match(text(await caller.callTool({ name: 'notes__notebook_clear', arguments: { notebook: handle } })), /^Cleared h_/);
      assert.deepEqual(caller.asked, [`Delete all 1 notes in ${handle}?`]);
    });

    it("asks a caller that cannot elicit to confirm by the tool's gateway name, and the token it gives confirms", async () => {
      for (const era of ['modern', 'legacy'] as const) {
        const caller = await plainCaller(era, gateway.url, {});
        try {
          const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'doomed' } })) as { structuredContent: { notebook: string } })
            .structuredContent.notebook;
          const asked = text(await caller.callTool({ name: 'notes__notebook_clear', arguments: { notebook: handle } }));
          assert.match(asked, /^Needs confirmation: .* call the same tool again with the same arguments/, era);
          // The upstream's own name would send the caller to a tool the gateway does not have.
          assert.doesNotMatch(asked, /(?<!notes__)notebook_clear/, era);
          const token = /"confirm": "([^"]+)"/.exec(asked)![1]!;
          assert.match(text(await caller.callTool({ name: 'notes__notebook_clear', arguments: { notebook: handle, confirm: token } })), /^Cleared h_/, era);
        } finally {
          await caller.close();
        }
      }
    });

    it('refuses a requestState that was not minted for the call', async () => {
      const res = await post(
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'notes__notebook_clear',
            arguments: {},
            requestState: 'forged',
            inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
            _meta: meta(),
          },
        },
        { 'mcp-method': 'tools/call', 'mcp-name': 'notes__notebook_clear' },
      );
      const body = (await res.json()) as { error?: { message: string } };
      assert.match(body.error?.message ?? '', /requestState/i);
    });

    it('rewrites resource links so the caller can read them through the gateway', async () => {
      for (const caller of [await modern(), await legacy()]) {
        const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'exported' } })).structuredContent as { notebook: string })
          .notebook;
        const exported = await caller.callTool({ name: 'notes__notebook_export', arguments: { notebook: handle } });
        const link = (exported.content as { type: string; uri: string }[]).find((c) => c.type === 'resource_link')!;
        assert.match(link.uri, /^notes\+artifact:\/\/h\//);
        const read = await caller.readResource({ uri: link.uri });
        assert.equal(read.contents[0]!.uri, link.uri);
        assert.match((read.contents[0] as { text: string }).text, /- exported/);
      }
    });

    it("routes a completion request by its prompt's prefix, passing the upstream's answer on", async () => {
      // notes offers no completions: its JSON-RPC error comes back, naming it.
      await assert.rejects(
        (await modern()).complete({ ref: { type: 'ref/prompt', name: 'notes__summarize_notebook' }, argument: { name: 'notebook', value: 'h' } }),
        /upstream "notes": error -32601/,
      );
    });

    it('gets a prompt from its upstream', async () => {
      const caller = await modern();
      const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'summarize me' } })).structuredContent as { notebook: string })
        .notebook;
      const prompt = await caller.getPrompt({ name: 'notes__summarize_notebook', arguments: { notebook: handle } });
      assert.match((prompt.messages[0]!.content as { text: string }).text, /- summarize me/);
    });
  });

  describe('bad input', () => {
    it('says which upstreams there are for an unknown prefix', async () => {
      await assert.rejects(
        (await modern()).callTool({ name: 'nope__echo', arguments: {} }),
        /Unknown tool "nope__echo": no upstream is named "nope" \(upstreams: notes, echo, old, odd\)/,
      );
    });

    it('suggests the prefixed names for a name without a prefix', async () => {
      const caller = await modern();
      await caller.listTools();
      await assert.rejects(
        caller.callTool({ name: 'echo', arguments: { text: 'x' } }),
        /Unknown tool "echo": tools behind this gateway are named <upstream>__<tool>; did you mean notes__echo or echo__echo or old__echo\?/,
      );
    });

    it('says an upstream lists no such tool once it has listed it', async () => {
      const caller = await legacy();
      await caller.listTools();
      const result = await caller.callTool({ name: 'notes__nope', arguments: {} }).catch((err: Error) => err);
      assert.match(String((result as Error).message ?? text(result)), /Unknown tool "notes__nope": upstream "notes" lists no tool "nope"/);
    });

    it('answers an unknown resource URI as not found, naming the convention', async () => {
      await assert.rejects(
        (await modern()).readResource({ uri: 'artifact://p/x/y' }),
        /Resource not found: artifact:\/\/p\/x\/y \(resources behind this gateway are <upstream>\+<uri>/,
      );
    });
  });

  function meta() {
    return {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    };
  }

  function post(body: unknown, headers: Record<string, string> = {}) {
    return fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', ...headers },
      body: JSON.stringify(body),
    });
  }
});
