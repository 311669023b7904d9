// Two server processes sharing DynamoDB and Redis emulators: a list change announced by a tool on
// A reaches a 2026-07-28 client listening on B, and a 2025-era client's GET stream on B.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { streamSlotKeys } from '../../shared/http/stream-slots.ts';
import { createRedis } from '../../shared/redis.ts';
import { startChild, startTestDynamo, type ChildServer } from '../helpers/server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

describe('events across instances (Redis)', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let redis: TestRedis;
  let a: ChildServer;
  let b: ChildServer;

  before(async () => {
    [dynamo, redis] = await Promise.all([startTestDynamo(), startTestRedis()]);
    const env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', MCP_EVENT_POLL_MS: '50', ...redis.env };
    [a, b] = await Promise.all([startChild(env, 'test/fixtures/announcer.ts'), startChild(env, 'test/fixtures/announcer.ts')]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.dispose();
    await dynamo?.stop();
  });

  it('a change announced on A arrives on B’s subscriptions/listen stream and GET stream', async () => {
    const modern = new ModernClient({ name: 'listener', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await modern.connect(new ModernTransport(new URL(b.url)));
    const onListen = new Promise<void>((resolve) => modern.setNotificationHandler('notifications/tools/list_changed', () => resolve()));
    const subscription = await modern.listen({ toolsListChanged: true });

    const legacy = new LegacyClient({ name: 'legacy-listener', version: '1' });
    const onGet = new Promise<void>((resolve) => legacy.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await legacy.connect(new LegacyTransport(new URL(b.url)));
    // The 1.x client opens its GET stream right after initialize, without waiting for it: both
    // streams are open once both hold their slot (a fixed 300 ms wait raced it on a loaded machine).
    const [serverStreams] = streamSlotKeys('announcer', 'anonymous');
    const slots = createRedis({ url: redis.url, token: redis.token, timeoutMs: 2000 });
    for (let i = 0; (await slots.zcard(serverStreams)) < 2; i++) {
      assert.ok(i < 200, 'the listen stream and the GET stream did not both open on B');
      await new Promise((r) => setTimeout(r, 25));
    }

    const announcer = new ModernClient({ name: 'announcer', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await announcer.connect(new ModernTransport(new URL(a.url)));
    const started = Date.now();
    await announcer.callTool({ name: 'announce', arguments: {} });

    await Promise.race([
      Promise.all([onListen, onGet]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('notification did not cross instances within 5 s')), 5000)),
    ]);
    assert.ok(Date.now() - started < 5000);
    await subscription.close();
    await Promise.all([modern.close(), legacy.close(), announcer.close()]);
  });
});
