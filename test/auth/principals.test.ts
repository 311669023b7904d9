// Principal binding with real API keys: sessions, state handles, artifacts, private cache
// entries and MRTR request state belong to the principal that created them; another principal
// presenting the id gets exactly the answer given for an unknown id.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import notes from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

let executions = 0;
const server = defineServer({
  ...notes,
  tools: [
    ...notes.tools,
    tool(
      'profile',
      {
        description: 'A per-caller cached lookup',
        input: z.object({ q: z.string() }),
        annotations: { readOnlyHint: true, idempotentHint: true },
        cache: { ttlSeconds: 60, scope: 'principal' },
      },
      ({ q }) => `profile ${q} #${++executions}`,
    ),
    tool('admin_reset', { description: 'Needs the admin scope', scopes: ['notes:admin'] }, () => 'reset'),
  ],
});

const MODERN = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
  'io.modelcontextprotocol/clientInfo': { name: 'principals', version: '1' },
};
type Answer = { status: number; headers: Headers; body: { result?: Record<string, unknown> & { content?: { type: string; text?: string; uri?: string }[] }; error?: { code: number; message: string } } };

describe('principal binding', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  let alice: string;
  let bob: string;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 0 });
    alice = (await keys.create({ principalId: 'alice', scopes: ['notes:admin'] })).key;
    bob = (await keys.create({ principalId: 'bob' })).key;
    kit = await startInProcess(server, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_REQUEST_STATE_KEY: 'principals-request-state-key-0123456789',
    });
  });
  after(async () => {
    await kit?.stop();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  async function post(key: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(key && { authorization: `Bearer ${key}` }), ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }
  const call = (key: string, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    post(key, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, ...extra, _meta: MODERN } }, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
    });
  const read = (key: string, uri: string) =>
    post(key, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri, _meta: MODERN } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': uri });
  const textOf = (a: Answer) => a.body.result?.content?.[0]?.text;

  it('refuses a request without credentials, naming how to send them', async () => {
    const res = await post(undefined, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
    assert.match(res.body.error!.message, /send an API key as "Authorization: Bearer <token>"/);
    const viaHeader = await fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': alice, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN } }),
    });
    assert.equal(viaHeader.status, 200);
  });

  it("another principal's session id answers like an unknown one", async () => {
    const init = await post(alice, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } } });
    const sessionId = init.headers.get('mcp-session-id')!;
    const headers = (id: string) => ({ 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });
    assert.equal((await post(alice, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers(sessionId))).status, 200);
    const stolen = await post(bob, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers(sessionId));
    const unknown = await post(bob, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers('no-such-session'));
    assert.equal(stolen.status, 404);
    assert.deepEqual(stolen.body, unknown.body);
  });

  it("another principal's state handle answers like an unknown one", async () => {
    const added = await call(alice, 'note_add', { text: 'secret' });
    const handle = (added.body.result!.structuredContent as { notebook: string }).notebook;
    assert.equal(textOf(await call(alice, 'note_list', { notebook: handle })), '1. secret');
    const stolen = await call(bob, 'note_list', { notebook: handle });
    const unknown = await call(bob, 'note_list', { notebook: 'h_' + 'A'.repeat(43) });
    assert.equal(stolen.body.result!.isError, true);
    assert.equal(textOf(stolen)!.replace(handle, 'H'), textOf(unknown)!.replace('h_' + 'A'.repeat(43), 'H'));
  });

  it("another principal's artifact answers like a missing one", async () => {
    const exported = await call(alice, 'notebook_export', {});
    const link = exported.body.result!.content!.find((c) => c.type === 'resource_link')!;
    assert.equal((await read(alice, link.uri!)).status, 200);
    const stolen = await read(bob, link.uri!);
    const missing = await read(bob, link.uri!.replace(/\/p\/[^/]+\//, '/p/AAAAAAAAAAAAAAAAAAAAAA/'));
    assert.equal(stolen.body.error!.code, missing.body.error!.code);
    assert.match(stolen.body.error!.message, /not found/i);
  });

  it('private cache entries are per principal', async () => {
    const before = executions;
    assert.equal(textOf(await call(alice, 'profile', { q: 'x' })), `profile x #${before + 1}`);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(textOf(await call(alice, 'profile', { q: 'x' })), `profile x #${before + 1}`, 'a hit for alice');
    assert.equal(textOf(await call(bob, 'profile', { q: 'x' })), `profile x #${before + 2}`, 'bob does not see alice’s entry');
  });

  it("a requestState minted for one principal is refused for another", async () => {
    const added = await call(alice, 'note_add', { text: 'to clear' });
    const notebook = (added.body.result!.structuredContent as { notebook: string }).notebook;
    const asked = await call(alice, 'notebook_clear', { notebook });
    const requestState = asked.body.result!.requestState as string;
    const answer = { inputResponses: { confirm: { action: 'accept', content: { confirm: true } } }, requestState };
    const replayed = await call(bob, 'notebook_clear', {}, answer);
    assert.equal(replayed.body.error?.code, -32602);
    assert.match(replayed.body.error!.message, /requestState/);
  });

  it('a tool that needs a scope refuses callers without it (403 insufficient_scope)', async () => {
    assert.equal(textOf(await call(alice, 'admin_reset', {})), 'reset');
    const refused = await call(bob, 'admin_reset', {});
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get('www-authenticate')!, /error="insufficient_scope".*scope="notes:admin"/);
    assert.match(refused.body.error!.message, /needs the scope notes:admin/);
  });
});
