// The OAuth 2.1 resource server as MCP clients meet it: the whole authorization flow with the
// official SDK clients (both eras) against a local authorization server, the answers to bad
// tokens, tool scopes, protected resource metadata, and signing-key rotation without a restart.
// Once on a Node server, once on the modelled deployed path (CloudFront, API Gateway, Lambda),
// where the challenge only survives through the origin-response edge function.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import {
  Client as ModernClient,
  ClientCredentialsProvider,
  StreamableHTTPClientTransport as ModernTransport,
  UnauthorizedError,
  type FetchLike,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError as LegacyUnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { serveApp } from '../../shared/adapters/node.ts';
import guarded from '../fixtures/guarded.ts';
import { startAwsPath } from '../helpers/aws.ts';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.ts';
import { QUIET, startTestDynamo } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
};

/** Where a resource server will listen: its public URL is the token audience, so it must be known first. */
async function reserveResource() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  return { port, url, metadataUrl: `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp` };
}

type Resource = Awaited<ReturnType<typeof reserveResource>>;

const oauthSettings = (resource: Resource, as: OAuthServer) => ({
  MCP_AUTH_MODE: 'oauth',
  MCP_OAUTH_ISSUER: as.issuer,
  MCP_PUBLIC_URL: resource.url,
  MCP_OAUTH_SCOPES: 'mcp:tools,admin',
  MCP_REQUEST_STATE_KEY: 'test-request-state-key-0123456789abcdef',
});

/** Where the resource server runs: a Node server, or the fixture deployed to the modelled path. */
const TARGETS = {
  'Node server': async (resource: Resource, as: OAuthServer, dynamoEndpoint: string) => {
    const config = loadConfig({
      ...QUIET,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      ...oauthSettings(resource, as),
      MCP_SSE_KEEPALIVE_MS: '0',
    });
    const kit = createKit(guarded, config);
    const served = await serveApp(kit.app, { port: resource.port, host: '127.0.0.1' });
    return {
      async stop() {
        await served.close();
        await kit.close();
      },
    };
  },
  'modelled AWS path': async (resource: Resource, as: OAuthServer) => {
    const path = await startAwsPath('test/fixtures/guarded.ts', oauthSettings(resource, as), { port: resource.port, concurrency: 4 });
    return { stop: () => path.stop() };
  },
};

interface Answer {
  status: number;
  headers: Headers;
  challenge: string | null;
  /** The JSON-RPC message: the JSON body, or the first SSE `data:` event. */
  body: { result?: { content: { text: string }[]; isError?: boolean }; error?: { code: number; message: string } };
}

/** One 2026-07-28 `tools/call`, as raw HTTP. */
async function call(url: string, toolName: string, authorization?: string): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': toolName,
  };
  if (authorization !== undefined) headers.authorization = authorization;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: toolName, arguments: {}, _meta: META } }),
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('text/event-stream') ? /^data: (.*)$/m.exec(text)![1]! : text;
  return { status: res.status, headers: res.headers, challenge: res.headers.get('www-authenticate'), body: JSON.parse(json) };
}

/** `WWW-Authenticate: Bearer k="v", …` as its scheme and parameters. */
function challengeOf(header: string | null) {
  assert.ok(header, 'a WWW-Authenticate header');
  const [scheme] = header.split(' ');
  return { scheme, params: Object.fromEntries([...header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!.replace(/\\(.)/g, '$1')])) };
}

const whoami = (answer: Answer) => {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return JSON.parse(answer.body.result!.content[0]!.text) as { principal: string; scopes: string[]; era: string; session: string | null };
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * An MCP client application's OAuth state, in memory. Its "browser" follows the authorization
 * URL with fetch (the test user is approved without a page) and keeps the redirect it lands on,
 * which the application then hands to `finishAuth`.
 */
class BrowserlessOAuthClient implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1/oauth/callback';
  /** The redirect back from the authorization server, once a flow has run. */
  callback?: URL;
  private client?: StoredOAuthClientInformation;
  private saved?: StoredOAuthTokens;
  private verifier?: string;
  private discovery?: OAuthDiscoveryState;
  private expectedState?: string;

  get clientMetadata() {
    return {
      client_name: 'oauth-e2e',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    return (this.expectedState = crypto.randomUUID());
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no PKCE verifier saved');
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  async redirectToAuthorization(authorizationUrl: URL) {
    const res = await fetch(authorizationUrl, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) throw new Error(`authorization failed: ${res.status} ${await res.text()}`);
    const callback = new URL(location);
    if (callback.searchParams.get('state') !== this.expectedState) throw new Error('authorization response with a foreign state');
    if (callback.searchParams.has('error')) throw new Error(`authorization refused: ${callback.searchParams.get('error')}`);
    this.callback = callback;
  }
}

for (const [label, startResourceServer] of Object.entries(TARGETS))
  describe(`OAuth 2.1 resource server (${label})`, () => {
    let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
    let as: OAuthServer;
    let resource: Resource;
    let server: { stop(): Promise<void> };

    before(async () => {
      [dynamo, resource] = await Promise.all([startTestDynamo(), reserveResource()]);
      as = await startOAuthServer({ audience: resource.url, user: { sub: 'alice', scopes: ['mcp:tools'] } });
      server = await startResourceServer(resource, as, dynamo.endpoint);
    });
    after(async () => {
      await server.stop();
      await as.close();
      await dynamo.stop();
    });

    describe('the authorization flow, end to end with the SDK clients', () => {
      it('2026-07-28 client: 401, discovery, registration, authorization, token, then tools/call as the test user', async () => {
        const provider = new BrowserlessOAuthClient();
        const seen: string[] = [];
        const recording: FetchLike = async (url, init) => {
          const res = await fetch(url, init);
          seen.push(`${init?.method ?? 'GET'} ${new URL(String(url)).pathname} ${res.status}`);
          return res;
        };
        const options = { authProvider: provider, fetch: recording };
        const clientOptions = { versionNegotiation: { mode: { pin: '2026-07-28' as const } } };

        const first = new ModernClient({ name: 'oauth-e2e', version: '1.0.0' }, clientOptions);
        const firstTransport = new ModernTransport(new URL(resource.url), options);
        await assert.rejects(first.connect(firstTransport), (err) => UnauthorizedError.isInstance(err));
        assert.deepEqual(seen, [
          'POST /mcp 401',
          'GET /.well-known/oauth-protected-resource/mcp 200',
          'GET /.well-known/oauth-authorization-server 200',
          'POST /register 201',
        ]);
        const callback = provider.callback!;
        assert.ok(callback.searchParams.get('code'), 'the authorization server redirected back with a code');
        assert.equal(callback.searchParams.get('iss'), as.issuer);
        assert.ok(as.log.includes('GET /authorize'));

        await firstTransport.finishAuth(callback.searchParams);
        assert.ok(as.log.includes('grant authorization_code'));
        const { access_token: accessToken } = provider.tokens()!;
        const claims = decodeJwt(accessToken);
        assert.equal(claims.aud, resource.url, 'RFC 8707: the resource indicator became the audience');
        assert.equal(claims.sub, 'alice');
        assert.equal(claims.scope, 'mcp:tools', 'only the scopes the user may have, of those advertised');

        const client = new ModernClient({ name: 'oauth-e2e', version: '1.0.0' }, clientOptions);
        await client.connect(new ModernTransport(new URL(resource.url), options));
        try {
          assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
          const result = await client.callTool({ name: 'whoami', arguments: {} });
          const caller = JSON.parse((result.content as { text: string }[])[0]!.text);
          assert.deepEqual(caller, { principal: `oauth:${as.issuer}#alice`, scopes: ['mcp:tools'], era: 'modern', session: null });
          assert.equal(seen.at(-1), 'POST /mcp 200');
        } finally {
          await client.close();
        }
      });

      it('refreshes an expired access token without the user', async () => {
        const provider = new BrowserlessOAuthClient();
        const first = new ModernClient({ name: 'oauth-refresh', version: '1.0.0' });
        const transport = new ModernTransport(new URL(resource.url), { authProvider: provider });
        await assert.rejects(first.connect(transport), (err) => UnauthorizedError.isInstance(err));
        await transport.finishAuth(provider.callback!.searchParams);

        // The stored access token runs out; the refresh token is still good.
        const stored = provider.tokens()!;
        provider.saveTokens({ ...stored, access_token: await as.mint({ exp: nowSeconds() - 3600 }) });

        const client = new ModernClient({ name: 'oauth-refresh', version: '1.0.0' });
        await client.connect(new ModernTransport(new URL(resource.url), { authProvider: provider }));
        try {
          const result = await client.callTool({ name: 'whoami', arguments: {} });
          assert.equal(JSON.parse((result.content as { text: string }[])[0]!.text).principal, `oauth:${as.issuer}#alice`);
          assert.ok(as.log.includes('grant refresh_token'));
          assert.notEqual(provider.tokens()!.refresh_token, stored.refresh_token, 'refresh tokens rotate');
        } finally {
          await client.close();
        }
      });

      it('client credentials: a registered machine client calls as itself', async () => {
        const registered = (await (
          await fetch(`${as.issuer}/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ client_name: 'nightly-job', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }),
          })
        ).json()) as { client_id: string; client_secret: string };
        const provider = new ClientCredentialsProvider({ clientId: registered.client_id, clientSecret: registered.client_secret, expectedIssuer: as.issuer });
        const client = new ModernClient({ name: 'machine', version: '1.0.0' });
        await client.connect(new ModernTransport(new URL(resource.url), { authProvider: provider }));
        try {
          const result = await client.callTool({ name: 'whoami', arguments: {} });
          assert.equal(JSON.parse((result.content as { text: string }[])[0]!.text).principal, `oauth:${as.issuer}#${registered.client_id}`);
        } finally {
          await client.close();
        }
      });

      it('2025-era client (SDK 1.x): the same flow, then a session bound to the test user', async () => {
        const provider = new BrowserlessOAuthClient();
        const first = new LegacyClient({ name: 'oauth-legacy', version: '1.0.0' });
        const firstTransport = new LegacyTransport(new URL(resource.url), { authProvider: provider });
        await assert.rejects(first.connect(firstTransport), LegacyUnauthorizedError);
        await firstTransport.finishAuth(provider.callback!.searchParams.get('code')!);
        assert.equal(decodeJwt(provider.tokens()!.access_token).aud, resource.url);

        const client = new LegacyClient({ name: 'oauth-legacy', version: '1.0.0' });
        const transport = new LegacyTransport(new URL(resource.url), { authProvider: provider });
        await client.connect(transport);
        try {
          assert.ok(transport.sessionId, 'a 2025-era session');
          const result = await client.callTool({ name: 'whoami', arguments: {} });
          const caller = JSON.parse((result.content as { text: string }[])[0]!.text);
          assert.deepEqual(caller, { principal: `oauth:${as.issuer}#alice`, scopes: ['mcp:tools'], era: 'legacy', session: transport.sessionId });

          // Someone else's valid token with alice's session id finds no such session.
          const intruder = await fetch(resource.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-session-id': transport.sessionId,
              'mcp-protocol-version': transport.protocolVersion!,
              authorization: `Bearer ${await as.mint({ sub: 'bob' })}`,
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
          });
          assert.equal(intruder.status, 404);
        } finally {
          await client.close();
        }
      });
    });

    describe('bad credentials: 401 with a challenge that says what is wrong', () => {
      const tamper = async () => {
        const [header, , signature] = (await as.mint()).split('.');
        const payload = Buffer.from(JSON.stringify({ iss: as.issuer, sub: 'mallory', aud: resource.url, exp: nowSeconds() + 3600 })).toString('base64url');
        return `${header}.${payload}.${signature}`;
      };
      const rows: { name: string; token: () => Promise<string>; message: RegExp }[] = [
        { name: 'a token expired beyond the clock skew', token: () => as.mint({ exp: nowSeconds() - 120 }), message: /the token has expired/ },
        {
          name: 'a token for another resource',
          token: () => as.mint({ aud: 'https://other.example/mcp' }),
          message: /the token's "aud" claim is not accepted here/,
        },
        { name: 'a token without an audience', token: () => as.mint({ aud: undefined }), message: /the token has no "aud" claim/ },
        { name: 'a token from another issuer', token: () => as.mint({ iss: 'https://evil.example' }), message: /the token's "iss" claim is not accepted here/ },
        { name: 'an unsigned token (alg: none)', token: () => as.mint({}, { alg: 'none' }), message: /algorithm this server does not accept/ },
        {
          name: 'an HS256 token keyed with the public key (algorithm confusion)',
          token: () => as.mint({}, { alg: 'HS256' }),
          message: /algorithm this server does not accept/,
        },
        { name: 'a token signed by a key the issuer never published', token: () => as.mint({}, { forge: true }), message: /the token signature is invalid/ },
        { name: 'a token altered after signing', token: tamper, message: /the token signature is invalid/ },
        { name: 'a token with an unknown kid', token: () => as.mint({}, { kid: 'no-such-key' }), message: /signed with a key the issuer does not publish/ },
        { name: 'a token without sub', token: () => as.mint({ sub: undefined }), message: /the token has no "sub" claim/ },
        { name: 'a token with an empty sub', token: () => as.mint({ sub: '' }), message: /the token's "sub" claim must be a non-empty string/ },
        { name: 'a token with a numeric sub', token: () => as.mint({ sub: 42 }), message: /the token's "sub" claim must be a non-empty string/ },
        { name: 'a token with a null sub', token: () => as.mint({ sub: null }), message: /the token's "sub" claim must be a non-empty string/ },
        { name: 'a token with a list as sub', token: () => as.mint({ sub: ['alice'] }), message: /the token's "sub" claim must be a non-empty string/ },
        { name: 'a token without exp', token: () => as.mint({ exp: undefined }), message: /the token has no "exp" claim/ },
        { name: 'a token not valid yet (nbf beyond the skew)', token: () => as.mint({ nbf: nowSeconds() + 300 }), message: /the token is not valid yet/ },
        { name: 'an ID token (token_use: id)', token: () => as.mint({ token_use: 'id' }), message: /the token is not an access token/ },
        { name: 'garbage', token: async () => 'not.a.jwt', message: /the token is malformed/ },
        { name: 'an API key where only OAuth is accepted', token: async () => 'mcpk_0123456789abcdef', message: /API keys are not accepted here/ },
      ];

      for (const row of rows) {
        it(`refuses ${row.name}`, async () => {
          const answer = await call(resource.url, 'whoami', `Bearer ${await row.token()}`);
          assert.equal(answer.status, 401);
          const { scheme, params } = challengeOf(answer.challenge);
          assert.equal(scheme, 'Bearer');
          assert.equal(params.error, 'invalid_token');
          assert.equal(params.resource_metadata, resource.metadataUrl);
          assert.equal(answer.body.error?.code, -32000);
          assert.match(answer.body.error!.message, /^Unauthorized: /);
          assert.match(answer.body.error!.message, row.message);
          if (params.error_description) assert.match(params.error_description, row.message);
        });
      }

      it('accepts a token that expired within the clock skew (30 s)', async () => {
        assert.equal(whoami(await call(resource.url, 'whoami', `Bearer ${await as.mint({ exp: nowSeconds() - 10 })}`)).principal, `oauth:${as.issuer}#alice`);
      });

      it('accepts the Bearer scheme in any case (RFC 7235)', async () => {
        assert.equal(whoami(await call(resource.url, 'whoami', `bearer ${await as.mint()}`)).principal, `oauth:${as.issuer}#alice`);
      });

      it('answers another scheme (Basic) like no credentials: a challenge without an error code (RFC 6750 §3.1)', async () => {
        const answer = await call(resource.url, 'whoami', `Basic ${Buffer.from('alice:secret').toString('base64')}`);
        assert.equal(answer.status, 401);
        const { scheme, params } = challengeOf(answer.challenge);
        assert.equal(scheme, 'Bearer');
        assert.deepEqual(params, { resource_metadata: resource.metadataUrl });
        assert.match(answer.body.error!.message, /the Authorization header must be "Bearer <token>"/);
      });

      it('answers a malformed Bearer header with invalid_request', async () => {
        const answer = await call(resource.url, 'whoami', 'Bearer two tokens');
        assert.equal(answer.status, 401);
        assert.deepEqual(challengeOf(answer.challenge).params, { error: 'invalid_request', resource_metadata: resource.metadataUrl });
        assert.match(answer.body.error!.message, /the Authorization header must be "Bearer <token>"/);
      });

      it('answers no credentials with a bare challenge pointing at the metadata', async () => {
        const answer = await call(resource.url, 'whoami');
        assert.equal(answer.status, 401);
        assert.equal(answer.challenge, `Bearer resource_metadata="${resource.metadataUrl}"`);
        assert.match(answer.body.error!.message, /send an OAuth access token as "Authorization: Bearer <token>"/);
      });

      it('still serves good tokens afterwards', async () => {
        assert.equal(whoami(await call(resource.url, 'whoami', `Bearer ${await as.mint()}`)).principal, `oauth:${as.issuer}#alice`);
        assert.equal((await fetch(resource.url.replace(/\/mcp$/, '/health'))).status, 200);
      });
    });

    describe('tool scopes', () => {
      it('refuses a tool whose scope the token lacks: 403 insufficient_scope naming the scope to ask for', async () => {
        const answer = await call(resource.url, 'rotate_secrets', `Bearer ${await as.mint({ scope: 'mcp:tools' })}`);
        assert.equal(answer.status, 403);
        const { scheme, params } = challengeOf(answer.challenge);
        assert.equal(scheme, 'Bearer');
        assert.deepEqual(params, {
          error: 'insufficient_scope',
          scope: 'mcp:tools admin',
          error_description: 'requires admin',
          resource_metadata: resource.metadataUrl,
        });
        assert.equal(answer.body.error?.message, 'Forbidden: this call needs the scope admin');
      });

      it('refuses it to a token without any scope', async () => {
        const answer = await call(resource.url, 'rotate_secrets', `Bearer ${await as.mint()}`);
        assert.equal(answer.status, 403);
        assert.equal(challengeOf(answer.challenge).params.scope, 'admin');
      });

      it('runs it with the scope, from a `scope` string or an `scp` array or string', async () => {
        for (const claims of [{ scope: 'mcp:tools admin' }, { scp: ['admin'] }, { scp: 'mcp:tools admin' }]) {
          const answer = await call(resource.url, 'rotate_secrets', `Bearer ${await as.mint(claims)}`);
          assert.equal(answer.status, 200, JSON.stringify(claims));
          assert.equal(answer.body.result?.content[0]?.text, 'rotated');
        }
      });

      it('leaves tools without scopes to any valid token', async () => {
        assert.deepEqual(whoami(await call(resource.url, 'whoami', `Bearer ${await as.mint({ scp: ['x', 'y'] })}`)).scopes, ['x', 'y']);
      });
    });

    describe('protected resource metadata (RFC 9728)', () => {
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
        it(`serves the document at ${path}`, async () => {
          const res = await fetch(new URL(path, resource.url));
          assert.equal(res.status, 200);
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
          const doc = (await res.json()) as Record<string, unknown>;
          assert.equal(doc.resource, resource.url);
          assert.deepEqual(doc.authorization_servers, [as.issuer]);
          assert.deepEqual(doc.scopes_supported, ['mcp:tools', 'admin']);
          assert.deepEqual(doc.bearer_methods_supported, ['header']);
        });
      }
    });

    // It moves this process's clock; on the modelled path the key cache lives in another process.
    // The cache is the same code on both targets.
    if (label === 'Node server')
      describe('signing key rotation at the authorization server', () => {
        // A server of its own, so that its key cache starts empty and no other test touches it.
        let rotating: OAuthServer;
        let target: Resource;
        let rotatingServer: Awaited<ReturnType<typeof startResourceServer>>;
        const realNow = Date.now.bind(Date);
        let clockOffset = 0;
        /** Moves the clock forward for everyone in this process that reads `Date.now()` (jose's key cache does). */
        const advanceClock = (ms: number) => {
          if (clockOffset === 0) mock.method(Date, 'now', () => realNow() + clockOffset);
          clockOffset += ms;
        };
        const asCaller = async (token: string) => call(target.url, 'whoami', `Bearer ${token}`);

        before(async () => {
          target = await reserveResource();
          rotating = await startOAuthServer({ audience: target.url });
          rotatingServer = await startResourceServer(target, rotating, dynamo.endpoint);
        });
        after(async () => {
          mock.restoreAll();
          await rotatingServer.stop();
          await rotating.close();
        });

        it('answers 503 with Retry-After while the keys cannot be fetched, and recovers without a restart', async () => {
          rotating.jwksAvailable = false;
          const token = await rotating.mint();
          const down = await asCaller(token);
          assert.equal(down.status, 503);
          assert.equal(down.headers.get('retry-after'), '5');
          assert.equal(down.challenge, null, "not the caller's fault: no challenge");
          assert.match(down.body.error!.message, /tokens cannot be verified right now/);
          assert.equal(rotating.jwksFetches, 1);
          rotating.jwksAvailable = true;
          assert.equal(whoami(await asCaller(token)).principal, `oauth:${rotating.issuer}#alice`);
        });

        // The kit refetches the keys for an unknown kid at most once per 30 s (jose's cooldown, a guard
        // against floods of made-up kids). A server that fetched them in the last 30 s refuses a key the
        // issuer started signing with since; one whose last fetch is older picks it up on first sight.
        let oldKeyToken: string;
        let newKeyToken: string;

        it('refuses a new key seen within 30 s of the last key fetch, without fetching again (jose cooldown)', async () => {
          oldKeyToken = await rotating.mint();
          await rotating.rotate();
          newKeyToken = await rotating.mint();
          const fetches = rotating.jwksFetches;
          const answer = await asCaller(newKeyToken);
          assert.equal(answer.status, 401);
          assert.match(answer.body.error!.message, /signed with a key the issuer does not publish/);
          assert.equal(rotating.jwksFetches, fetches);
        });

        it('accepts the new key on first sight once the last fetch is older than 30 s; the old key works while published', async () => {
          const fetches = rotating.jwksFetches;
          advanceClock(31_000);
          assert.equal(whoami(await asCaller(newKeyToken)).principal, `oauth:${rotating.issuer}#alice`);
          assert.equal(rotating.jwksFetches, fetches + 1, 'one fetch, on first sight of the new kid');
          assert.equal(whoami(await asCaller(oldKeyToken)).principal, `oauth:${rotating.issuer}#alice`);
          assert.equal(rotating.jwksFetches, fetches + 1);
        });

        it('refuses a retired key once the server has refetched, and is not made to refetch by a flood of unknown kids', async () => {
          const retiring = await rotating.mint();
          await rotating.rotate({ keepOld: false });
          advanceClock(31_000);
          const fetches = rotating.jwksFetches;
          assert.equal(whoami(await asCaller(await rotating.mint())).principal, `oauth:${rotating.issuer}#alice`);
          const refused = await asCaller(retiring);
          assert.equal(refused.status, 401);
          assert.match(refused.body.error!.message, /signed with a key the issuer does not publish/);
          const flood = await Promise.all(Array.from({ length: 20 }, async (_, i) => asCaller(await rotating.mint({}, { kid: `random-${i}` }))));
          assert.ok(flood.every((a) => a.status === 401));
          assert.equal(rotating.jwksFetches, fetches + 1, 'only the fetch for the new kid');
        });
      });
  });
