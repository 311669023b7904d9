// The Lambda@Edge origin-response handler, run on events shaped as CloudFront sends them: a 401 or
// 403 challenge that API Gateway renamed reaches the client as WWW-Authenticate again, with every
// value kept; nothing else about any response changes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EdgeHeaders, handler, type OriginResponseEvent } from '../../infra/edge/restore-www-authenticate.mjs';

const METADATA = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

/** What CloudFront hands an origin-response trigger: the origin's status and headers, no body. */
function originResponse(status: number, headers: EdgeHeaders): OriginResponseEvent {
  return {
    Records: [
      {
        cf: {
          config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', eventType: 'origin-response' },
          request: { method: 'POST', uri: '/mcp', headers: {} },
          response: { status: String(status), statusDescription: 'from API Gateway', headers: structuredClone(headers) },
        },
      },
    ],
  };
}

describe('restore-www-authenticate (Lambda@Edge, origin response)', () => {
  it('gives a 401 its WWW-Authenticate back, so OAuth clients find the metadata', async () => {
    const challenge = `Bearer resource_metadata="${METADATA}"`;
    const response = await handler(
      originResponse(401, {
        'x-amzn-remapped-www-authenticate': [{ key: 'x-amzn-Remapped-WWW-Authenticate', value: challenge }],
        'content-type': [{ key: 'Content-Type', value: 'application/json' }],
        'x-amzn-requestid': [{ key: 'x-amzn-RequestId', value: 'c0ffee' }],
      }),
    );
    assert.equal(response.status, '401');
    assert.deepEqual(response.headers, {
      'www-authenticate': [{ key: 'WWW-Authenticate', value: challenge }],
      'content-type': [{ key: 'Content-Type', value: 'application/json' }],
      'x-amzn-requestid': [{ key: 'x-amzn-RequestId', value: 'c0ffee' }],
    });
  });

  it('gives a 403 insufficient_scope challenge its name back', async () => {
    const challenge = 'Bearer error="insufficient_scope", scope="notes/admin"';
    const response = await handler(
      originResponse(403, { 'x-amzn-remapped-www-authenticate': [{ key: 'x-amzn-Remapped-WWW-Authenticate', value: challenge }] }),
    );
    assert.equal(response.status, '403');
    assert.deepEqual(response.headers, { 'www-authenticate': [{ key: 'WWW-Authenticate', value: challenge }] });
  });

  it('keeps every value of a repeated challenge, in order', async () => {
    const values = [`Bearer resource_metadata="${METADATA}"`, 'ApiKey realm="mcp"'];
    const response = await handler(
      originResponse(401, { 'x-amzn-remapped-www-authenticate': values.map((value) => ({ key: 'x-amzn-Remapped-WWW-Authenticate', value })) }),
    );
    assert.deepEqual(
      response.headers['www-authenticate']?.map((h) => h.value),
      values,
    );
    assert.equal(response.headers['x-amzn-remapped-www-authenticate'], undefined);
  });

  it('leaves responses without a renamed challenge exactly as they came, streams included', async () => {
    const headers: EdgeHeaders = {
      'content-type': [{ key: 'Content-Type', value: 'text/event-stream' }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-cache' }],
      'transfer-encoding': [{ key: 'Transfer-Encoding', value: 'chunked' }],
      'x-amzn-remapped-date': [{ key: 'x-amzn-Remapped-Date', value: 'Tue, 03 Nov 2026 10:00:00 GMT' }],
    };
    for (const status of [200, 404, 500]) {
      const event = originResponse(status, headers);
      const expected = structuredClone(event.Records[0].cf.response);
      assert.deepEqual(await handler(event), expected);
    }
  });
});
