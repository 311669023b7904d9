// The CloudFront viewer-response function, run on CloudFront-shaped events: an OAuth challenge that
// API Gateway renamed reaches the client as WWW-Authenticate again; other responses pass untouched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

type Headers = Record<string, { value: string; multiValue?: { value: string }[] }>;
interface ViewerResponseEvent {
  response: { statusCode: number; headers: Headers };
}

const source = readFileSync(new URL('../../infra/edge/restore-www-authenticate.js', import.meta.url), 'utf8');
// CloudFront Functions are a script with a top-level `handler`, not a module.
const handler = new Function(`${source}\nreturn handler;`)() as (event: ViewerResponseEvent) => ViewerResponseEvent['response'];

function respond(statusCode: number, headers: Headers): ViewerResponseEvent['response'] {
  return handler({ response: { statusCode, headers: structuredClone(headers) } });
}

describe('restore-www-authenticate (CloudFront Function)', () => {
  it('renames x-amzn-remapped-www-authenticate back to www-authenticate', () => {
    const challenge = 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"';
    const response = respond(401, {
      'x-amzn-remapped-www-authenticate': { value: challenge },
      'content-type': { value: 'application/json' },
    });
    assert.equal(response.statusCode, 401);
    assert.deepEqual(response.headers, {
      'www-authenticate': { value: challenge },
      'content-type': { value: 'application/json' },
    });
  });

  it('keeps every value of a repeated challenge', () => {
    const multiValue = [{ value: 'Bearer realm="mcp"' }, { value: 'ApiKey realm="mcp"' }];
    const response = respond(401, { 'x-amzn-remapped-www-authenticate': { value: 'Bearer realm="mcp"', multiValue } });
    assert.deepEqual(response.headers['www-authenticate']?.multiValue, multiValue);
  });

  it('leaves responses without a remapped challenge as they are', () => {
    const headers = { 'content-type': { value: 'text/event-stream' }, 'cache-control': { value: 'no-cache' } };
    assert.deepEqual(respond(200, headers), { statusCode: 200, headers });
  });

  it('fits the CloudFront Functions code limit of 10 KB', () => {
    assert.ok(Buffer.byteLength(source) < 10_240);
  });
});
