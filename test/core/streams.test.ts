// Legacy GET notification streams end after MCP_STREAM_MAX_SECONDS, so an idle listener cannot
// keep a Lambda invocation (and its bill) running until the function timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

describe('legacy GET stream lifetime', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_STREAM_MAX_SECONDS: '1', MCP_SSE_KEEPALIVE_MS: '0' });
  });
  after(async () => {
    await server.stop();
    await dynamo.stop();
  });

  it('closes the stream after the configured lifetime', async () => {
    const init = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    const sessionId = init.headers.get('mcp-session-id')!;
    const started = Date.now();
    const stream = await fetch(server.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    const text = await stream.text(); // resolves when the server ends the stream
    const elapsed = Date.now() - started;
    assert.match(text, /^: stream open/);
    assert.ok(elapsed >= 900 && elapsed < 5000, `stream lasted ${elapsed} ms`);
  });
});
