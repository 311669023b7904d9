// The on-behalf-of assertion on its own: what the gateway signs and how long it reuses it, how a
// server that trusts the gateway checks it across a key rotation, how the principal it yields is
// spelled, and what MCP_TRUSTED_GATEWAYS accepts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { createAssertionVerifier } from '../../shared/auth/gateway-assertion.ts';
import { deriveGatewayKey } from '../../shared/auth/gateway-keys.ts';
import { InvalidTokenError } from '../../shared/auth/jwt.ts';
import { loadConfig } from '../../shared/config.ts';
import { OnBehalfOf } from '../../shared/gateway/assertions.ts';
import type { UpstreamConfig } from '../../shared/gateway/config.ts';
import { apiKeyPrincipal, gatewayPrincipal } from '../../shared/principal.ts';

const OLD = 'old-request-state-key-0123456789abcdef';
const NEW = 'new-request-state-key-0123456789abcdef';
const upstream = (name: string, forwardScopes: string[] = []) => ({ name, url: `https://${name}.example.com/mcp`, forwardScopes }) as unknown as UpstreamConfig;
const alice = apiKeyPrincipal('alice', ['notes:read', 'notes:write']);
const tokenOf = (headers: Record<string, string>) => headers.authorization!.replace(/^Bearer /, '');

describe("the gateway's assertions", () => {
  it('name the caller, the gateway as actor and issuer, the upstream as audience, for 60 s, with the forwarded scopes', async () => {
    const signer = new OnBehalfOf('gateway', NEW);
    const token = tokenOf(await signer.headers(signer.partition(alice), upstream('notes', ['notes:read', 'admin'])));
    const claims = decodeJwt(token);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'EdDSA', typ: 'gateway-assertion+jwt', kid: (await deriveGatewayKey(NEW)).kid });
    assert.equal(claims.sub, 'apikey:alice');
    assert.deepEqual(claims.act, { sub: 'gateway' });
    assert.equal(claims.iss, 'gateway');
    assert.equal(claims.aud, 'https://notes.example.com/mcp');
    assert.equal(claims.exp! - claims.iat!, 60);
    assert.equal(claims.scope, 'notes:read');
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
  });

  it('are signed once per caller and upstream for 40 s of their 60, then anew', async () => {
    let now = 1_000_000_000_000;
    const signer = new OnBehalfOf('gateway', NEW, () => now);
    const partition = signer.partition(alice);
    const first = tokenOf(await signer.headers(partition, upstream('notes')));
    now += 39_000;
    assert.equal(tokenOf(await signer.headers(partition, upstream('notes'))), first);
    assert.notEqual(tokenOf(await signer.headers(partition, upstream('echo'))), first);
    const bob = signer.partition(apiKeyPrincipal('bob', []));
    assert.equal(decodeJwt(tokenOf(await signer.headers(bob, upstream('notes')))).sub, 'apikey:bob');
    now += 2_000;
    const renewed = tokenOf(await signer.headers(partition, upstream('notes')));
    assert.notEqual(renewed, first);
    assert.ok(decodeJwt(renewed).exp! > decodeJwt(first).exp!);
  });

  it('keep apart callers of one id whose keys carry different scopes', () => {
    const signer = new OnBehalfOf('gateway', NEW);
    assert.notEqual(signer.partition(alice), signer.partition(apiKeyPrincipal('alice', ['notes:read'])));
    assert.equal(signer.partition(alice), signer.partition(apiKeyPrincipal('alice', ['notes:write', 'notes:read'])));
  });

  it('verify during a key rotation where the old key is still listed as previous, and not once it is gone', async () => {
    const trusted = [{ name: 'gateway', keys: { fromRequestStateKey: true as const }, audience: [] }];
    const oldGateway = new OnBehalfOf('gateway', OLD);
    const token = tokenOf(await oldGateway.headers(oldGateway.partition(alice), upstream('notes')));
    const during = createAssertionVerifier(trusted, [NEW, OLD], 30);
    assert.equal((await during(token, ['https://notes.example.com/mcp'])).id, 'gateway:gateway#apikey:alice');
    const after = createAssertionVerifier(trusted, [NEW], 30);
    await assert.rejects(
      after(token, ['https://notes.example.com/mcp']),
      (err: Error) => err instanceof InvalidTokenError && /key gateway "gateway" is not trusted with here/.test(err.message),
    );
  });

  it('are verified once and remembered, but never past their expiry', async () => {
    const trusted = [{ name: 'gateway', keys: { fromRequestStateKey: true as const }, audience: [] }];
    const verify = createAssertionVerifier(trusted, [NEW], 0);
    const key = await deriveGatewayKey(NEW);
    const exp = Math.floor(Date.now() / 1000) + 1;
    const token = await new SignJWT({ act: { sub: 'gateway' } })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'gateway-assertion+jwt', kid: key.kid })
      .setIssuer('gateway')
      .setSubject('apikey:alice')
      .setAudience('https://n/mcp')
      .setIssuedAt(exp - 59)
      .setExpirationTime(exp)
      .setJti('j')
      .sign(key.privateKey);
    assert.equal((await verify(token, ['https://n/mcp'])).id, 'gateway:gateway#apikey:alice');
    assert.equal((await verify(token, ['https://n/mcp'])).id, 'gateway:gateway#apikey:alice');
    // Another audience is checked afresh, and refused.
    await assert.rejects(verify(token, ['https://other/mcp']), /"aud" claim is not accepted/);
    while (Date.now() < exp * 1000 + 50) await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(verify(token, ['https://n/mcp']), /has expired/);
  });

  it("refuse a caller whose id, behind the gateway's prefix, passes the principal limit (401, not 500); control: one that fits", async () => {
    const verify = createAssertionVerifier([{ name: 'gateway', keys: { fromRequestStateKey: true as const }, audience: [] }], [NEW], 0);
    const key = await deriveGatewayKey(NEW);
    const sign = (sub: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ act: { sub: 'gateway' } })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'gateway-assertion+jwt', kid: key.kid })
        .setIssuer('gateway')
        .setSubject(sub)
        .setAudience('https://n/mcp')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti(sub.slice(0, 8))
        .sign(key.privateKey);
    };
    // 'gateway:gateway#' is 16 bytes: 240 more fit the 256-byte limit, 241 do not.
    const fits = `apikey:${'a'.repeat(233)}`;
    assert.equal((await verify(await sign(fits), ['https://n/mcp'])).id, `gateway:gateway#${fits}`);
    await assert.rejects(
      verify(await sign(`${fits}b`), ['https://n/mcp']),
      (err: Error) => err instanceof InvalidTokenError && /caller is too long/.test(err.message),
    );
  });

  it('verify against public keys given as JWKs', async () => {
    const { publicJwk } = await deriveGatewayKey(NEW);
    const verify = createAssertionVerifier(
      [{ name: 'gateway', keys: { jwks: [publicJwk as Record<string, unknown>] }, audience: ['https://api.example.com/prod/mcp'] }],
      [],
      30,
    );
    const signer = new OnBehalfOf('gateway', NEW);
    const token = tokenOf(await signer.headers(signer.partition(alice), { ...upstream('notes'), url: 'https://api.example.com/prod/mcp' }));
    // The listed audience, though the server's own URL is another.
    assert.equal((await verify(token, ['https://notes.example.com/mcp'])).id, 'gateway:gateway#apikey:alice');
  });
});

describe('gateway principals', () => {
  it("cannot be spelled by a direct caller, nor shift the separator with the gateway's name", () => {
    assert.equal(gatewayPrincipal('gateway', 'apikey:alice', []).id, 'gateway:gateway#apikey:alice');
    assert.equal(gatewayPrincipal('a#b', 'c', []).id, 'gateway:a%23b#c');
    assert.equal(gatewayPrincipal('a%23b', 'c', []).id, 'gateway:a%2523b#c');
    // A gateway behind a gateway names both.
    assert.equal(gatewayPrincipal('outer', 'gateway:inner#apikey:alice', []).id, 'gateway:outer#gateway:inner#apikey:alice');
  });
});

describe('MCP_TRUSTED_GATEWAYS', () => {
  const base = { MCP_REQUEST_STATE_KEY: NEW };
  it("reads each gateway's key source and extra audience", () => {
    const config = loadConfig({
      ...base,
      MCP_TRUSTED_GATEWAYS: JSON.stringify({
        gateway: { fromRequestStateKey: true },
        partner: { jwksUrl: 'https://p.example.com/jwks.json', audience: ['https://x.example.com/mcp'] },
      }),
    });
    assert.deepEqual(config.trustedGateways, [
      { name: 'gateway', keys: { fromRequestStateKey: true }, audience: [] },
      { name: 'partner', keys: { jwksUrl: 'https://p.example.com/jwks.json' }, audience: ['https://x.example.com/mcp'] },
    ]);
    assert.deepEqual(loadConfig(base).trustedGateways, []);
  });

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['JSON that is not', { ...base, MCP_TRUSTED_GATEWAYS: '{gateway' }, /MCP_TRUSTED_GATEWAYS: is not valid JSON/],
    ['no key source', { ...base, MCP_TRUSTED_GATEWAYS: '{"g":{}}' }, /gateway "g": give exactly one of fromRequestStateKey, jwks and jwksUrl/],
    ['two key sources', { ...base, MCP_TRUSTED_GATEWAYS: '{"g":{"fromRequestStateKey":true,"jwksUrl":"https://x/j"}}' }, /give exactly one of/],
    ['a private key', { ...base, MCP_TRUSTED_GATEWAYS: '{"g":{"jwks":[{"kty":"OKP","crv":"Ed25519","x":"a","d":"b"}]}}' }, /public JWKs \(no "d"\)/],
    [
      "a name that would shift the principal's separator",
      { ...base, MCP_TRUSTED_GATEWAYS: '{"g#1":{"fromRequestStateKey":true}}' },
      /gateway "g#1": a name is lowercase letters/,
    ],
    ['an unknown field', { ...base, MCP_TRUSTED_GATEWAYS: '{"g":{"fromRequestStateKey":true,"aud":[]}}' }, /unknown field aud/],
    [
      'a derived key without a request-state key',
      { MCP_TRUSTED_GATEWAYS: '{"g":{"fromRequestStateKey":true}}' },
      /MCP_REQUEST_STATE_KEY: is required when MCP_TRUSTED_GATEWAYS has a gateway with fromRequestStateKey/,
    ],
  ];
  for (const [what, env, message] of refusals) {
    it(`refuses ${what}, naming the variable`, () => assert.throws(() => loadConfig(env), message));
  }
});
