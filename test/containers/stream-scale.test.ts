// Many listen streams on one long-lived server process (the container model), measured with the
// harness `npm run measure:streams` uses: every stream gets an event another instance published
// through Redis within 2 s, memory per stream stays under a bound, and a stream listening for
// something else gets nothing (the control: a kit fanning every event out to every stream fails it);
// the same for the container bundle itself.
// The per-instance limit: the stream past it gets 503 (the SDK alone answered 200 -32603 past 1,024).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultServer, measureContainerStreams } from '../../cost/container-streams.ts';
import notes from '../../functions/notes/server.ts';
import { buildContainer } from '../../local/aws/containers.ts';
import { startInProcess } from '../helpers/server.ts';

const STREAMS = 200;
/** RSS per stream; 1,000 streams measured about 140 kB each (docs/scale.md), heap about 20 kB. */
const RSS_KB_PER_STREAM = 400;
const HEAP_KB_PER_STREAM = 100;

describe('listen streams on one server process (container model)', () => {
  it(`holds ${STREAMS} streams, delivers an event to all within 2 s, and stays under ${RSS_KB_PER_STREAM} kB a stream`, async () => {
    const result = await measureContainerStreams({
      streams: STREAMS,
      clients: 1,
      rounds: 3,
      roundGapMs: 1_500,
      idleSeconds: 1,
      server: defaultServer(),
      serverName: 'notes',
      // The containers' setting: the poller keeps the 1 s pace (one poller per task, not per stream).
      env: { MCP_EVENT_POLL_MAX_MS: '1000' },
    });
    assert.equal(result.opened, STREAMS, `opened ${result.opened}; refused ${JSON.stringify(result.refused)}; errors ${result.errors.join('; ')}`);
    assert.deepEqual(
      result.rounds.map((r) => r.missing),
      [0, 0, 0],
      'every stream got every event',
    );
    assert.equal(result.latency.n, 3 * STREAMS);
    assert.ok(result.latency.p99 < 2_000, `p99 ${result.latency.p99.toFixed(0)} ms`);
    assert.ok(result.memory.rssKbPerStream < RSS_KB_PER_STREAM, `RSS ${result.memory.rssKbPerStream.toFixed(1)} kB a stream`);
    assert.ok(result.memory.heapKbPerStream! < HEAP_KB_PER_STREAM, `heap ${result.memory.heapKbPerStream!.toFixed(1)} kB a stream`);
    assert.equal(result.control.status, 200, 'the control stream opened');
    assert.equal(result.control.listChanges, 0, 'a stream for prompt list changes got no tools list change');
  });

  it('the container bundle itself (runContainer, as start:aws and the task run it; measure:streams --container) holds them and delivers within 2 s', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mcp-stream-bundle-'));
    try {
      const { bundle } = await buildContainer('functions/notes/server.ts', out);
      const result = await measureContainerStreams({
        streams: STREAMS / 2,
        clients: 1,
        rounds: 2,
        roundGapMs: 1_500,
        idleSeconds: 1,
        server: [process.execPath, bundle],
        serverName: 'notes',
        env: { MCP_EVENT_POLL_MAX_MS: '1000' },
      });
      assert.equal(result.opened, STREAMS / 2, `opened ${result.opened}; refused ${JSON.stringify(result.refused)}; errors ${result.errors.join('; ')}`);
      assert.deepEqual(
        result.rounds.map((r) => r.missing),
        [0, 0],
        'every stream got every event',
      );
      assert.ok(result.latency.p99 < 2_000, `p99 ${result.latency.p99.toFixed(0)} ms`);
      assert.ok(result.memory.rssKbPerStream < RSS_KB_PER_STREAM, `RSS ${result.memory.rssKbPerStream.toFixed(1)} kB a stream`);
      assert.equal(result.control.listChanges, 0, 'a stream for prompt list changes got no tools list change');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('the per-instance stream limit', () => {
  const listen = (url: string, id: number, signal: AbortSignal) =>
    fetch(url, {
      method: 'POST',
      signal,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'subscriptions/listen',
        params: {
          notifications: { toolsListChanged: true },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
          },
        },
      }),
    });

  it('answers the stream past it 503 with Retry-After, and takes a new one once a stream ends', async () => {
    const server = await startInProcess(notes, {
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
      MCP_STREAMS_PER_PRINCIPAL: '100',
      MCP_CONTAINER_STREAMS: '3',
    });
    const clients = [new AbortController(), new AbortController(), new AbortController()];
    try {
      const held = await Promise.all(clients.map((c, i) => listen(server.url, i, c.signal)));
      for (const r of held) assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
      const spare = new AbortController();
      const past = await listen(server.url, 9, spare.signal);
      assert.equal(past.status, 503);
      assert.ok(Number(past.headers.get('retry-after')) > 0, 'says when to retry');
      assert.match(((await past.json()) as { error: { message: string } }).error.message, /most notification streams \(3, MCP_CONTAINER_STREAMS\)/);
      // A client that leaves frees its place: wait until the server sees it go.
      clients[0]!.abort();
      let next: Response | undefined;
      for (let tries = 0; tries < 50 && next?.status !== 200; tries++) {
        if (next) await next.text();
        await new Promise((r) => setTimeout(r, 100));
        next = await listen(server.url, 10 + tries, spare.signal);
      }
      assert.equal(next?.status, 200);
      assert.match(next!.headers.get('content-type') ?? '', /text\/event-stream/);
      spare.abort();
    } finally {
      for (const c of clients) c.abort();
      await server.stop();
    }
  });
});
