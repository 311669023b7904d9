// The origin lock (shared/http/origin-verify.ts): with MCP_ORIGIN_VERIFY on, a request without
// CloudFront's header, or with a wrong one, gets 403 naming the URL to use; the current and the
// previous value (rotation) both pass; off, nothing is checked. On a real app, in process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { ORIGIN_VERIFY_HEADER, originVerifier } from '../../shared/http/origin-verify.ts';

const CURRENT = 'current-origin-secret-0123456789';
const PREVIOUS = 'previous-origin-secret-0123456789';
const request = (value?: string) =>
  new Request('https://api.example/dev/mcp', { method: 'POST', headers: value === undefined ? {} : { [ORIGIN_VERIFY_HEADER]: value } });

describe('the origin header check', () => {
  it('is off unless MCP_ORIGIN_VERIFY asks, and then needs MCP_ORIGIN_SECRET', () => {
    assert.deepEqual(loadConfig({}).originSecrets, []);
    assert.equal(originVerifier(loadConfig({}).originSecrets), undefined);
    assert.throws(
      () => loadConfig({ MCP_ORIGIN_VERIFY: 'true' }),
      (e) => e instanceof ConfigError && e.variable === 'MCP_ORIGIN_SECRET',
    );
    assert.throws(() => loadConfig({ MCP_ORIGIN_VERIFY: 'true', MCP_ORIGIN_SECRET: 'short' }), /at least 16 characters/);
  });

  it('refuses a request without the header or with a wrong value, with a 403 that says which URL to use', async () => {
    const verify = originVerifier(loadConfig({ MCP_ORIGIN_VERIFY: 'true', MCP_ORIGIN_SECRET: CURRENT, MCP_ORIGIN_SECRET_PREVIOUS: PREVIOUS }).originSecrets)!;
    for (const value of [undefined, '', `${CURRENT}x`, CURRENT.slice(0, -1)]) {
      const refused = verify(request(value));
      assert.equal(refused?.status, 403, `value ${JSON.stringify(value)}`);
      const body = (await refused!.json()) as { error: { message: string } };
      assert.match(body.error.message, /reached through its CloudFront URL only .*origin header.*McpUrl output/);
    }
  });

  it('accepts the current value and, while rotating, the previous one', () => {
    const verify = originVerifier(loadConfig({ MCP_ORIGIN_VERIFY: 'true', MCP_ORIGIN_SECRET: CURRENT, MCP_ORIGIN_SECRET_PREVIOUS: PREVIOUS }).originSecrets)!;
    assert.equal(verify(request(CURRENT)), undefined);
    assert.equal(verify(request(PREVIOUS)), undefined);
    const afterRotation = originVerifier(loadConfig({ MCP_ORIGIN_VERIFY: 'true', MCP_ORIGIN_SECRET: CURRENT }).originSecrets)!;
    assert.equal(afterRotation(request(PREVIOUS))?.status, 403, 'a value dropped from the secret is refused');
  });
});
