// The resilient client's OAuth against a real kit server acting as a resource server and a real
// authorization server: an authorization-code grant, completed when the caller hands over the
// authorization callback, in both eras; and authorization failures are refusals (UpstreamAuthError)
// that never count against the server's circuit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { UpstreamAuthError } from '../../shared/client/errors.ts';
import { ResilientClient } from '../../shared/client/resilient-client.ts';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { serveApp } from '../../shared/adapters/node.ts';
import { ConsentedUserAgent } from '../helpers/consented-user-agent.ts';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.ts';
import { QUIET, startTestDynamo, startTestS3 } from '../helpers/server.ts';
import { freePort } from '../../local/free-port.ts';

describe('resilient client OAuth', () => {
  let as: OAuthServer;
  let url: string;
  let stopAll: () => Promise<void>;
  const clients: ResilientClient[] = [];

  before(async () => {
    const [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    as = await startOAuthServer({ audience: url });
    const kit = createKit(
      notes,
      loadConfig({
        ...QUIET,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        MCP_AUTH_MODE: 'oauth',
        MCP_OAUTH_ISSUER: as.issuer,
        MCP_PUBLIC_URL: url,
      }),
    );
    const served = await serveApp(kit.app, { port, host: '127.0.0.1' });
    stopAll = async () => {
      await served.close();
      await kit.close();
      await as.close();
      await Promise.all([dynamo.stop(), s3.stop()]);
    };
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopAll();
  });

  function client(protocol: 'modern' | 'legacy', auth: ConstructorParameters<typeof ResilientClient>[0]['auth']) {
    const c = new ResilientClient({ name: 'notes', url, protocol, retry: { attempts: 1 }, ...(auth && { auth }) });
    clients.push(c);
    return c;
  }

  for (const protocol of ['modern', 'legacy'] as const) {
    it(`completes an authorization-code grant when given the callback, then calls with the token (${protocol})`, async () => {
      const agent = new ConsentedUserAgent();
      as.log.length = 0;
      const c = client(protocol, agent.auth());
      const { tools } = await c.listTools();
      assert.ok(tools.some((t) => t.name === 'note_add'));
      assert.equal(c.status().era, protocol);
      assert.ok(as.log.includes('GET /authorize') && as.log.includes('grant authorization_code'), as.log.join('; '));
      // The token is kept: a second call asks the authorization server nothing.
      const before = as.log.length;
      await c.callTool({ name: 'echo', arguments: { text: 'again' } });
      assert.equal(as.log.length, before, as.log.slice(before).join('; '));
    });
  }

  it('without the callback, a grant that needs the user is refused as UpstreamAuthError, and the circuit stays closed', async () => {
    const agent = new ConsentedUserAgent();
    const c = client('modern', { oauth: agent });
    await assert.rejects(c.listTools(), (err: unknown) => err instanceof UpstreamAuthError && err.status === 401);
    assert.deepEqual([c.status().state, c.status().consecutiveFailures], ['closed', 0]);
  });

  it('a callback that does not come (the user said no, say) is an UpstreamAuthError naming why, and the circuit stays closed', async () => {
    const agent = new ConsentedUserAgent();
    const c = client('modern', { oauth: agent, authorizationResponse: () => Promise.reject(new Error('the user closed the window')) });
    await assert.rejects(c.listTools(), (err: unknown) => err instanceof UpstreamAuthError && /the user closed the window/.test(err.message));
    assert.deepEqual([c.status().state, c.status().consecutiveFailures], ['closed', 0]);
  });

  it("refuses a callback whose iss is not the authorization server's (RFC 9207), as UpstreamAuthError, and the circuit stays closed", async () => {
    const agent = new ConsentedUserAgent();
    const forged = async () => {
      const params = await agent.authorizationResponse();
      params.set('iss', 'https://evil.example.com');
      return params;
    };
    const c = client('legacy', { oauth: agent, authorizationResponse: forged });
    as.log.length = 0;
    await assert.rejects(c.listTools(), (err: unknown) => err instanceof UpstreamAuthError && /issuer/i.test(err.message));
    assert.ok(!as.log.includes('grant authorization_code'), 'the code must not be redeemed');
    assert.deepEqual([c.status().state, c.status().consecutiveFailures], ['closed', 0]);
  });
});
