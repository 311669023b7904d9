// The test authorization server refuses what a real one would, so that flows passing against it
// mean something: PKCE is checked, codes are single-use, redirect URIs and resources must match.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.ts';

const RESOURCE = 'http://127.0.0.1:1/mcp';
const REDIRECT = 'http://127.0.0.1/callback';

describe('test authorization server', () => {
  let as: OAuthServer;
  let clientId: string;

  before(async () => {
    as = await startOAuthServer({ audience: RESOURCE });
    const res = await fetch(`${as.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] }),
    });
    assert.equal(res.status, 201);
    clientId = ((await res.json()) as { client_id: string }).client_id;
  });
  after(() => as.close());

  async function authorize(params: Record<string, string>) {
    const url = new URL(`${as.issuer}/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 's1', ...params }))
      url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location') ? new URL(res.headers.get('location')!) : undefined };
  }

  async function codeFor(verifier: string, extra: Record<string, string> = {}) {
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const { location } = await authorize({ code_challenge: challenge, code_challenge_method: 'S256', resource: RESOURCE, ...extra });
    return location!.searchParams.get('code')!;
  }

  async function exchange(fields: Record<string, string>) {
    const res = await fetch(`${as.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT, ...fields }),
    });
    return { status: res.status, body: (await res.json()) as { error?: string; access_token?: string } };
  }

  it('requires PKCE with S256', async () => {
    for (const params of [{}, { code_challenge: 'abc', code_challenge_method: 'plain' }] as Record<string, string>[]) {
      const { status, location } = await authorize(params);
      assert.equal(status, 302);
      assert.equal(location?.searchParams.get('error'), 'invalid_request');
      assert.equal(location?.searchParams.get('state'), 's1');
    }
  });

  it('shows, never redirects, errors about the client or its redirect URI', async () => {
    assert.equal((await authorize({ redirect_uri: 'http://evil.example/cb' })).status, 400);
    assert.equal((await authorize({ client_id: 'nobody' })).status, 400);
  });

  it('issues a token only for the right verifier, once per code', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const wrong = await exchange({ code: await codeFor(verifier), code_verifier: 'not-the-verifier' });
    assert.equal(wrong.body.error, 'invalid_grant');

    const code = await codeFor(verifier);
    const ok = await exchange({ code, code_verifier: verifier, resource: RESOURCE });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.access_token);
    assert.equal((await exchange({ code, code_verifier: verifier })).body.error, 'invalid_grant');
  });

  it('refuses a resource other than the one authorized', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const answer = await exchange({ code: await codeFor(verifier), code_verifier: verifier, resource: 'http://127.0.0.1:2/mcp' });
    assert.equal(answer.body.error, 'invalid_target');
  });

  it('does not register a public client for client_credentials', async () => {
    const res = await fetch(`${as.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client_metadata');
  });
});
