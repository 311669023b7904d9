// The key pair a gateway signs its on-behalf-of assertions with, derived from a secret string
// (the data plane's request-state key) with HKDF-SHA-256 into an Ed25519 seed: one secret in the
// data plane gives every gateway instance the same key, and an upstream on that data plane the
// same public key, with nothing more to generate, store or rotate. Web Crypto only.
import type { JWK } from 'jose';

/** Binds the derived key to its one use: nothing else derived from the secret can equal it. */
const INFO = new TextEncoder().encode('serverless-mcp-kit gateway assertion Ed25519 v1');
/** PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410): this prefix, then the 32 bytes. */
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

export interface GatewayKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** The public half as a JWK (`kid`, `alg: EdDSA`, `use: sig`), as a JWKS publishes it. */
  readonly publicJwk: JWK;
}

const base64url = (bytes: ArrayBuffer) => Buffer.from(bytes).toString('base64url');

async function seedOf(secret: string): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: INFO }, material, 256));
}

/** The key pair derived from `secret`; its `kid` is the RFC 7638 thumbprint of the public key. */
export async function deriveGatewayKey(secret: string): Promise<GatewayKey> {
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(await seedOf(secret), PKCS8_PREFIX.length);
  const extractable = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const { x } = (await crypto.subtle.exportKey('jwk', extractable)) as { x: string };
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const kid = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`)));
  return { kid, privateKey, publicJwk: Object.freeze({ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' }) };
}
