// A cached result must not hand a caller a link it cannot read. Artifacts (a tool's own, or an
// offloaded result) belong to the caller that made them, so a result linking one is never cached
// where another principal (shared scope), or another session of the same principal, would get it.
// Two principals by API key, real DynamoDB and S3 emulators, the in-process cache.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { ToolCache } from '../../shared/cache/tool-cache.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const runs: Record<string, number> = {};
const cacheable = { readOnlyHint: true, idempotentHint: true };
const counted = (name: string) => (runs[name] = (runs[name] ?? 0) + 1);

const server = defineServer({
  name: 'cache-links',
  version: '1.0.0',
  tools: [
    tool(
      'shared_plain',
      { description: 'Shared, no link', input: z.object({}), annotations: cacheable, cache: { ttlSeconds: 60, scope: 'shared' } },
      () => `plain #${counted('shared_plain')}`,
    ),
    tool(
      'shared_export',
      { description: 'Shared, links an artifact it writes', input: z.object({}), annotations: cacheable, cache: { ttlSeconds: 60, scope: 'shared' } },
      async (_args, ctx) => ({ content: [await ctx.artifacts.put('export.txt', `export #${counted('shared_export')}`, { contentType: 'text/plain' })] }),
    ),
    tool(
      'shared_big',
      { description: 'Shared, offloaded (over 1 MiB)', input: z.object({}), annotations: cacheable, cache: { ttlSeconds: 60, scope: 'shared' } },
      () => `big #${counted('shared_big')} ${'x'.repeat(1_100_000)}`,
    ),
    tool(
      'mine_export',
      { description: 'Per principal, links an artifact it writes', input: z.object({}), annotations: cacheable, cache: { ttlSeconds: 60, scope: 'principal' } },
      async (_args, ctx) => ({ content: [await ctx.artifacts.put('mine.txt', `mine #${counted('mine_export')}`, { contentType: 'text/plain' })] }),
    ),
  ],
});

const MODERN = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'cache-links', version: '1' },
};
type Content = { type: string; text?: string; uri?: string };
type Answer = { result?: { content?: Content[]; contents?: { text?: string }[] }; error?: { code: number; message: string } };

describe('cached results and artifact links', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  let alice: string;
  let bob: string;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 0 });
    alice = (await keys.create({ principalId: 'alice' })).key;
    bob = (await keys.create({ principalId: 'bob' })).key;
    kit = await startInProcess(server, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_REQUEST_STATE_KEY: 'cache-links-request-state-key-0123456789',
    });
  });
  after(async () => {
    await kit?.stop();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  async function post(key: string, body: object, headers: Record<string, string>): Promise<{ headers: Headers; body: Answer }> {
    const res = await fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }),
    });
    return { headers: res.headers, body: (await res.json()) as Answer };
  }

  /** A 2026-07-28 caller: its artifacts belong to the principal. */
  const modern = (key: string) => ({
    call: async (name: string) =>
      (
        await post(
          key,
          { method: 'tools/call', params: { name, arguments: {}, _meta: MODERN } },
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
        )
      ).body,
    read: async (uri: string) =>
      (
        await post(
          key,
          { method: 'resources/read', params: { uri, _meta: MODERN } },
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': uri },
        )
      ).body,
  });

  /** A 2025-06-18 session: its artifacts belong to the principal and the session. */
  async function session(key: string) {
    const init = await post(
      key,
      { method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cache-links', version: '1' } } },
      {},
    );
    const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    await post(key, { method: 'notifications/initialized' }, headers);
    return {
      call: async (name: string) => (await post(key, { method: 'tools/call', params: { name, arguments: {} } }, headers)).body,
      read: async (uri: string) => (await post(key, { method: 'resources/read', params: { uri } }, headers)).body,
    };
  }

  const linkOf = (a: Answer) => a.result!.content!.find((c) => c.type === 'resource_link')!.uri!;
  /** The cache write does not hold up the call that produced the result. */
  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('control: a shared entry without links serves every principal, the tool runs once', async () => {
    const first = await modern(alice).call('shared_plain');
    await settle();
    assert.deepEqual(await modern(bob).call('shared_plain'), first);
    assert.equal(runs.shared_plain, 1);
  });

  it('a shared tool that links its artifact runs for each principal, and each can read its link', async () => {
    const aliceLink = linkOf(await modern(alice).call('shared_export'));
    await settle();
    const bobLink = linkOf(await modern(bob).call('shared_export'));
    assert.equal(runs.shared_export, 2);
    assert.notEqual(bobLink, aliceLink);
    assert.equal((await modern(bob).read(bobLink)).result?.contents?.[0]?.text, 'export #2');
    // What a cached entry would have given bob:
    assert.match((await modern(bob).read(aliceLink)).error?.message ?? '', /not found/i);
  });

  it('an offloaded shared result runs for each principal, and each can read its link', async () => {
    const aliceLink = linkOf(await modern(alice).call('shared_big'));
    await settle();
    const bobLink = linkOf(await modern(bob).call('shared_big'));
    assert.equal(runs.shared_big, 2);
    const full = JSON.parse((await modern(bob).read(bobLink)).result!.contents![0]!.text!);
    assert.match(full.content[0].text, /^big #2 x/);
    assert.notEqual(bobLink, aliceLink);
  });

  it("a principal's entry never hands one session a link to another session's artifact", async () => {
    const [one, two] = [await session(alice), await session(alice)];
    const firstLink = linkOf(await one.call('mine_export'));
    await settle();
    const secondLink = linkOf(await two.call('mine_export'));
    assert.equal(runs.mine_export, 2);
    assert.equal((await two.read(secondLink)).result?.contents?.[0]?.text, 'mine #2');
    assert.notEqual(secondLink, firstLink);
  });

  it("control: a principal's entry linking a principal-owned artifact is cached and readable again", async () => {
    const before = runs.mine_export ?? 0;
    const first = await modern(alice).call('mine_export');
    await settle();
    assert.deepEqual(await modern(alice).call('mine_export'), first);
    assert.equal(runs.mine_export, before + 1);
    assert.equal((await modern(alice).read(linkOf(first))).result?.contents?.[0]?.text, `mine #${before + 1}`);
  });

  it('the cache itself refuses such entries, whatever stores them', async () => {
    const cache = new ToolCache('unit', undefined, { debug() {}, info() {}, warn() {}, error() {} } as never);
    const linked = { content: [{ type: 'text' as const, text: 'see artifact://p/AAAAAAAAAAAAAAAAAAAAAA/a.txt' }] };
    const sessionLinked = { content: [{ type: 'text' as const, text: 'see artifact://s/AAAAAAAAAAAAAAAAAAAAAA/a.txt' }] };
    const shared = cache.key('t', {}, { ttlSeconds: 60, scope: 'shared' }, 'alice');
    const mine = cache.key('t', {}, { ttlSeconds: 60 }, 'alice');
    await cache.set(shared, linked, 60);
    assert.equal(await cache.get(shared), undefined);
    await cache.set(mine, sessionLinked, 60);
    assert.equal(await cache.get(mine), undefined);
    await cache.set(mine, linked, 60);
    assert.deepEqual(await cache.get(mine), linked);
  });
});
