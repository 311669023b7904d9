// A 2025-era client (SDK 1.x) whose answers to server-to-client requests, and whose
// cancellations, land in another Lambda environment than the call they belong to: sampling,
// roots and elicitation complete, a cancelled tool's signal aborts within a second, and a deleted
// session is refused by every environment within a second. Once with Redis carrying the
// hand-over, once with only the table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { waitFor } from '../helpers/wait.ts';

const FIXTURE = 'test/fixtures/aws/round-trips.ts';
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

async function connect(path: AwsPath) {
  const client = new LegacyClient({ name: 'aws-round-trips', version: '1.0.0' }, { capabilities: { sampling: {}, roots: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-llm' }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
  const transport = new LegacyTransport(new URL(path.url), { requestInit: { headers: path.auth } });
  await client.connect(transport);
  return { client, transport };
}

/** Environments that served invocations since `from`. */
const environmentsSince = (path: AwsPath, from: number) => new Set(path.lambda.invocations.slice(from).map((i) => i.environment));

for (const relay of ['redis', 'table'] as const) {
  describe(`2025-era round trips across Lambda environments (relay: ${relay})`, () => {
    let path: AwsPath;
    before(async () => {
      path = await startAwsPath(FIXTURE, { MCP_SESSION_CACHE_MS: '60000' }, { concurrency: 6, redis: relay === 'redis', apiKey: { scopes: [] } });
    });
    after(() => path.stop());

    it('reports the relay it uses', async () => {
      const health = (await (await fetch(`${path.baseUrl}/health`)).json()) as { features: { relay: string } };
      assert.equal(health.features.relay, relay);
    });

    for (const [tool, args, expected] of [
      ['ask_llm', { question: 'Capital of France?' }, 'LLM said: Paris'],
      ['list_roots', {}, 'roots: file:///work/project'],
      ['confirm', {}, 'action=accept ok=true'],
    ] as const) {
      it(`${tool}: the client's answer reaches the waiting call from another environment`, async () => {
        const { client } = await connect(path);
        try {
          const from = path.lambda.invocations.length;
          const result = await client.callTool({ name: tool, arguments: args });
          assert.equal(text(result), expected);
          await waitFor('a second environment in the round trip', () => environmentsSince(path, from).size >= 2, 5000);
        } finally {
          await client.close();
        }
      });
    }

    it("a cancelled call's signal aborts within a second, though the cancellation lands elsewhere", async () => {
      const { client } = await connect(path);
      try {
        const controller = new AbortController();
        const calledAt = Date.now();
        const call = client.callTool({ name: 'wait', arguments: { ms: 30_000 } }, undefined, { signal: controller.signal });
        // Cancelled once the handler is waiting (its start is in session state), not after a guess.
        await waitFor('the wait to begin', async () => text(await client.callTool({ name: 'waiting_since', arguments: {} })) !== 'never', 10_000);
        const cancelledAt = Date.now();
        controller.abort('the user changed their mind');
        await assert.rejects(call);
        let recorded = 'never';
        await waitFor(
          'the handler to record the cancellation',
          async () => (recorded = text(await client.callTool({ name: 'cancelled_at', arguments: {} }))) !== 'never',
          5000,
        );
        const latency = Number(recorded) - cancelledAt;
        assert.ok(latency >= 0 && latency <= 1000, `the handler saw the cancellation after ${latency} ms`);
        // The cancelled call's invocation ended instead of running into the function timeout.
        await waitFor(
          "the cancelled call's invocation, ended",
          () =>
            path.lambda.invocations.some(
              (i) => i.startedAt >= calledAt && i.startedAt < cancelledAt && i.endedAt - cancelledAt < 1500 && i.endedAt > cancelledAt,
            ),
          5000,
        );
      } finally {
        await client.close();
      }
    });

    it("one session's consecutive calls are served by more than one environment", async () => {
      const { client } = await connect(path);
      try {
        // Overlapping calls leave several environments idle; Lambda picks among them in no order.
        await Promise.all([0, 1, 2].map(() => client.callTool({ name: 'wait', arguments: { ms: 300 } })));
        const from = Date.now();
        for (let i = 0; i < 12; i++) await client.listTools();
        const served = new Set(path.lambda.invocations.filter((i) => i.startedAt >= from && i.type === 'RequestResponse').map((i) => i.environment));
        const seed = path.logs().find((l) => l.includes('seed'));
        assert.ok(served.size >= 2, `12 calls in a row all ran in environment ${[...served]} (${seed})`);
      } finally {
        await client.close();
      }
    });

    if (relay === 'redis') {
      it('a session deleted through one environment is refused by every environment within a second', async () => {
        const { client, transport } = await connect(path);
        const sessionId = transport.sessionId!;
        // Each environment reads the session into its cache (60 s here).
        await Promise.all([0, 1, 2, 3].map(() => client.callTool({ name: 'wait', arguments: { ms: 300 } })));
        await transport.terminateSession();
        await new Promise((r) => setTimeout(r, 1000));
        const answers = await Promise.all(
          [0, 1, 2, 3].map(() =>
            fetch(path.url, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                ...path.auth,
                'mcp-session-id': sessionId,
                'mcp-protocol-version': '2025-11-25',
              },
              body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
            }).then((r) => r.status),
          ),
        );
        assert.deepEqual(answers, [404, 404, 404, 404]);
        await client.close().catch(() => {});
      });
    }
  });
}
