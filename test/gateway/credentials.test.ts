// Who the gateway is to upstreams it reaches as itself (`identity: gateway`), and who may reach
// which upstream through it. The gateway authenticates there with its own credentials (an API key,
// or OAuth client credentials against a real authorization server), never with its caller's;
// which callers reach an upstream is decided by principal and scope, and what a caller may not
// reach it does not see, nor is told of. (On-behalf-of identity: identity.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import notes from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { serveApp } from '../../shared/adapters/node.ts';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.ts';
import { legacyCaller, modernCaller, startDataPlane, startGateway, startUpstream, text, type RunningGateway } from '../helpers/gateway.ts';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.ts';
import { QUIET } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

describe('gateway credentials and access', () => {
  let gateway: RunningGateway;
  let keyed: FaultyProxy;
  let as: OAuthServer;
  const keys: Record<'gateway' | 'alice' | 'bob' | 'admin', string> = { gateway: '', alice: '', bob: '', admin: '' };
  let stopAll: () => Promise<void>;

  before(async () => {
    const plane = await startDataPlane();
    const store = new ApiKeyStore(
      new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: plane.env.AWS_ENDPOINT_URL_DYNAMODB }), 'mcp-kit'),
      { cacheSeconds: 30 },
    );
    keys.gateway = (await store.create({ principalId: 'gateway' })).key;
    keys.alice = (await store.create({ principalId: 'alice', scopes: ['gateway:echo'] })).key;
    keys.bob = (await store.create({ principalId: 'bob' })).key;
    keys.admin = (await store.create({ principalId: 'ops', scopes: ['gateway:admin'] })).key;

    // notes taking API keys, behind a proxy that records the credentials it is sent.
    const keyedServer = await startUpstream(notes, plane, { MCP_AUTH_MODE: 'apikey' });
    keyed = await startFaultyProxy(keyedServer.url);
    // notes as an OAuth resource server: its URL is the token audience, so it is chosen first.
    const port = await freePort();
    const oauthUrl = `http://127.0.0.1:${port}/mcp`;
    as = await startOAuthServer({ audience: oauthUrl });
    const oauthKit = createKit(
      notes,
      loadConfig({ ...QUIET, AWS_REGION: 'us-east-1', ...plane.env, MCP_AUTH_MODE: 'oauth', MCP_OAUTH_ISSUER: as.issuer, MCP_PUBLIC_URL: oauthUrl }),
    );
    const oauthServed = await serveApp(oauthKit.app, { port, host: '127.0.0.1' });
    const registered = (await (
      await fetch(`${as.issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'gateway', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }),
      })
    ).json()) as { client_id: string; client_secret: string };
    const echoServer = await startUpstream(echo, plane);

    const asGateway = { identity: 'gateway', shareIdentity: true };
    gateway = await startGateway(
      {
        upstreams: {
          keyed: { url: keyed.url, ...asGateway, auth: { apiKeyVariable: 'GATEWAY_NOTES_KEY' } },
          nokey: { url: keyed.url, ...asGateway },
          oauthed: { url: oauthUrl, ...asGateway, auth: { clientId: registered.client_id, clientSecretVariable: 'GATEWAY_OAUTH_SECRET', issuer: as.issuer } },
          open: { url: echoServer.url, access: { scopes: ['gateway:echo'] } },
          mine: { url: echoServer.url, access: { principals: ['apikey:bob'] } },
        },
      },
      plane,
      { MCP_AUTH_MODE: 'apikey', GATEWAY_NOTES_KEY: keys.gateway, GATEWAY_OAUTH_SECRET: registered.client_secret },
    );
    stopAll = async () => {
      await gateway.stop();
      await keyed.close();
      await oauthServed.close();
      await oauthKit.close();
      await as.close();
      await Promise.all([keyedServer.stop(), echoServer.stop()]);
      await plane.stop();
    };
  });
  after(() => stopAll());

  const as_ = (who: 'alice' | 'bob' | 'admin') => ({ headers: { authorization: `Bearer ${keys[who]}` } });

  it("calls an upstream with its own API key, never with the caller's", async () => {
    for (const caller of [await modernCaller(gateway.url, as_('alice')), await legacyCaller(gateway.url, as_('alice'))]) {
      keyed.credentials.length = 0;
      assert.match(text(await caller.callTool({ name: 'keyed__note_add', arguments: { text: 'from alice' } })), /^Added note 1/);
      assert.ok(keyed.credentials.length > 0);
      assert.deepEqual([...new Set(keyed.credentials)], [`Bearer ${keys.gateway}`]);
      await caller.close();
    }
  });

  it('gets a token with OAuth client credentials and calls with it', async () => {
    const caller = await modernCaller(gateway.url, as_('alice'));
    assert.equal(text(await caller.callTool({ name: 'oauthed__echo', arguments: { text: 'with a token' } })), 'with a token');
    assert.ok(as.log.includes('grant client_credentials'), as.log.join('; '));
    await caller.close();
  });

  it('says so when an upstream refuses the gateway (no credentials configured)', async () => {
    const caller = await modernCaller(gateway.url, as_('alice'));
    const result = await caller.callTool({ name: 'nokey__echo', arguments: { text: 'x' } });
    assert.equal(result.isError, true);
    assert.match(text(result), /^upstream "nokey": credentials refused \(401\)/);
    await caller.close();
  });

  it('lists and routes to an upstream only for the callers it is open to', async () => {
    const alice = await modernCaller(gateway.url, as_('alice'));
    const bob = await modernCaller(gateway.url, as_('bob'));
    // The echo tool of each upstream stands for all of them.
    const listed = async (c: typeof alice) =>
      (await c.listTools()).tools.map((t) => t.name).filter((n) => n.endsWith('__echo') && (n.startsWith('open__') || n.startsWith('mine__')));
    assert.deepEqual(await listed(alice), ['open__echo']);
    assert.deepEqual(await listed(bob), ['mine__echo']);
    assert.equal(text(await alice.callTool({ name: 'open__echo', arguments: { text: 'in' } })), 'in');
    // To a caller, an upstream it may not use does not exist: the error names only its own.
    const refusal = (c: typeof alice, name: string) =>
      c.callTool({ name, arguments: { text: 'x' } }).then(
        () => 'served',
        (err: Error) => err.message,
      );
    assert.match(await refusal(bob, 'open__echo'), /Unknown tool "open__echo": no upstream is named "open" \(upstreams: keyed, nokey, oauthed, mine\)/);
    assert.match(await refusal(alice, 'mine__echo'), /Unknown tool "mine__echo": no upstream is named "mine" \(upstreams: keyed, nokey, oauthed, open\)/);
    const unprefixed = await refusal(alice, 'echo');
    assert.match(unprefixed, /did you mean /);
    assert.doesNotMatch(unprefixed, /mine__echo/);
    const read = await alice.readResource({ uri: 'mine+notes://x' }).then(
      () => 'served',
      (err: Error) => err.message,
    );
    assert.match(read, /Resource not found: mine\+notes:\/\/x \(resources behind this gateway are <upstream>\+<uri>; upstreams: keyed, nokey, oauthed, open\)/);
    for (const message of [await refusal(bob, 'open__echo'), await refusal(alice, 'mine__echo'), read]) assert.doesNotMatch(message, /apikey:|scope/);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('tells anyone how many upstreams are in which state, and names them only to an admin', async () => {
    const ready = async (headers: Record<string, string> = {}) =>
      (await (await fetch(`${new URL(gateway.url).origin}/health?ready`, { headers })).json()) as { upstreams: Record<string, unknown> };
    const counts = (await ready()).upstreams;
    assert.equal(counts.total, 5);
    assert.deepEqual(Object.keys(counts).sort(), ['circuit open', 'ok', 'total', 'unavailable']);
    // A caller without the admin scope sees the same counts.
    assert.deepEqual(Object.keys((await ready(as_('alice').headers)).upstreams).sort(), ['circuit open', 'ok', 'total', 'unavailable']);
    const detail = (await ready(as_('admin').headers)).upstreams;
    assert.deepEqual(Object.keys(detail).sort(), ['keyed', 'mine', 'nokey', 'oauthed', 'open']);
    assert.equal((detail.open as { status: string }).status, 'ok');
  });
});
