// Two callers of one gateway stay two principals upstream, with everything in this process. Alice
// and Bob call the gateway with API keys; the notes upstreams take API keys and trust the gateway
// (MCP_TRUSTED_GATEWAYS), so the gateway speaks for each of them with a signed assertion. The cases
// (test/helpers/gateway-identity.ts) are the ones deployed-identity.test.ts runs on the modelled
// deployed path; here, besides, the upstream sees the scopes the gateway forwards, and Alice calling
// notes directly is yet another principal. Then how an upstream refuses assertions it should not accept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { SignJWT, generateKeyPair } from 'jose';
import { z } from 'zod';
import notes from '../../functions/notes/server.ts';
import { fetchTransport } from '../../shared/client/transport.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { ASSERTION_TYPE } from '../../shared/auth/gateway-assertion.ts';
import { deriveGatewayKey } from '../../shared/auth/gateway-keys.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import {
  modernCaller,
  plainCaller,
  STATE_KEY,
  startDataPlane,
  startGateway,
  startUpstream,
  text,
  type PlainCaller,
  type RunningGateway,
} from '../helpers/gateway.ts';
import { twoCallerCases } from '../helpers/gateway-identity.ts';
import { startChild, startTestDynamo } from '../helpers/server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const TRUST = { MCP_TRUSTED_GATEWAYS: JSON.stringify({ gateway: { fromRequestStateKey: true } }) };

/** Who the upstream says is calling, and with which scopes. */
const whoami = defineServer({
  name: 'whoami',
  version: '1.0.0',
  tools: [
    tool('whoami', { description: 'The caller as this server sees it', input: z.object({}) }, (_args, ctx) =>
      JSON.stringify({ id: ctx.principal.id, scopes: ctx.principal.scopes }),
    ),
  ],
});

const handleOf = (result: unknown) => (result as { structuredContent: { notebook: string } }).structuredContent.notebook;

describe('gateway: each caller is its own principal upstream', () => {
  let gateway: RunningGateway;
  /** The same whoami upstreams behind a gateway calling them with fetch (the default off Node), not node:http as `gateway` does. */
  let fetchGateway: RunningGateway;
  let redis: TestRedis;
  let notesUrl: string;
  let dynamoEndpoint: string;
  const keys: Record<string, string> = {};
  const open: PlainCaller[] = [];
  let stopAll: () => Promise<void>;

  before(async () => {
    const plane = await startDataPlane();
    dynamoEndpoint = plane.env.AWS_ENDPOINT_URL_DYNAMODB!;
    redis = await startTestRedis();
    const store = new ApiKeyStore(
      new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: plane.env.AWS_ENDPOINT_URL_DYNAMODB }), 'mcp-kit'),
      { cacheSeconds: 30 },
    );
    for (const [who, scopes] of [
      ['gateway', []],
      ['qgateway', []],
      ['alice', ['notes:read', 'notes:write', 'other']],
      ['bob', []],
      ['qalice', []],
      ['qbob', []],
      ['ralice', []],
      ['rbob', []],
    ] as const) {
      keys[who] = (await store.create({ principalId: who, scopes: [...scopes] })).key;
    }
    const keyed = { MCP_AUTH_MODE: 'apikey', ...TRUST };
    const [main, quota, limited, who] = await Promise.all([
      startUpstream(notes, plane, keyed),
      // Two notebooks a principal a day.
      startUpstream(notes, plane, { ...keyed, MCP_HANDLES_PER_PRINCIPAL: '2' }),
      // Six requests a principal a minute, counted in Redis.
      startUpstream(notes, plane, { ...keyed, ...redis.env, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '6' }),
      startUpstream(whoami, plane, keyed),
    ]);
    notesUrl = main.url;
    const shared = { identity: 'gateway', shareIdentity: true, auth: { apiKeyVariable: 'GATEWAY_KEY' } };
    const once = { retry: { attempts: 1 } };
    gateway = await startGateway(
      {
        upstreams: {
          notes: { url: main.url },
          shared: { url: main.url, ...shared },
          session: { url: main.url, protocol: 'legacy' },
          quota: { url: quota.url },
          // A gateway key of its own: the table counts handles per principal, whatever the server.
          'quota-shared': { ...shared, url: quota.url, auth: { apiKeyVariable: 'QGATEWAY_KEY' } },
          limited: { url: limited.url, ...once },
          'limited-shared': { url: limited.url, ...shared, ...once },
          whoami: { url: who.url, forwardScopes: ['notes:read', 'other', 'admin'] },
          'whoami-shared': { url: who.url, ...shared },
        },
      },
      plane,
      { MCP_AUTH_MODE: 'apikey', GATEWAY_KEY: keys.gateway!, QGATEWAY_KEY: keys.qgateway! },
    );
    fetchGateway = await startGateway(
      { upstreams: { whoami: { url: who.url }, 'whoami-shared': { url: who.url, ...shared } } },
      plane,
      { MCP_AUTH_MODE: 'apikey', GATEWAY_KEY: keys.gateway! },
      { transport: fetchTransport() },
    );
    stopAll = async () => {
      for (const c of open) await c.close().catch(() => {});
      await gateway.stop();
      await fetchGateway.stop();
      await Promise.all([main.stop(), quota.stop(), limited.stop(), who.stop()]);
      await redis.dispose();
      await plane.stop();
    };
  });
  after(() => stopAll());

  const as = async (who: string, era: 'modern' | 'legacy', url = gateway.url) => {
    const c = await plainCaller(era, url, { authorization: `Bearer ${keys[who]}` });
    open.push(c);
    return c;
  };

  it('names the caller upstream as gateway:<gateway>#<caller>, with the scopes the gateway forwards', async () => {
    const alice = await as('alice', 'modern');
    const seen = JSON.parse(text(await alice.callTool({ name: 'whoami__whoami', arguments: {} })));
    // alice holds notes:read notes:write other; the gateway forwards notes:read other admin.
    assert.deepEqual(seen, { id: 'gateway:gateway#apikey:alice', scopes: ['notes:read', 'other'] });
    const bob = await as('bob', 'legacy');
    assert.deepEqual(JSON.parse(text(await bob.callTool({ name: 'whoami__whoami', arguments: {} }))), { id: 'gateway:gateway#apikey:bob', scopes: [] });
  });

  for (const transport of ['fetch', 'node:http'] as const) {
    it(`never sends one caller's identity with another's call, interleaved on pooled upstream connections, over ${transport} (control: shared, both are the gateway)`, async () => {
      const url = transport === 'fetch' ? fetchGateway.url : gateway.url;
      const [alice, bob] = [await as('alice', 'modern', url), await as('bob', 'modern', url)];
      const seen = async (c: PlainCaller, upstream: string) => JSON.parse(text(await c.callTool({ name: `${upstream}__whoami`, arguments: {} }))).id as string;
      for (const [upstream, expected] of [
        ['whoami', { alice: 'gateway:gateway#apikey:alice', bob: 'gateway:gateway#apikey:bob' }],
        ['whoami-shared', { alice: 'apikey:gateway', bob: 'apikey:gateway' }],
      ] as const) {
        // Many calls of both in flight at once: the gateway's keep-alive connections to the upstream carry both.
        const calls = Array.from({ length: 40 }, (_, i) => (i % 2 ? (['bob', bob] as const) : (['alice', alice] as const)));
        const answers = await Promise.all(calls.map(async ([who, c]) => [who, await seen(c, upstream)] as const));
        for (const [who, id] of answers) assert.equal(id, expected[who], `${who} through ${upstream}`);
      }
    });
  }

  it('is another principal than the same caller calling the upstream directly', async () => {
    const viaGateway = await as('alice', 'modern');
    const direct = await as('alice', 'modern', notesUrl);
    const handle = handleOf(await viaGateway.callTool({ name: 'notes__note_add', arguments: { text: 'made through the gateway' } }));
    const read = await direct.callTool({ name: 'note_list', arguments: { notebook: handle } }).then(text, (err: Error) => err.message);
    assert.doesNotMatch(read, /made through the gateway/);
    const mine = handleOf(await direct.callTool({ name: 'note_add', arguments: { text: 'made directly' } }));
    const back = await viaGateway.callTool({ name: 'notes__note_list', arguments: { notebook: mine } }).then(text, (err: Error) => err.message);
    assert.doesNotMatch(back, /made directly/);
  });

  twoCallerCases({
    as,
    sessionTries: 1,
    where: () => ({ gatewayUrl: gateway.url, upstreamUrl: notesUrl, dynamoEndpoint, keys: { alice: keys.alice!, bob: keys.bob! } }),
  });
});

describe('an upstream that trusts a gateway refuses assertions it should not accept', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let stopAll: () => Promise<void>;

  before(async () => {
    const plane = await startDataPlane();
    upstream = await startUpstream(whoami, plane, { MCP_AUTH_MODE: 'apikey', ...TRUST });
    stopAll = async () => {
      await upstream.stop();
      await plane.stop();
    };
  });
  after(() => stopAll());

  const now = () => Math.floor(Date.now() / 1000);
  async function assertion(
    claims: { iss?: string; aud?: string; iat?: number; exp?: number; act?: unknown; typ?: string; key?: CryptoKey; kid?: string } = {},
  ) {
    const own = await deriveGatewayKey(STATE_KEY);
    const iat = claims.iat ?? now();
    return new SignJWT({ act: claims.act ?? { sub: claims.iss ?? 'gateway' }, scope: 'a b' })
      .setProtectedHeader({ alg: 'EdDSA', typ: claims.typ ?? ASSERTION_TYPE, kid: claims.kid ?? own.kid })
      .setIssuer(claims.iss ?? 'gateway')
      .setSubject('apikey:alice')
      .setAudience(claims.aud ?? upstream.url)
      .setIssuedAt(iat)
      .setExpirationTime(claims.exp ?? iat + 60)
      .setJti(crypto.randomUUID())
      .sign(claims.key ?? own.privateKey);
  }
  const call = (token: string) =>
    fetch(upstream.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'server/discover',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'server/discover',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
  const refused = async (token: string, why: RegExp) => {
    const response = await call(token);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, why);
  };

  it('accepts a good one (the control for each refusal below)', async () => {
    const client = new ModernClient({ name: 'c', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(upstream.url), { requestInit: { headers: { authorization: `Bearer ${await assertion()}` } } }));
    const seen = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.deepEqual(seen, { id: 'gateway:gateway#apikey:alice', scopes: ['a', 'b'] });
    await client.close();
  });

  it('refuses one signed with a key the gateway is not trusted with (forged)', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    await refused(await assertion({ key: privateKey as CryptoKey, kid: 'forged' }), /not trusted with here/);
    // The right kid does not help a forger either.
    const own = await deriveGatewayKey(STATE_KEY);
    await refused(await assertion({ key: privateKey as CryptoKey, kid: own.kid }), /signature is invalid/);
  });

  it('refuses an expired one', async () => {
    await refused(await assertion({ iat: now() - 200, exp: now() - 140 }), /expired/);
  });

  it('refuses one for another audience', async () => {
    await refused(await assertion({ aud: 'http://127.0.0.1:1/mcp' }), /"aud" claim is not accepted/);
  });

  it('refuses one from a gateway it does not trust', async () => {
    await refused(await assertion({ iss: 'elsewhere' }), /not a gateway this server trusts/);
  });

  it('refuses one that lives longer than 60 s, or whose actor is not its issuer', async () => {
    await refused(await assertion({ exp: now() + 3600 }), /longer than 60 s/);
    await refused(await assertion({ act: { sub: 'someone-else' } }), /"act" claim must name the gateway/);
  });

  it('does not take an assertion for an OAuth token or an API key, nor the reverse', async () => {
    // Without the assertion type it is an ordinary bearer token: not an API key of this server.
    await refused(await assertion({ typ: 'JWT' }), /not an API key/);
  });
});

describe('npm run gateway in front of npm start, with no setup', () => {
  it('is trusted by the local server, which sees each caller through it as gateway:gateway#<caller>', async () => {
    const dynamo = await startTestDynamo();
    // As with `source .local/emulators.env`: one data plane, one request-state key.
    const plane = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
      MCP_REQUEST_STATE_KEY: STATE_KEY,
    };
    const notesChild = await startChild({ ...plane, LOG_LEVEL: 'INFO' });
    const gatewayChild = await startChild({ ...plane, MCP_GATEWAY_UPSTREAMS: `notes=${notesChild.url}` }, 'functions/gateway/server.ts');
    try {
      const caller = await modernCaller(gatewayChild.url);
      assert.equal(text(await caller.callTool({ name: 'notes__echo', arguments: { text: 'through the gateway' } })), 'through the gateway');
      await caller.close();
      const lines = notesChild
        .output()
        .split('\n')
        .filter((l) => l.includes('"tool":"echo"'));
      assert.ok(lines.length > 0, notesChild.output());
      assert.ok(
        lines.every((l) => l.includes('"principal":"gateway:gateway#anonymous"')),
        lines.join('\n'),
      );
    } finally {
      await Promise.all([gatewayChild.stop(), notesChild.stop()]);
      await dynamo.stop();
    }
  });
});
