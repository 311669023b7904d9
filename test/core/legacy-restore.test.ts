// A stored 2025-era session restored into a pooled SDK server: the instance must see that
// session's client (capabilities, identity, revision) as the SDK parsed it, and no other's. Only
// the first restore of a session record replays `initialize` through the SDK; later ones seed
// what it parsed (legacy-exchange.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { McpServer } from '@modelcontextprotocol/server';
import { LegacyExchange } from '../../shared/http/legacy-exchange.ts';
import type { SessionRecord } from '../../shared/store/sessions.ts';

const session = (
  id: string,
  protocolVersion: string,
  capabilities: SessionRecord['clientCapabilities'],
  logLevel?: SessionRecord['logLevel'],
): SessionRecord => ({
  id,
  protocolVersion,
  clientInfo: { name: `client-${id}`, version: '1.0.0' },
  clientCapabilities: capabilities,
  ...(logLevel && { logLevel }),
  principalId: 'p',
  createdAt: 0,
  lastSeenAt: 0,
  expiresAt: 0,
});

async function restoreInto(server: McpServer, record: SessionRecord) {
  const exchange = new LegacyExchange({ sessionId: record.id, sse: false, keepAliveMs: 10_000, extra: {} });
  await server.connect(exchange);
  await exchange.restore(record, server.server);
  return exchange;
}

describe('restoring a legacy session into a pooled server', () => {
  it('gives the instance each session in turn, replaying initialize once per session record', async () => {
    const server = new McpServer({ name: 't', version: '1' }, { capabilities: { logging: {} } });
    let initializes = 0;
    const original = server.server as unknown as { _oninitialize(request: unknown): unknown };
    const oninitialize = original._oninitialize.bind(original);
    original._oninitialize = (request) => (initializes++, oninitialize(request));

    const a = session('a', '2025-06-18', { elicitation: { form: {} } });
    const b = session('b', '2025-03-26', {}, 'debug');
    for (const record of [a, b, a, b, a]) {
      const exchange = await restoreInto(server, record);
      assert.deepEqual(server.server.getClientCapabilities(), record.clientCapabilities);
      assert.deepEqual(server.server.getClientVersion(), record.clientInfo);
      assert.equal(server.server.getNegotiatedProtocolVersion(), record.protocolVersion);
      await exchange.close();
    }
    assert.equal(initializes, 2, 'each record was replayed once, then seeded');
  });

  it('seeds the capabilities as the SDK normalized them: elicitation {} from 2025-06-18 means form', async () => {
    const server = new McpServer({ name: 't', version: '1' });
    const record = session('c', '2025-06-18', { elicitation: {} });
    for (let i = 0; i < 2; i++) {
      const exchange = await restoreInto(server, record);
      assert.ok(server.server.getClientCapabilities()?.elicitation?.form, `restore ${i + 1} sees form elicitation`);
      await exchange.close();
    }
  });

  it('answers a call under the restored revision, and keeps serving after the exchange closes', async () => {
    const server = new McpServer({ name: 't', version: '1' });
    server.registerTool('whoami', { description: 'names the client' }, () => ({
      content: [{ type: 'text', text: `${server.server.getClientVersion()?.name} on ${server.server.getNegotiatedProtocolVersion()}` }],
    }));
    for (const record of [session('x', '2025-06-18', {}), session('y', '2024-11-05', {})]) {
      const exchange = await restoreInto(server, record);
      const answer = await exchange.request({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      assert.deepEqual(answer.result, { content: [{ type: 'text', text: `client-${record.id} on ${record.protocolVersion}` }] });
      await exchange.close();
    }
  });
});
