// The gateway when an upstream misbehaves, with faults injected for real by a proxy in front of
// it: stopped, slow, 5xx, 429 with Retry-After, a 2025-era session forgotten. The other upstreams
// keep working, lists answer without the sick one and say so, its calls fail fast while its
// circuit is open, and it comes back on its own; GET /health?ready shows an admin each upstream's state.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import notes from '../../functions/notes/server.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { GATEWAY_META_KEY } from '../../shared/gateway/catalog.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.ts';
import { modernCaller, startDataPlane, startGateway, startUpstream, text, type RunningGateway } from '../helpers/gateway.ts';
import { startLegacyServer, type LegacyServer } from '../helpers/legacy-server.ts';

type Caller = Awaited<ReturnType<typeof modernCaller>>;
type Missing = { upstream: string; reason: string }[];

describe('gateway with a failing upstream', () => {
  let gateway: RunningGateway;
  let flaky: FaultyProxy;
  let oldProxy: FaultyProxy;
  let old: LegacyServer;
  let caller: Caller;
  let stopAll: () => Promise<void>;
  let admin: Record<string, string>;

  before(async () => {
    const plane = await startDataPlane();
    const store = new ApiKeyStore(
      new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: plane.env.AWS_ENDPOINT_URL_DYNAMODB }), 'mcp-kit'),
      { cacheSeconds: 30 },
    );
    admin = { authorization: `Bearer ${(await store.create({ principalId: 'ops', scopes: ['gateway:admin'] })).key}` };
    // flaky's lists may not be cached, so that every gateway list asks it.
    const [notesServer, echoServer] = await Promise.all([
      startUpstream(notes, plane),
      startUpstream({ ...echo, listCacheHint: { ttlMs: 0, cacheScope: 'private' } }, plane),
    ]);
    old = await startLegacyServer('old');
    [flaky, oldProxy] = await Promise.all([startFaultyProxy(echoServer.url), startFaultyProxy(old.url)]);
    gateway = await startGateway(
      {
        listTimeoutMs: 300,
        upstreams: {
          notes: { url: notesServer.url },
          flaky: {
            url: flaky.url,
            timeouts: { requestMs: 300, callMs: 300 },
            retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
            breaker: { failureThreshold: 3, cooldownMs: 300 },
          },
          old: { url: oldProxy.url },
        },
      },
      plane,
      { MCP_AUTH_MODE: 'apikey' },
    );
    caller = await modernCaller(gateway.url, { headers: admin });
    stopAll = async () => {
      await caller.close();
      await gateway.stop();
      await Promise.all([flaky.close(), oldProxy.close()]);
      await Promise.all([notesServer.stop(), echoServer.stop(), old.stop()]);
      await plane.stop();
    };
  });
  after(() => stopAll());
  beforeEach(async () => {
    flaky.fault = { kind: 'none' };
    flaky.seen.length = 0;
    await flaky.start().catch(() => {});
    await untilClosedAgain();
  });

  const flakyStatus = () => gateway.gateway.upstreams.get('flaky')!.client.status();
  /** Waits out the cooldown, then lets a trial close the circuit. */
  async function untilClosedAgain() {
    while (flakyStatus().state !== 'closed') {
      if (flakyStatus().state === 'half-open')
        await gateway.gateway.upstreams
          .get('flaky')!
          .client.probe()
          .catch(() => {});
      else await new Promise((r) => setTimeout(r, 25));
    }
  }
  async function rawList(): Promise<{ tools: { name: string }[]; ttlMs: number; _meta?: Record<string, { missing?: Missing }> }> {
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        ...admin,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          },
        },
      }),
    });
    return ((await res.json()) as { result: Awaited<ReturnType<typeof rawList>> }).result;
  }
  async function health() {
    const res = await fetch(new URL('/health?ready', gateway.url), { headers: admin });
    return {
      status: res.status,
      body: (await res.json()) as { upstreams: Record<string, { status: string; state: string; latencyMs?: number; era?: string; error?: string }> },
    };
  }

  it("reports each upstream's state and latency in GET /health?ready", async () => {
    const { status, body } = await health();
    assert.equal(status, 200);
    for (const name of ['notes', 'flaky', 'old']) {
      assert.equal(body.upstreams[name]!.status, 'ok', JSON.stringify(body.upstreams[name]));
      assert.equal(body.upstreams[name]!.state, 'closed');
      assert.ok(body.upstreams[name]!.latencyMs! >= 0);
    }
    assert.equal(body.upstreams.old!.era, 'legacy');
    assert.equal(body.upstreams.notes!.era, 'modern');
  });

  it('keeps serving the others while one is stopped, fails its calls fast once its circuit opens, and recovers by itself', async () => {
    const changes: string[] = [];
    caller.setNotificationHandler('notifications/tools/list_changed', () => void changes.push('tools'));
    const subscription = await caller.listen({ toolsListChanged: true });
    assert.ok((await caller.listTools()).tools.some((t) => t.name === 'flaky__echo'));
    await flaky.stop();

    // The list answers without it, says why, and may be kept only briefly.
    const started = performance.now();
    const partial = await rawList();
    assert.ok(performance.now() - started < 2_000, `the list took ${performance.now() - started} ms`);
    assert.ok(!partial.tools.some((t) => t.name.startsWith('flaky__')));
    assert.ok(partial.tools.some((t) => t.name === 'notes__echo'));
    const missing = partial._meta![GATEWAY_META_KEY]!.missing!;
    assert.equal(missing[0]!.upstream, 'flaky');
    assert.match(missing[0]!.reason, /unavailable: ECONNREFUSED|circuit open/);
    assert.ok(partial.ttlMs <= 5_000);

    // Its calls fail as tool errors naming it; once its circuit is open, at once.
    while (flakyStatus().state !== 'open') await caller.callTool({ name: 'flaky__echo', arguments: { text: 'x' } });
    const fast = performance.now();
    const refused = await caller.callTool({ name: 'flaky__echo', arguments: { text: 'x' } });
    // At once: within the 300 ms time limit a call to the upstream may take (the message says why).
    assert.ok(performance.now() - fast < 300, `a call to an open circuit took ${performance.now() - fast} ms`);
    assert.equal(refused.isError, true);
    assert.match(text(refused), /^upstream "flaky": circuit open after repeated failures \(last: unavailable: ECONNREFUSED\); not called again for \d+ s$/);
    assert.equal(text(await caller.callTool({ name: 'notes__echo', arguments: { text: 'still here' } })), 'still here');
    // Readiness results are reused for 2 s.
    while ((await health()).body.upstreams.flaky!.status !== 'circuit open') await new Promise((r) => setTimeout(r, 100));

    // Back: after the cooldown the next call is the trial, and it closes the circuit.
    await flaky.start();
    while (flakyStatus().state === 'open') await new Promise((r) => setTimeout(r, 25));
    assert.equal(text(await caller.callTool({ name: 'flaky__echo', arguments: { text: 'back' } })), 'back');
    assert.equal(flakyStatus().state, 'closed');
    assert.ok((await rawList()).tools.some((t) => t.name === 'flaky__echo'));
    // Listeners heard the list change when it went and when it came back.
    while (changes.length < 2) await new Promise((r) => setTimeout(r, 20));
    await subscription.close();
  });

  it('answers a list without a slow upstream after the list timeout, naming it', async () => {
    flaky.fault = { kind: 'slow', ms: 3_000 };
    const started = performance.now();
    const list = await caller.listTools({ cursor: undefined }, { cacheMode: 'bypass' });
    assert.ok(performance.now() - started < 1_500, `the list took ${performance.now() - started} ms`);
    assert.ok(!list.tools.some((t) => t.name.startsWith('flaky__')));
    assert.deepEqual(
      (list._meta as Record<string, { missing: Missing }>)[GATEWAY_META_KEY]!.missing.map((m) => m.upstream),
      ['flaky'],
    );
    const call = await caller.callTool({ name: 'flaky__echo', arguments: { text: 'x' } });
    assert.equal(call.isError, true);
    assert.match(text(call), /upstream "flaky": (no answer to tools\/call within 300 ms|circuit open)/);
    flaky.fault = { kind: 'none' };
    await untilClosedAgain();
  });

  it('sends a read-only call again after a 5xx, and answers a list in spite of one', async () => {
    flaky.fault = { kind: 'status', status: 503, times: 1 };
    assert.equal(text(await caller.callTool({ name: 'flaky__echo', arguments: { text: 'retried' } })), 'retried');
    assert.equal(flaky.count('tools/call'), 2);
  });

  it("waits out a 429's Retry-After for a read-only call, and hands it to the caller for another", async () => {
    flaky.fault = { kind: 'status', status: 429, retryAfter: '1', times: 1 };
    const started = performance.now();
    assert.equal(text(await caller.callTool({ name: 'flaky__echo', arguments: { text: 'patient' } })), 'patient');
    assert.ok(performance.now() - started >= 990);
    oldProxy.fault = { kind: 'status', status: 429, retryAfter: '7', times: 1 };
    const bumps = old.bumps;
    const limited = await caller.callTool({ name: 'old__bump', arguments: {} });
    assert.equal(limited.isError, true);
    assert.match(text(limited), /^upstream "old": rate limited; retry after 7 s/);
    assert.equal(old.bumps, bumps, 'the refused call did not run');
  });

  it('starts a new session when a 2025-era upstream forgets it, and the call still lands once', async () => {
    const bumps = old.bumps;
    await caller.callTool({ name: 'old__bump', arguments: {} });
    oldProxy.fault = { kind: 'forget-session' };
    const sessions = old.sessions;
    assert.equal(text(await caller.callTool({ name: 'old__bump', arguments: {} })), `bump ${bumps + 2}`);
    assert.equal(old.sessions, sessions + 1);
  });

  it('carries a cancellation to the upstream', async () => {
    const controller = new AbortController();
    const cancelled = old.cancelled;
    const call = caller.callTool(
      { name: 'old__slow', arguments: { steps: 200 } },
      { signal: controller.signal, onprogress: (p) => p.progress === 2 && controller.abort(new Error('user cancelled')) },
    );
    await assert.rejects(call, /user cancelled/);
    while (old.cancelled === cancelled) await new Promise((r) => setTimeout(r, 20));
    assert.equal(gateway.gateway.upstreams.get('old')!.client.status().state, 'closed');
  });
});
