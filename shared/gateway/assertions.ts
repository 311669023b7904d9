// The gateway speaking for its caller: per caller and upstream, a JWT assertion signed with the
// gateway's key (shared/auth/gateway-keys.ts), sent as `Authorization: Bearer` to upstreams whose
// identity is on-behalf-of and checked there (shared/auth/gateway-assertion.ts): `sub` the caller,
// `act.sub` and `iss` the gateway (RFC 8693), `aud` the upstream's URL, `scope` the caller's
// scopes the configuration forwards to it, 60 s of life, a fresh `jti`. An assertion is reused
// for its caller and upstream until 20 s before it expires, so a call signs nothing most of the
// time. The caller's own token is never sent on.
import { loadJose } from '../auth/jwt.ts';
import { ASSERTION_MAX_SECONDS, ASSERTION_TYPE } from '../auth/gateway-assertion.ts';
import { deriveGatewayKey, type GatewayKey } from '../auth/gateway-keys.ts';
import { ANONYMOUS, type Principal } from '../principal.ts';
import type { UpstreamConfig } from './config.ts';

/** An assertion is replaced when less than this much of its life is left: no request carries one about to expire. */
const RENEW_BEFORE_SECONDS = 20;
/** Callers and assertions remembered at most; the least recently used go first. */
const MAX_ENTRIES = 10_000;

/** A Map that forgets its least recently used entry past `max`. */
function touch<K, V>(map: Map<K, V>, key: K, value: V, max: number) {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

export class OnBehalfOf {
  private key: Promise<GatewayKey> | undefined;
  private readonly callers = new Map<string, Principal>();
  private readonly signed = new Map<string, { token: string; renewAt: number }>();

  constructor(
    private readonly gateway: string,
    private readonly secret: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The partition a caller's upstream calls run in: its principal and scopes, since one owner's
   * API keys may carry different scopes. Remembered, so an assertion can be signed for it later.
   */
  partition(principal: Principal): string {
    const partition = JSON.stringify([principal.id, [...principal.scopes].sort()]);
    touch(this.callers, partition, principal, MAX_ENTRIES);
    return partition;
  }

  /** The headers that carry the caller of `partition` to `upstream`; no partition (a probe) is made for `anonymous`. */
  async headers(partition: string, upstream: UpstreamConfig): Promise<Record<string, string>> {
    const caller = partition === '' ? ANONYMOUS : this.callers.get(partition);
    if (!caller) throw new Error(`no caller is known for partition ${partition}`);
    const cacheKey = `${upstream.name}\n${partition}`;
    const now = this.now();
    const cached = this.signed.get(cacheKey);
    if (cached && cached.renewAt > now) return { authorization: `Bearer ${cached.token}` };
    const token = await this.sign(caller, upstream, Math.floor(now / 1000));
    touch(this.signed, cacheKey, { token, renewAt: now + (ASSERTION_MAX_SECONDS - RENEW_BEFORE_SECONDS) * 1000 }, MAX_ENTRIES);
    return { authorization: `Bearer ${token}` };
  }

  private async sign(caller: Principal, upstream: UpstreamConfig, iat: number): Promise<string> {
    if (!this.secret) throw new Error('the gateway has no signing key (MCP_REQUEST_STATE_KEY)');
    const [lib, key] = await Promise.all([loadJose(), (this.key ??= deriveGatewayKey(this.secret))]);
    const scope = caller.scopes.filter((s) => upstream.forwardScopes.includes(s)).join(' ');
    return new lib.SignJWT({ act: { sub: this.gateway }, ...(scope && { scope }) })
      .setProtectedHeader({ alg: 'EdDSA', typ: ASSERTION_TYPE, kid: key.kid })
      .setIssuer(this.gateway)
      .setSubject(caller.id)
      .setAudience(upstream.url)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_MAX_SECONDS)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
  }
}
