// Both protocol eras on one endpoint, driven by the official SDK clients against real servers and
// real emulators: the example server's tools, state, progress, MRTR, logging, list-changed
// notifications and session termination. Once on a Node server in this process, once on the
// deployed path modelled locally (npm run start:aws: CloudFront, API Gateway, several Lambda
// environments), where consecutive requests of one client land in different environments.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import notes from '../../functions/notes/server.ts';
import { startAwsPath } from '../helpers/aws.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const KEY = 'test-request-state-key-0123456789abcdef';

interface Target {
  url: string;
  /** What every request carries to get in (the modelled path takes API keys, as deployed). */
  auth: Record<string, string>;
  /** Another instance announces a tools list change. */
  toolsChanged(): void;
  stop(): Promise<void>;
}

/** A Node server in this process, on real emulators. */
async function nodeTarget(): Promise<Target> {
  const [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
  const server = await startInProcess(notes, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    MCP_REQUEST_STATE_KEY: KEY,
    MCP_SSE_KEEPALIVE_MS: '0',
  });
  return {
    url: server.url,
    auth: {},
    toolsChanged: () => server.kit.notify.toolsChanged(),
    async stop() {
      await server.stop();
      await Promise.all([dynamo.stop(), s3.stop()]);
    },
  };
}

/** The deployed path modelled: the handler bundle in Lambda environments, events through Redis. */
async function awsTarget(containers?: { tasks: number }): Promise<Target> {
  // Each SDK 1.x client holds an environment with its GET stream until the stream cap, and every
  // client here holds the one API key: the stream caps leave room for all of them.
  const streamCaps = { MCP_MAX_OPEN_STREAMS: '8', MCP_STREAMS_PER_PRINCIPAL: '8' };
  const path = await startAwsPath(
    'functions/notes/handler.ts',
    {
      MCP_REQUEST_STATE_KEY: KEY,
      MCP_GET_STREAMS: 'true',
      MCP_STREAM_MAX_SECONDS: '10',
      MCP_EVENT_POLL_MS: '100',
      ...streamCaps,
      ...(containers && { LOG_LEVEL: 'INFO' }),
    },
    {
      redis: true,
      s3: true,
      concurrency: 12,
      apiKey: { scopes: [] },
      // With containers the streams (GET, subscriptions/listen) run on the tasks, with the same caps.
      ...(containers && { containers: { ...containers, environment: streamCaps } }),
    },
  );
  // Another instance of the same server on the same data plane announces the change.
  const announcer = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: path.dynamoEndpoint, MCP_REQUEST_STATE_KEY: KEY, ...path.redis!.env });
  return {
    url: path.url,
    auth: path.auth,
    toolsChanged: () => announcer.kit.notify.toolsChanged(),
    async stop() {
      await announcer.stop();
      await path.stop();
      if (!containers) return;
      // Every stream ran on a task, none on Lambda (the access lines, on at INFO, say where each request ran).
      const streams = path.logs().filter((line) => /"method":"(subscriptions\/listen|GET stream)"/.test(line));
      assert.ok(
        streams.some((line) => line.startsWith('[task ')),
        'streams on the containers',
      );
      assert.deepEqual(
        streams.filter((line) => line.startsWith('[env ')),
        [],
        'no stream on Lambda',
      );
    },
  };
}

const TARGETS = [
  ['Node server', nodeTarget],
  ['modelled AWS path', () => awsTarget()],
  // MCP_AWS_CONTAINERS=true: streams on container tasks (route-streams.js), calls on Lambda.
  ['modelled AWS path with containers', () => awsTarget({ tasks: 2 })],
] as const;

for (const [label, start] of TARGETS)
  describe(`one endpoint, both eras (${label})`, () => {
    let server: Target;
    const opened: { close(): Promise<void> }[] = [];

    before(async () => {
      server = await start();
    });
    after(async () => {
      for (const c of opened) await c.close().catch(() => {});
      await server.stop();
    });

    async function modern(confirm = true) {
      const client = new ModernClient(
        { name: 'modern-test', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: {} } },
      );
      const asked: string[] = [];
      client.setRequestHandler('elicitation/create', async (request) => {
        asked.push((request.params as { message: string }).message);
        return { action: 'accept', content: { confirm } };
      });
      await client.connect(new ModernTransport(new URL(server.url), { requestInit: { headers: server.auth } }));
      opened.push(client);
      return Object.assign(client, { asked });
    }

    async function legacy(confirm = true) {
      const client = new LegacyClient({ name: 'legacy-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { confirm } }));
      const transport = new LegacyTransport(new URL(server.url), { requestInit: { headers: server.auth } });
      await client.connect(transport);
      opened.push(client);
      return { client, transport };
    }

    const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

    describe('modern (2026-07-28)', () => {
      it('negotiates 2026-07-28 through server/discover and lists tools in definition order', async () => {
        const client = await modern();
        assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
        const { tools } = await client.listTools();
        assert.deepEqual(
          tools.map((t) => t.name),
          notes.tools.map((t) => t.name),
        );
        assert.equal(tools.find((t) => t.name === 'echo')?.annotations?.readOnlyHint, true);
      });

      it('advertises ttlMs and cacheScope on list results', async () => {
        const res = await fetch(server.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...server.auth,
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/list',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta() } }),
        });
        const body = (await res.json()) as { result: { ttlMs: number; cacheScope: string; resultType: string } };
        assert.equal(res.status, 200);
        assert.equal(body.result.ttlMs, 60_000);
        assert.equal(body.result.cacheScope, 'private');
        assert.equal(body.result.resultType, 'complete');
      });

      it('echo returns its text', async () => {
        const client = await modern();
        assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'hello' } })), 'hello');
      });

      it('keeps state under a minted handle the client passes back', async () => {
        const client = await modern();
        const first = await client.callTool({ name: 'note_add', arguments: { text: 'first' } });
        const handle = (first.structuredContent as { notebook: string }).notebook;
        assert.match(handle, /^h_/);
        await client.callTool({ name: 'note_add', arguments: { text: 'second', notebook: handle } });
        assert.equal(text(await client.callTool({ name: 'note_list', arguments: { notebook: handle } })), '1. first\n2. second');
        // A fresh call without the handle starts a new, empty notebook.
        assert.equal(text(await client.callTool({ name: 'note_list', arguments: {} })), 'The notebook is empty.');
        // There is no session notebook to clear, and the answer says what to pass instead.
        assert.equal(
          text(await client.callTool({ name: 'notebook_clear', arguments: {} })),
          'No notebook given: pass the notebook handle note_add returned as "notebook".',
        );
      });

      it('answers an unknown handle with a tool error that says what to do', async () => {
        const client = await modern();
        const result = await client.callTool({ name: 'note_list', arguments: { notebook: 'h_doesnotexist' } });
        assert.equal(result.isError, true);
        assert.match(text(result), /unknown or expired state handle .*omit it to start over/);
      });

      it('reports progress on the response stream', async () => {
        const client = await modern();
        const seen: number[] = [];
        const result = await client.callTool({ name: 'word_stats', arguments: { text: 'w '.repeat(3500) } }, { onprogress: (p) => seen.push(p.progress) });
        assert.deepEqual(seen, [1, 2, 3, 4]);
        assert.match(text(result), /^3500 words, 1 distinct/);
      });

      it('completes a multi round-trip confirmation with a signed requestState', async () => {
        const client = await modern();
        const added = await client.callTool({ name: 'note_add', arguments: { text: 'doomed' } });
        const handle = (added.structuredContent as { notebook: string }).notebook;
        assert.match(text(await client.callTool({ name: 'notebook_clear', arguments: { notebook: handle } })), /^Cleared h_/);
        // The tool asked first (an input_required round the client answered), exactly once.
        assert.deepEqual(client.asked, [`Delete all 1 notes in ${handle}?`]);
        assert.equal(text(await client.callTool({ name: 'note_list', arguments: { notebook: handle } })), 'The notebook is empty.');
      });

      it('exports a notebook as an artifact the same client can read', async () => {
        const client = await modern();
        const added = await client.callTool({ name: 'note_add', arguments: { text: 'exported' } });
        const handle = (added.structuredContent as { notebook: string }).notebook;
        const exported = await client.callTool({ name: 'notebook_export', arguments: { notebook: handle } });
        const link = (exported.content as { type: string; uri: string }[]).find((c) => c.type === 'resource_link')!;
        assert.match(link.uri, /^artifact:\/\/h\//);
        const read = await client.readResource({ uri: link.uri });
        assert.match((read.contents[0] as { text: string }).text, /- exported/);
      });

      it('delivers list-changed notifications on subscriptions/listen', async () => {
        const client = await modern();
        const changed = new Promise<void>((resolve) => client.setNotificationHandler('notifications/tools/list_changed', () => resolve()));
        const subscription = await client.listen({ toolsListChanged: true });
        server.toolsChanged();
        await withTimeout(changed, 5000, 'tools/list_changed did not arrive');
        await subscription.close();
      });
    });

    describe('legacy (2025 sessions)', () => {
      it('initializes a session stored in DynamoDB and serves tools with session state', async () => {
        const { client, transport } = await legacy();
        assert.match(transport.sessionId!, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(client.getServerVersion()?.name, 'notes');
        assert.deepEqual(
          (await client.listTools()).tools.map((t) => t.name),
          notes.tools.map((t) => t.name),
        );
        await client.callTool({ name: 'note_add', arguments: { text: 'in the session' } });
        assert.equal(text(await client.callTool({ name: 'note_list', arguments: {} })), '1. in the session');
      });

      it('streams progress and forwards logs after logging/setLevel', async () => {
        const { client } = await legacy();
        const logs: unknown[] = [];
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
        await client.setLoggingLevel('info');
        const seen: number[] = [];
        await client.callTool({ name: 'word_stats', arguments: { text: 'w '.repeat(2500) } }, undefined, { onprogress: (p) => seen.push(p.progress) });
        assert.deepEqual(seen, [1, 2, 3]);
        const logged = () => logs.some((l) => (l as { data: { message: string } }).data.message === 'note added');
        await client.callTool({ name: 'note_add', arguments: { text: 'logged' } });
        if (label === 'Node server') assert.ok(logged(), `got ${JSON.stringify(logs)}`);
        else {
          // Another environment may hold the session cached from before setLevel: it learns the level
          // when its copy lapses (MCP_SESSION_CACHE_MS, 2 s), so calls log within that bound.
          const deadline = Date.now() + 2_000 + 3_000;
          while (!logged() && Date.now() < deadline) await client.callTool({ name: 'note_add', arguments: { text: 'logged' } });
          assert.ok(logged(), `no call logged within the session cache bound; got ${JSON.stringify(logs)}`);
        }
      });

      it('turns input_required into a real elicitation request, whichever instance the answer reaches', async () => {
        const { client } = await legacy(true);
        await client.callTool({ name: 'note_add', arguments: { text: 'x' } });
        assert.equal(text(await client.callTool({ name: 'notebook_clear', arguments: {} })), 'Cleared session notebook.');
        const declined = await legacy(false);
        await declined.client.callTool({ name: 'note_add', arguments: { text: 'kept' } });
        assert.equal(text(await declined.client.callTool({ name: 'notebook_clear', arguments: {} })), 'Nothing deleted.');
        assert.equal(text(await declined.client.callTool({ name: 'note_list', arguments: {} })), '1. kept');
      });

      it('sends list-changed notifications on the GET stream', async () => {
        const { client } = await legacy();
        const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
        // The client opens its GET stream after initialize; give it a moment to be listening.
        await waitFor(async () => {
          server.toolsChanged();
          return Promise.race([changed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 100))]);
        });
      });

      it('DELETE terminates the session; the id then answers 404', async () => {
        const { transport } = await legacy();
        const id = transport.sessionId!;
        await transport.terminateSession();
        const res = await post({ jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
        assert.equal(res.status, 404);
        assert.match(((await res.json()) as { error: { message: string } }).error.message, /Session not found/);
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
      return fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...server.auth, ...headers },
        body: JSON.stringify(body),
      });
    }
  });

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(check: () => Promise<boolean>, attempts = 30) {
  for (let i = 0; i < attempts; i++) if (await check()) return;
  assert.fail('condition not met in time');
}
