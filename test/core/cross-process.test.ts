// Two server processes (started as `npm start` starts one) sharing one DynamoDB emulator: a
// legacy session minted on A is served by B and terminated through B; an MRTR retry answered by
// a different instance than the one that asked is accepted with the shared signing key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startChild, startTestDynamo, type ChildServer } from '../helpers/server.ts';

const CACHE_MS = 300;
const KEY = 'shared-request-state-key-0123456789abcdef';

describe('sessions and MRTR across processes', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let a: ChildServer;
  let b: ChildServer;

  before(async () => {
    dynamo = await startTestDynamo();
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      // S3 and Redis are not part of this test; point them somewhere unused so no emulator starts.
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
      MCP_SESSION_CACHE_MS: String(CACHE_MS),
      MCP_REQUEST_STATE_KEY: KEY,
    };
    [a, b] = await Promise.all([startChild(env), startChild(env)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await dynamo?.stop();
  });

  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  it('initialize on A, call tools on B, DELETE on B, then A answers 404', async () => {
    const client = new LegacyClient({ name: 'cross', version: '1.0.0' });
    const onA = new LegacyTransport(new URL(a.url));
    await client.connect(onA);
    const sessionId = onA.sessionId!;
    const protocolVersion = onA.protocolVersion!;
    // A warms its session cache with a call of its own.
    await client.callTool({ name: 'note_add', arguments: { text: 'written through A' } });
    await client.close();

    const onB = new LegacyTransport(new URL(b.url), { sessionId });
    const clientB = new LegacyClient({ name: 'cross', version: '1.0.0' });
    // Reconnecting with a preserved session id skips initialize, like a client whose next request
    // lands on another Lambda instance.
    await clientB.connect(onB);
    onB.setProtocolVersion(protocolVersion);
    const listed = await clientB.callTool({ name: 'note_list', arguments: {} });
    assert.equal((listed.content as { text: string }[])[0]!.text, '1. written through A');

    await onB.terminateSession();
    const afterDelete = await fetch(b.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(afterDelete.status, 404);

    // A may trust its cached copy for MCP_SESSION_CACHE_MS; after that it must see the deletion.
    await new Promise((r) => setTimeout(r, CACHE_MS + 50));
    const onAAgain = await fetch(a.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    assert.equal(onAAgain.status, 404);
    const body = (await onAAgain.json()) as { error: { code: number; message: string } };
    assert.match(body.error.message, /Session not found/);
    await clientB.close();
  });

  it('an MRTR retry may land on another instance', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    };
    const call = (url: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      fetch(url, {
        method: 'POST',
        headers: { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': String(args.name) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { ...args, ...extra, _meta: meta } }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { result?: Record<string, unknown>; error?: { code: number; message: string } } }));

    const added = await call(a.url, { name: 'note_add', arguments: { text: 'to clear' } });
    const notebook = (added.body.result!.structuredContent as { notebook: string }).notebook;
    const asked = await call(a.url, { name: 'notebook_clear', arguments: { notebook } });
    assert.equal(asked.body.result!.resultType, 'input_required');
    const requestState = asked.body.result!.requestState as string;
    assert.ok(requestState);

    const answered = await call(
      b.url,
      { name: 'notebook_clear', arguments: { notebook } },
      {
        inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        requestState,
      },
    );
    assert.equal(answered.body.result!.resultType, 'complete');
    assert.match((answered.body.result!.content as { text: string }[])[0]!.text, /^Cleared h_/);

    const forged = await call(
      b.url,
      { name: 'notebook_clear', arguments: { notebook } },
      {
        inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        requestState: `${requestState.slice(0, -4)}AAAA`,
      },
    );
    assert.equal(forged.body.error?.code, -32602);
    assert.match(forged.body.error!.message, /requestState/);
  });
});
