// Principal binding: sessions, state handles, artifacts, private cache entries and MRTR request
// state belong to the principal that created them; another principal presenting the id gets
// exactly the answer given for an unknown id. Callers come with real API keys, real tokens of a
// local authorization server, or none at all (an open server on the same data plane), so ids of
// different auth methods are tried against each other too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import notes from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.ts';
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
    tool('whoami', { description: 'The principal id the kit sees', input: z.object({}) }, (_args, ctx) => ctx.principal.id),
  ],
});

/** The authenticated server's public URL: the audience of the tokens it accepts. */
const PUBLIC_URL = 'https://principals.example/mcp';
const REQUEST_STATE_KEY = 'principals-request-state-key-0123456789';
const MODERN = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
  'io.modelcontextprotocol/clientInfo': { name: 'principals', version: '1' },
};
type Answer = {
  status: number;
  headers: Headers;
  body: { result?: Record<string, unknown> & { content?: { type: string; text?: string; uri?: string }[] }; error?: { code: number; message: string } };
};

/** What a client could tell apart: status, content type and body, with the id it asked about blanked out. */
const whole = (answer: Answer, id: string) => ({
  status: answer.status,
  contentType: answer.headers.get('content-type'),
  body: JSON.stringify(answer.body).replaceAll(id, '<id>'),
});

describe('principal binding', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let as: OAuthServer;
  /** Accepts API keys and tokens of `as`. */
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  /** The same server on the same data plane, with auth none: its callers are `anonymous`. */
  let open: Awaited<ReturnType<typeof startInProcess>>;
  let keys: ApiKeyStore;
  let alice: string;
  let bob: string;

  before(async () => {
    [dynamo, s3, as] = await Promise.all([startTestDynamo(), startTestS3(), startOAuthServer({ audience: PUBLIC_URL })]);
    keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 0 });
    alice = (await keys.create({ principalId: 'alice', scopes: ['notes:admin'] })).key;
    bob = (await keys.create({ principalId: 'bob' })).key;
    const dataPlane = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, MCP_REQUEST_STATE_KEY: REQUEST_STATE_KEY };
    [kit, open] = await Promise.all([
      startInProcess(server, { ...dataPlane, MCP_AUTH_MODE: 'oauth,apikey', MCP_OAUTH_ISSUER: as.issuer, MCP_PUBLIC_URL: PUBLIC_URL }),
      startInProcess(server, { ...dataPlane, MCP_AUTH_MODE: 'none' }),
    ]);
  });
  after(async () => {
    await Promise.all([kit?.stop(), open?.stop()]);
    await Promise.all([dynamo?.stop(), s3?.stop(), as?.close()]);
  });

  /** A POST to `url` (default: the authenticated server) with `credential` (an API key or a token) as Bearer. */
  async function post(credential: string | undefined, body: unknown, headers: Record<string, string> = {}, url = kit.url): Promise<Answer> {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(credential && { authorization: `Bearer ${credential}` }),
        ...headers,
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }
  const call = (credential: string | undefined, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}, url = kit.url) =>
    post(
      credential,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, ...extra, _meta: MODERN } },
      {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': name,
      },
      url,
    );
  const read = (credential: string | undefined, uri: string, url = kit.url) =>
    post(
      credential,
      { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri, _meta: MODERN } },
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': uri },
      url,
    );
  const initialize = async (credential: string | undefined, url = kit.url) => {
    const init = await post(
      credential,
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } } },
      {},
      url,
    );
    assert.equal(init.status, 200, JSON.stringify(init.body));
    return init.headers.get('mcp-session-id')!;
  };
  const inSession = (credential: string | undefined, sessionId: string, url = kit.url) =>
    post(credential, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, url);
  const textOf = (a: Answer) => a.body.result?.content?.[0]?.text;
  const handleOf = (a: Answer) => (a.body.result!.structuredContent as { notebook: string }).notebook;
  const linkOf = (a: Answer) => a.body.result!.content!.find((c) => c.type === 'resource_link')!.uri!;

  const UNKNOWN_SESSION = 'no-such-session';
  const UNKNOWN_HANDLE = `h_${'A'.repeat(43)}`;
  /** An artifact URI of the same shape whose object does not exist. */
  const missing = (uri: string) => uri.replace(/\/[A-Za-z0-9_-]{22}\//, `/${'A'.repeat(22)}/`);

  it('refuses a request without credentials, naming how to send them', async () => {
    const res = await post(
      undefined,
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN } },
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    );
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
    assert.match(res.body.error!.message, /send an OAuth access token as "Authorization: Bearer <token>" \(API keys also as "x-api-key"\)/);
    const viaHeader = await fetch(kit.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': alice, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN } }),
    });
    assert.equal(viaHeader.status, 200);
  });

  it("another principal's session id answers exactly like an unknown one", async () => {
    const sessionId = await initialize(alice);
    assert.equal((await inSession(alice, sessionId)).status, 200);
    const stolen = await inSession(bob, sessionId);
    assert.equal(stolen.status, 404);
    assert.deepEqual(whole(stolen, sessionId), whole(await inSession(bob, UNKNOWN_SESSION), UNKNOWN_SESSION));
  });

  it("another principal's state handle answers exactly like an unknown one", async () => {
    const handle = handleOf(await call(alice, 'note_add', { text: 'secret' }));
    assert.equal(textOf(await call(alice, 'note_list', { notebook: handle })), '1. secret');
    const stolen = await call(bob, 'note_list', { notebook: handle });
    assert.equal(stolen.body.result!.isError, true);
    assert.deepEqual(whole(stolen, handle), whole(await call(bob, 'note_list', { notebook: UNKNOWN_HANDLE }), UNKNOWN_HANDLE));
  });

  it("another principal's artifact answers exactly like a missing one", async () => {
    const uri = linkOf(await call(alice, 'notebook_export', {}));
    assert.equal((await read(alice, uri)).status, 200);
    const stolen = await read(bob, uri);
    assert.match(stolen.body.error!.message, /not found/i);
    assert.deepEqual(whole(stolen, uri), whole(await read(bob, missing(uri)), missing(uri)));
  });

  it('private cache entries are per principal', async () => {
    const before = executions;
    assert.equal(textOf(await call(alice, 'profile', { q: 'x' })), `profile x #${before + 1}`);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(textOf(await call(alice, 'profile', { q: 'x' })), `profile x #${before + 1}`, 'a hit for alice');
    assert.equal(textOf(await call(bob, 'profile', { q: 'x' })), `profile x #${before + 2}`, 'bob does not see alice’s entry');
  });

  it('a requestState minted for one principal is refused for another, exactly like a forged one', async () => {
    const added = await call(alice, 'note_add', { text: 'to clear' });
    const notebook = (added.body.result!.structuredContent as { notebook: string }).notebook;
    const asked = await call(alice, 'notebook_clear', { notebook });
    const requestState = asked.body.result!.requestState as string;
    const accept = { confirm: { action: 'accept', content: { confirm: true } } };
    // The same call, arguments and answer as alice's; only the caller differs.
    const replayed = await call(bob, 'notebook_clear', { notebook }, { inputResponses: accept, requestState });
    assert.equal(replayed.body.error?.code, -32602);
    assert.match(replayed.body.error!.message, /requestState/);
    const forged = `${requestState.slice(0, -4)}AAAA`;
    assert.deepEqual(
      whole(replayed, requestState),
      whole(await call(bob, 'notebook_clear', { notebook }, { inputResponses: accept, requestState: forged }), forged),
    );
    assert.equal(textOf(await call(alice, 'note_list', { notebook })), '1. to clear', 'nothing was cleared');
    // Control: alice sending exactly that answer clears her notebook.
    assert.equal(textOf(await call(alice, 'notebook_clear', { notebook }, { inputResponses: accept, requestState })), `Cleared ${notebook}.`);
  });

  it('a tool that needs a scope refuses callers without it (403 insufficient_scope)', async () => {
    assert.equal(textOf(await call(alice, 'admin_reset', {})), 'reset');
    const refused = await call(bob, 'admin_reset', {});
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get('www-authenticate')!, /error="insufficient_scope".*scope="notes:admin"/);
    assert.match(refused.body.error!.message, /needs the scope notes:admin/);
  });

  describe('ids across auth methods', () => {
    it('say how the caller authenticated, and stay the same across key rotation and a new token', async () => {
      const rotated = (await keys.create({ principalId: 'alice' })).key;
      assert.equal(textOf(await call(alice, 'whoami', {})), 'apikey:alice');
      assert.equal(textOf(await call(rotated, 'whoami', {})), 'apikey:alice');
      assert.equal(textOf(await call(await as.mint({ sub: 'carol' }), 'whoami', {})), `oauth:${as.issuer}#carol`);
      assert.equal(textOf(await call(undefined, 'whoami', {}, {}, open.url)), 'anonymous');

      // What one key or token created, the owner's next key or token reaches.
      const keySession = await initialize(alice);
      assert.equal((await inSession(rotated, keySession)).status, 200);
      const tokenSession = await initialize(await as.mint({ sub: 'carol' }));
      assert.equal((await inSession(await as.mint({ sub: 'carol' }), tokenSession)).status, 200);
    });

    it('a token whose sub is "anonymous" cannot reach what an unauthenticated caller created', async () => {
      // Created on the open server, by nobody in particular.
      const sessionId = await initialize(undefined, open.url);
      const handle = handleOf(await call(undefined, 'note_add', { text: 'left open' }, {}, open.url));
      const uri = linkOf(await call(undefined, 'notebook_export', {}, {}, open.url));

      // Control: the same requests with only the auth changed (no credentials, on the server with
      // auth none) reach all three, so the data plane itself does not keep them apart.
      assert.equal((await inSession(undefined, sessionId, open.url)).status, 200);
      assert.equal(textOf(await call(undefined, 'note_list', { notebook: handle }, {}, open.url)), '1. left open');
      assert.equal((await read(undefined, uri, open.url)).status, 200);

      const token = await as.mint({ sub: 'anonymous' });
      assert.deepEqual(whole(await inSession(token, sessionId), sessionId), whole(await inSession(token, UNKNOWN_SESSION), UNKNOWN_SESSION));
      assert.deepEqual(
        whole(await call(token, 'note_list', { notebook: handle }), handle),
        whole(await call(token, 'note_list', { notebook: UNKNOWN_HANDLE }), UNKNOWN_HANDLE),
      );
      assert.deepEqual(whole(await read(token, uri), uri), whole(await read(token, missing(uri)), missing(uri)));
      assert.equal(textOf(await call(token, 'whoami', {})), `oauth:${as.issuer}#anonymous`);
    });

    it("an API key whose owner is named like an OAuth subject cannot reach the OAuth user's session, nor the reverse", async () => {
      const carol = await as.mint({ sub: 'carol' });
      const carolSession = await initialize(carol);
      assert.equal((await inSession(carol, carolSession)).status, 200, 'control: carol reaches her session');
      for (const owner of ['carol', `oauth:${as.issuer}#carol`]) {
        const key = (await keys.create({ principalId: owner })).key;
        const stolen = await inSession(key, carolSession);
        assert.deepEqual(whole(stolen, carolSession), whole(await inSession(key, UNKNOWN_SESSION), UNKNOWN_SESSION), `key owner ${owner}`);
      }

      const aliceSession = await initialize(alice);
      assert.equal((await inSession(alice, aliceSession)).status, 200, 'control: alice reaches her session');
      for (const sub of ['alice', 'apikey:alice']) {
        const token = await as.mint({ sub });
        const stolen = await inSession(token, aliceSession);
        assert.deepEqual(whole(stolen, aliceSession), whole(await inSession(token, UNKNOWN_SESSION), UNKNOWN_SESSION), `token sub ${sub}`);
      }
    });
  });

  describe('principal ids are bounded (256 bytes) before anything is stored under them', () => {
    /** `sub` that makes a principal id of exactly `bytes` bytes with this issuer, ending in `last`. */
    const subOf = (bytes: number, last = 'x') => 'x'.repeat(bytes - Buffer.byteLength(`oauth:${as.issuer}#${last}`)) + last;

    const cases: [string, () => [over: string, under: string]][] = [
      ['a 5,000-character sub', () => ['x'.repeat(5000), subOf(256)]],
      ['one byte over', () => [subOf(257), subOf(256)]],
      // As many characters as an id of 256 one-byte characters, one of them two bytes long.
      ['multi-byte characters counted as bytes', () => [subOf(257, 'é'), subOf(256)]],
    ];
    for (const [label, subs] of cases) {
      it(`${label}: 401 invalid_token on initialize and on a call; the id at the limit is served`, async () => {
        const [over, under] = subs();
        assert.ok(Buffer.byteLength(`oauth:${as.issuer}#${over}`) > 256 && Buffer.byteLength(`oauth:${as.issuer}#${under}`) <= 256);
        const long = await as.mint({ sub: over });
        const init = await post(long, {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } },
        });
        const called = await call(long, 'note_add', { text: 'x' });
        for (const refused of [init, called]) {
          assert.equal(refused.status, 401, JSON.stringify(refused.body));
          assert.match(
            refused.headers.get('www-authenticate')!,
            /error="invalid_token", error_description="the token's \\"sub\\" claim is too long: .* at most 256 are accepted"/,
          );
          assert.match(
            refused.body.error!.message,
            /^Unauthorized: the token's "sub" claim is too long: the principal id it names is \d+ bytes long; at most 256 are accepted$/,
          );
          assert.doesNotMatch(JSON.stringify(refused.body), /hashkey|exceeded/i);
        }
        // Control: the same requests with a sub whose id is at the limit.
        const fits = await as.mint({ sub: under });
        await initialize(fits);
        assert.equal(textOf(await call(fits, 'whoami', {})), `oauth:${as.issuer}#${under}`);
        assert.match(textOf(await call(fits, 'note_add', { text: 'x' }))!, /^Added note 1/);
      });
    }

    it('an API key owner whose id would be over the limit is refused when the key is made', async () => {
      await assert.rejects(keys.create({ principalId: 'é'.repeat(125) }), /principalId: is too long: the principal id it names is 257 bytes long/);
      const key = (await keys.create({ principalId: `${'é'.repeat(124)}x` })).key;
      assert.equal(textOf(await call(key, 'whoami', {})), `apikey:${'é'.repeat(124)}x`);
    });
  });

  it("the notes example's word_stats caches per caller: another caller's identical text is counted afresh", async () => {
    /** How many progress notifications one word_stats call sent: none when the cache answered it. */
    async function progressOf(key: string, text: string) {
      const client = new ModernClient({ name: 'cache-scope', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await client.connect(new ModernTransport(new URL(kit.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      try {
        const seen: number[] = [];
        await client.callTool({ name: 'word_stats', arguments: { text } }, { onprogress: (p) => seen.push(p.progress) });
        return seen.length;
      } finally {
        await client.close();
      }
    }
    const text = `a private draft ${crypto.randomUUID()}`;
    assert.equal(await progressOf(alice, text), 1, 'counted for alice');
    assert.equal(await progressOf(alice, text), 0, 'control: alice asking again is a cache hit');
    assert.equal(await progressOf(bob, text), 1, 'bob is not answered from alice’s entry');
  });
});
