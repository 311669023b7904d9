// The resilient client against real servers: a kit server (both eras), an SDK 1.x server that
// speaks only the 2025 era, and a real proxy in front of them injecting faults as they happen (a
// stopped port, a slow answer, 5xx, 429 with Retry-After, a forgotten session). What a user of the
// client notices: which calls are sent again and which are not, how long it waits, when it stops
// calling a server that is down and that it comes back on its own.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import {
  CircuitOpenError,
  UpstreamProtocolError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../shared/client/errors.ts';
import { CircuitBreaker } from '../../shared/client/breaker.ts';
import { ResilientClient, type ResilientClientOptions } from '../../shared/client/resilient-client.ts';
import { PendingWork } from '../../shared/pending-work.ts';
import { startFaultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.ts';
import { startLegacyServer, type LegacyServer } from '../helpers/legacy-server.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { DynamoUpstreamSessions } from '../../shared/store/upstream-sessions.ts';
import type { UpstreamSessionStore } from '../../shared/client/connection.ts';

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe('resilient client', () => {
  let stopAll: () => Promise<void>;
  let kitUrl: string;
  let legacy: LegacyServer;
  let proxy: FaultyProxy;
  let dynamoEndpoint: string;
  const clients: ResilientClient[] = [];

  before(async () => {
    const [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const kit = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, MCP_SSE_KEEPALIVE_MS: '0' });
    kitUrl = kit.url;
    dynamoEndpoint = dynamo.endpoint;
    legacy = await startLegacyServer();
    proxy = await startFaultyProxy(kitUrl);
    stopAll = async () => {
      await proxy.close();
      await legacy.stop();
      await kit.stop();
      await Promise.all([dynamo.stop(), s3.stop()]);
    };
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopAll();
  });
  beforeEach(async () => {
    proxy.fault = { kind: 'none' };
    proxy.seen.length = 0;
    await proxy.start().catch(() => {});
  });

  function client(options: Partial<ResilientClientOptions> & { url: string }) {
    const c = new ResilientClient({ name: 'notes', retry: { baseDelayMs: 5, maxDelayMs: 20 }, ...options });
    clients.push(c);
    return c;
  }

  describe('eras', () => {
    it('speaks 2026-07-28 to a server that answers server/discover, and serves a list from cache for its ttlMs', async () => {
      const c = client({ url: proxy.url });
      const { tools } = await c.listTools();
      assert.ok(tools.some((t) => t.name === 'note_add'));
      assert.equal(c.status().era, 'modern');
      await c.listTools();
      assert.equal(proxy.count('tools/list'), 1, 'the second list should come from the cache (ttlMs 60 s)');
      assert.equal(proxy.count('initialize'), 0);
      assert.equal(text(await c.callTool({ name: 'echo', arguments: { text: 'hi' } })), 'hi');
    });

    it('falls back to a 2025 session for a server that only speaks 2025, and reuses what it learned', async () => {
      const c = client({ name: 'legacy', url: legacy.url });
      assert.equal(text(await c.callTool({ name: 'echo', arguments: { text: 'old' } })), 'old');
      assert.equal(c.status().era, 'legacy');
      // A second client in this process skips the discover probe: straight to initialize.
      const sessions = legacy.sessions;
      const again = client({ name: 'legacy', url: legacy.url });
      await again.callTool({ name: 'echo', arguments: { text: 'x' } });
      assert.equal(legacy.sessions, sessions + 1);
    });

    it('gives each partition its own 2025 session', async () => {
      const c = client({ name: 'legacy', url: legacy.url, protocol: 'legacy' });
      const sessions = legacy.sessions;
      await c.callTool({ name: 'echo', arguments: { text: 'a' } }, { partition: 'apikey:a' });
      await c.callTool({ name: 'echo', arguments: { text: 'b' } }, { partition: 'apikey:b' });
      await c.callTool({ name: 'echo', arguments: { text: 'a' } }, { partition: 'apikey:a' });
      assert.equal(legacy.sessions, sessions + 2);
    });

    it('re-initializes when the server forgets the session, and sends the refused call once more', async () => {
      const c = client({ url: proxy.url, protocol: 'legacy' });
      await c.callTool({ name: 'note_add', arguments: { text: 'first' } });
      proxy.fault = { kind: 'forget-session' };
      proxy.seen.length = 0;
      const result = await c.callTool({ name: 'note_add', arguments: { text: 'second' } });
      assert.match(text(result), /^Added note 1 to session notebook/, 'a new session starts a new session notebook');
      assert.deepEqual(
        proxy.seen.map((s) => s.method),
        ['tools/call', 'initialize', 'notifications/initialized', 'tools/call'],
      );
    });
  });

  describe('2025-era sessions kept in a store (the gateway across Lambda environments)', () => {
    /** A store on the test table that counts its reads; each client stands for another process (another gateway environment). */
    const store = () =>
      new (class extends DynamoUpstreamSessions {
        reads = 0;
        override get(...args: Parameters<DynamoUpstreamSessions['get']>) {
          this.reads++;
          return super.get(...args);
        }
      })(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint }), 'mcp-kit'), `gw-${crypto.randomUUID()}`, 3600);
    const methods = () => proxy.seen.map((s) => s.method);

    it("resumes the partition's session another process opened: its session notebook, no initialize (control: without a store, a new session)", async () => {
      for (const kept of [true, false]) {
        const sessions = kept ? store() : undefined;
        const first = client({ url: proxy.url, protocol: 'legacy', ...(sessions && { sessions }) });
        await first.callTool({ name: 'note_add', arguments: { text: 'one' } }, { partition: 'alice' });
        proxy.seen.length = 0;
        const reads = sessions?.reads;
        const other = client({ url: proxy.url, protocol: 'legacy', ...(sessions && { sessions }) });
        const added = text(await other.callTool({ name: 'note_add', arguments: { text: 'two' } }, { partition: 'alice' }));
        assert.match(added, kept ? /^Added note 2 to session notebook/ : /^Added note 1 to session notebook/, `kept: ${kept}`);
        assert.equal(methods().includes('initialize'), !kept, methods().join());
        // Resumed with the capabilities the handshake reported: the lists are not empty.
        assert.ok((await other.listTools({ partition: 'alice' })).tools.some((t) => t.name === 'note_add'));
        await other.callTool({ name: 'note_list', arguments: {} }, { partition: 'alice' });
        // One read when this process first connects the partition, none per call.
        if (sessions) assert.equal(sessions.reads - reads!, 1);
        // Another partition is another session, stored or not.
        assert.match(text(await other.callTool({ name: 'note_add', arguments: { text: 'b' } }, { partition: 'bob' })), /^Added note 1 to session notebook/);
      }
    });

    it('replaces a kept session the server forgot: a new initialize, recorded for the next process', async () => {
      const sessions = store();
      const first = client({ url: proxy.url, protocol: 'legacy', sessions });
      await first.callTool({ name: 'note_add', arguments: { text: 'one' } }, { partition: 'alice' });
      const forgotten = (await sessions.get('notes', 'alice'))!.id;
      proxy.fault = { kind: 'forget-session' };
      proxy.seen.length = 0;
      const other = client({ url: proxy.url, protocol: 'legacy', sessions });
      assert.match(text(await other.callTool({ name: 'note_add', arguments: { text: 'two' } }, { partition: 'alice' })), /^Added note 1 to session notebook/);
      assert.deepEqual(methods(), ['tools/call', 'initialize', 'notifications/initialized', 'tools/call']);
      const replaced = (await sessions.get('notes', 'alice', true))!.id;
      assert.notEqual(replaced, forgotten);
      proxy.seen.length = 0;
      const third = client({ url: proxy.url, protocol: 'legacy', sessions });
      assert.match(text(await third.callTool({ name: 'note_add', arguments: { text: 'three' } }, { partition: 'alice' })), /^Added note 2 to session notebook/);
      assert.deepEqual(methods(), ['tools/call']);
    });

    it("slides a kept session's expiry while it is used (never that of a session recorded in its place)", async () => {
      // A 10 s lifetime: written at most once a second.
      const table = new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint }), 'mcp-kit');
      const owner = `gw-${crypto.randomUUID()}`;
      // Calls do not wait for their touch: the test waits for each one to settle before reading the table.
      const touches: Promise<void>[] = [];
      const sessions = new (class extends DynamoUpstreamSessions {
        override touch(...args: Parameters<DynamoUpstreamSessions['touch']>) {
          const touched = super.touch(...args);
          touches.push(touched);
          return touched;
        }
      })(table, owner, 10);
      const c = client({ url: proxy.url, protocol: 'legacy', sessions });
      const item = async () => (await Promise.all(touches), (await table.get(`UPSESSION#${owner}#notes#alice`, 'META', true))!);
      await c.callTool({ name: 'note_add', arguments: { text: 'one' } }, { partition: 'alice' });
      const recorded = (await sessions.get('notes', 'alice', true))!;
      const writtenAt = Number((await item()).expiresAt!.N) - 10;
      while (Math.floor(Date.now() / 1000) - writtenAt < 1) await new Promise((r) => setTimeout(r, 50));
      await c.callTool({ name: 'note_list', arguments: {} }, { partition: 'alice' });
      const slid = await item();
      assert.ok(Number(slid.expiresAt!.N) > writtenAt + 10, `expiry ${slid.expiresAt!.N} not past ${writtenAt + 10}`);
      assert.equal(slid.sessionId!.S, recorded.id);
      // Another session recorded in its place (the upstream forgot this one elsewhere) is not touched by this one.
      assert.ok(await sessions.put('notes', 'alice', { ...recorded, id: 'another' }, recorded.id));
      const theirs = Number((await item()).expiresAt!.N);
      while (Math.floor(Date.now() / 1000) - (theirs - 10) < 1) await new Promise((r) => setTimeout(r, 50));
      await c.callTool({ name: 'note_list', arguments: {} }, { partition: 'alice' });
      const after = await item();
      assert.equal(after.sessionId!.S, 'another');
      assert.equal(Number(after.expiresAt!.N), theirs);
      assert.equal(touches.length, 3, 'control: every call touched');
    });

    it('answers a call without waiting for its session touch, and reports a touch that fails', { timeout: 10_000 }, async () => {
      const dynamo = new DynamoUpstreamSessions(
        new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint }), 'mcp-kit'),
        `gw-${crypto.randomUUID()}`,
        10,
      );
      let failTouch!: (err: Error) => void;
      let touched = 0;
      const sessions: UpstreamSessionStore = {
        get: (...args) => dynamo.get(...args),
        put: (...args) => dynamo.put(...args),
        // A touch that hangs until the test fails it, after the call has been answered.
        touch: () => (touched++, new Promise<void>((_, reject) => (failTouch = reject))),
      };
      const reported: [string, unknown][] = [];
      let reportedOne!: () => void;
      const report = new Promise<void>((resolve) => (reportedOne = resolve));
      // The kit's pending work holds the touch, so on Lambda the invocation finishes it rather than freezing it.
      const pending = new PendingWork();
      const c = client({
        url: proxy.url,
        protocol: 'legacy',
        sessions,
        pending,
        onBackgroundError: (what, err) => (reported.push([what, err]), reportedOne()),
      });
      assert.match(text(await c.callTool({ name: 'note_add', arguments: { text: 'one' } }, { partition: 'alice' })), /^Added note/);
      assert.equal(touched, 1, 'control: the call touched its session');
      assert.deepEqual(reported, []);
      assert.equal(pending.size, 1, 'the touch in flight is pending work');
      assert.equal(await pending.settled(20), false, 'settling waits for it (and gives up after its bound)');
      failTouch(new Error('table unavailable'));
      assert.equal(await pending.settled(5_000), true, 'settled once the touch did');
      assert.equal(pending.size, 0);
      await report;
      assert.equal(reported[0]![0], 'session touch');
      assert.match(String(reported[0]![1]), /table unavailable/);
    });
  });

  describe('server-to-client requests', () => {
    it("answers a 2025-era server's elicitation through onElicitation, the SDK filling in the schema's defaults", async () => {
      const asked: unknown[] = [];
      const c = client({
        name: 'legacy',
        url: legacy.url,
        capabilities: { elicitation: { form: { applyDefaults: true } } },
        onElicitation: async (params) => (asked.push(params.message), { action: 'accept', content: {} }),
      });
      assert.equal(text(await c.callTool({ name: 'ask' })), 'accept {"city":"Oslo"}');
      assert.deepEqual(asked, ['Which city?']);
    });

    it('without onElicitation, the server is told the client cannot answer (method not found), and its tool says so', async () => {
      const c = client({ name: 'legacy', url: legacy.url });
      const result = (await c.callTool({ name: 'ask' })) as { isError?: boolean };
      assert.equal(result.isError, true);
      assert.equal(text(result), 'MCP error -32601: Method not found');
    });
  });

  describe('retries', () => {
    it('sends a list again after 5xx answers, and then gets it', async () => {
      const c = client({ url: proxy.url });
      await c.capabilities();
      proxy.fault = { kind: 'status', status: 503, times: 2 };
      const { tools } = await c.listTools();
      assert.ok(tools.length > 0);
      assert.equal(proxy.count('tools/list'), 3);
    });

    it('does not send a tool that is neither read-only nor idempotent again after a 5xx', async () => {
      const c = client({ url: proxy.url });
      await c.listTools();
      proxy.fault = { kind: 'status', status: 502, times: 1 };
      await assert.rejects(c.callTool({ name: 'note_add', arguments: { text: 'once' } }), (err: unknown) => {
        assert.ok(err instanceof UpstreamUnavailableError);
        assert.match(err.message, /^upstream "notes": unavailable: HTTP 502: injected 502/);
        return true;
      });
      assert.equal(proxy.count('tools/call'), 1);
    });

    it('sends a read-only tool again after a 5xx', async () => {
      const c = client({ url: proxy.url });
      await c.listTools();
      proxy.fault = { kind: 'status', status: 500, times: 1 };
      assert.equal(text(await c.callTool({ name: 'echo', arguments: { text: 'again' } })), 'again');
      assert.equal(proxy.count('tools/call'), 2);
    });

    it('waits as long as Retry-After says before sending a safe call again', async () => {
      const c = client({ url: proxy.url });
      await c.capabilities();
      proxy.fault = { kind: 'status', status: 429, retryAfter: '1', times: 1 };
      const started = performance.now();
      await c.listPrompts();
      assert.ok(performance.now() - started >= 990, `retried after ${performance.now() - started} ms`);
      assert.equal(proxy.count('prompts/list'), 2);
    });

    it('hands a 429 on an unsafe call to the caller with its Retry-After', async () => {
      const c = client({ url: proxy.url });
      await c.listTools();
      proxy.fault = { kind: 'status', status: 429, retryAfter: '7', times: 1 };
      await assert.rejects(c.callTool({ name: 'note_add', arguments: { text: 'x' } }), (err: unknown) => {
        assert.ok(err instanceof UpstreamRateLimitedError);
        assert.equal(err.retryAfterMs, 7_000);
        return true;
      });
      assert.equal(proxy.count('tools/call'), 1);
    });

    it('does not wait for a Retry-After longer than it allows', async () => {
      const c = client({ url: proxy.url, retry: { maxRetryAfterMs: 500 } });
      await c.capabilities();
      proxy.fault = { kind: 'status', status: 429, retryAfter: '30', times: 1 };
      await assert.rejects(c.listPrompts(), UpstreamRateLimitedError);
      assert.equal(proxy.count('prompts/list'), 1);
    });

    it('passes a JSON-RPC error on at once, as a protocol error', async () => {
      const c = client({ url: proxy.url });
      await assert.rejects(c.callTool({ name: 'no_such_tool' }), (err: unknown) => {
        assert.ok(err instanceof UpstreamProtocolError);
        assert.equal(err.code, -32602);
        return true;
      });
      assert.equal(proxy.count('tools/call'), 1);
      assert.equal(c.status().state, 'closed');
    });
  });

  describe('time limits', () => {
    it("gives up on a slow server after the call's time limit, sending a safe call again", async () => {
      const c = client({ url: proxy.url, timeouts: { requestMs: 150 }, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
      await c.capabilities();
      proxy.fault = { kind: 'slow', ms: 1_000 };
      const started = performance.now();
      await assert.rejects(c.listPrompts(), (err: unknown) => {
        assert.ok(err instanceof UpstreamTimeoutError);
        assert.match(err.message, /no answer to prompts\/list within 150 ms/);
        return true;
      });
      assert.ok(performance.now() - started < 900);
      assert.equal(proxy.count('prompts/list'), 2);
    });

    it('relays progress and restarts the time limit on it', async () => {
      const c = client({ name: 'legacy', url: legacy.url, timeouts: { callMs: 100 } });
      const seen: number[] = [];
      const result = await c.callTool({ name: 'slow', arguments: { steps: 8 } }, { onprogress: (p) => seen.push(p.progress) });
      assert.equal(text(result), 'done 8');
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('cancels the call on the server when the caller aborts', async () => {
      const c = client({ name: 'legacy', url: legacy.url });
      const controller = new AbortController();
      const cancelled = legacy.cancelled;
      const call = c.callTool(
        { name: 'slow', arguments: { steps: 100 } },
        { signal: controller.signal, onprogress: (p) => p.progress === 2 && controller.abort(new Error('caller left')) },
      );
      await assert.rejects(call, /caller left/);
      for (let i = 0; i < 100 && legacy.cancelled === cancelled; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(legacy.cancelled, cancelled + 1, 'the server saw the cancellation');
      assert.equal(c.status().state, 'closed', 'a cancellation is not a failure of the server');
    });
  });

  describe('circuit breaker', () => {
    it("fails fast while a stopped server's circuit is open, and closes it once the server is back", async () => {
      const c = client({ url: proxy.url, breaker: { failureThreshold: 3, cooldownMs: 300 }, retry: { attempts: 1 } });
      await c.listTools();
      await proxy.stop();
      for (let i = 0; i < 3; i++) await assert.rejects(c.callTool({ name: 'echo', arguments: { text: 'x' } }), UpstreamUnavailableError);
      assert.equal(c.status().state, 'open');
      const started = performance.now();
      await assert.rejects(c.callTool({ name: 'echo', arguments: { text: 'x' } }), (err: unknown) => {
        assert.ok(err instanceof CircuitOpenError);
        assert.match(err.message, /^upstream "notes": circuit open after repeated failures \(last: unavailable: ECONNREFUSED\)/);
        return true;
      });
      // At once: well under a retry's 100 ms backoff or any time limit (20 ms is within one GC pause on a loaded machine).
      assert.ok(performance.now() - started < 100, `an open circuit answers at once (${Math.round(performance.now() - started)} ms)`);
      await proxy.start();
      while (c.status().state === 'open') await new Promise((r) => setTimeout(r, 25));
      assert.equal(text(await c.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');
      assert.equal(c.status().state, 'closed');
    });

    it('sends any call again when the connection was refused before it went out', async () => {
      const c = client({ url: proxy.url, retry: { attempts: 4, baseDelayMs: 40, maxDelayMs: 40 } });
      await c.listTools();
      await proxy.stop();
      const call = c.callTool({ name: 'note_add', arguments: { text: 'refused, then sent' } });
      // The first attempt is refused; the port comes back while the client backs off.
      await proxy.start();
      assert.match(text(await call), /^Added note 1/);
    });

    it('opens the circuit though lists come from the cache meanwhile, and then refuses those too', async () => {
      const c = client({ url: proxy.url, breaker: { failureThreshold: 2, cooldownMs: 60_000 }, retry: { attempts: 1 } });
      await c.listTools();
      await proxy.stop();
      for (let i = 0; i < 2; i++) {
        assert.ok((await c.listTools()).tools.length > 0, 'served from the cache (ttlMs 60 s)');
        await assert.rejects(c.callTool({ name: 'echo', arguments: { text: 'x' } }), UpstreamUnavailableError);
      }
      assert.equal(c.status().state, 'open');
      await assert.rejects(c.listTools(), CircuitOpenError);
    });

    it('never opens on a JSON-RPC error, a 429 or a cancellation, however many in a row', async () => {
      const breaker = { failureThreshold: 1, cooldownMs: 60_000 };
      const c = client({ url: proxy.url, breaker, retry: { attempts: 1 } });
      await c.capabilities();
      for (let i = 0; i < 3; i++) await assert.rejects(c.callTool({ name: 'no_such_tool' }), UpstreamProtocolError);
      assert.equal(c.status().state, 'closed', 'a JSON-RPC error is an answer: the server is up');
      proxy.fault = { kind: 'status', status: 429, retryAfter: '1', times: 3 };
      for (let i = 0; i < 3; i++) await assert.rejects(c.callTool({ name: 'note_add', arguments: { text: 'x' } }), UpstreamRateLimitedError);
      assert.equal(c.status().state, 'closed', 'a 429 is a refusal, not a failure');
      const slow = client({ name: 'legacy', url: legacy.url, breaker, retry: { attempts: 1 } });
      for (let i = 0; i < 3; i++) {
        const controller = new AbortController();
        const call = slow.callTool(
          { name: 'slow', arguments: { steps: 100 } },
          { signal: controller.signal, onprogress: () => controller.abort(new Error('caller left')) },
        );
        await assert.rejects(call, /caller left/);
      }
      assert.equal(slow.status().state, 'closed', 'a cancellation says nothing about the server');
      // Control: the same client, same threshold, opens on the first real failure.
      proxy.fault = { kind: 'status', status: 503 };
      await assert.rejects(c.listPrompts(), UpstreamUnavailableError);
      assert.equal(c.status().state, 'open');
    });

    it('keeps an open circuit shut for 30 s by default, then lets one trial through', async () => {
      let now = 1_000_000;
      const breaker = new CircuitBreaker({ failureThreshold: 1 }, () => now);
      breaker.failed('unavailable: ECONNREFUSED');
      assert.equal(breaker.state, 'open');
      now += 29_999;
      assert.deepEqual(breaker.admit(), { retryAfterMs: 1, lastFailure: 'unavailable: ECONNREFUSED' });
      now += 1;
      assert.equal(breaker.state, 'half-open');
      assert.equal(breaker.admit(), undefined, 'the trial goes through');
      assert.ok(breaker.admit(), 'a second call waits for the trial');
    });

    it('opens again after a failed trial', async () => {
      const c = client({ url: proxy.url, breaker: { failureThreshold: 1, cooldownMs: 100 }, retry: { attempts: 1 } });
      await c.capabilities();
      proxy.fault = { kind: 'status', status: 503 };
      await assert.rejects(c.listPrompts(), UpstreamUnavailableError);
      while (c.status().state === 'open') await new Promise((r) => setTimeout(r, 20));
      assert.equal(c.status().state, 'half-open');
      await assert.rejects(c.listPrompts(), UpstreamUnavailableError);
      assert.equal(c.status().state, 'open');
    });
  });
});
