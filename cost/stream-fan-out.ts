// Open notification streams on the modelled deployed path, as a dashboard fleet holds them: each
// `subscriptions/listen` stream opens in an execution environment of its own (Lambda serves one
// request per environment) and holds it; the server-wide stream cap (MCP_MAX_OPEN_STREAMS) refuses
// the ones past it. Measures how many environments the streams hold and the Redis commands a
// second their event polling costs while nothing happens.
import { streamSlotKeys } from '../shared/http/stream-slots.ts';
import { createRedis } from '../shared/redis.ts';
import { MODERN } from './scenarios.ts';
import { startMeteredPath } from './metered-path.ts';

export interface StreamFanOutOptions {
  streams: number;
  /** MCP_MAX_OPEN_STREAMS; streams past it are refused. */
  maxOpenStreams: number;
  /** MCP_EVENT_POLL_MAX_MS: 1000 polls every second (no backoff), 5000 is the default. */
  pollMaxMs: number;
  /** How long to count Redis commands once every stream is open and settled. */
  idleSeconds: number;
}

export interface StreamFanOutResult {
  opened: number;
  /** Streams not opened, by HTTP status (503: past MCP_MAX_OPEN_STREAMS). */
  refused: Record<number, number>;
  /** Environments busy while the streams were open: one per open stream. */
  busyEnvironments: number;
  /** Slots the server-wide cap counts; fewer than `opened` when a claim timed out and opened uncounted (fail open). */
  slotsHeld: number;
  pollsPerSecond: number;
  pollsPerSecondPerEnvironment: number;
}

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'fan-out', version: '1.0.0' },
};

const WAVE = 10;

function listen(url: string, apiKey: string, id: number, signal: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${apiKey}`,
      'mcp-protocol-version': MODERN,
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
  });
}

export async function simulateStreamFanOut(o: StreamFanOutOptions): Promise<StreamFanOutResult> {
  const settleMs = 2 * o.pollMaxMs + 3_000;
  const path = await startMeteredPath({
    concurrency: o.streams + 4,
    environment: {
      MCP_MAX_OPEN_STREAMS: String(o.maxOpenStreams),
      // One API key holds every stream here: only the server-wide cap is under test.
      MCP_STREAMS_PER_PRINCIPAL: String(o.streams),
      MCP_EVENT_POLL_MAX_MS: String(o.pollMaxMs),
      MCP_STREAM_MAX_SECONDS: String(Math.ceil((settleMs + 60_000) / 1000) + o.idleSeconds),
    },
  });
  const clients = new AbortController();
  try {
    // In waves: a 2-core machine cannot start a hundred environments inside Lambda's 10 s init limit at once.
    const answers: Response[] = [];
    for (let i = 0; i < o.streams; i += WAVE) {
      const wave = Array.from({ length: Math.min(WAVE, o.streams - i) }, (_, j) => listen(path.url, path.apiKey, i + j, clients.signal));
      answers.push(...(await Promise.all(wave)));
    }
    const opened = answers.filter((a) => a.status === 200).length;
    const statuses: Record<number, number> = {};
    for (const a of answers.filter((a) => a.status !== 200)) {
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      await a.text();
    }
    // Every open stream's environment has read the stream's end and settled into its idle rhythm.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const reads = () => (path.meters.usage.redis.byCommand.XRANGE ?? 0) + (path.meters.usage.redis.byCommand.XREVRANGE ?? 0);
    const [before, started] = [reads(), performance.now()];
    await new Promise((resolve) => setTimeout(resolve, o.idleSeconds * 1000));
    const pollsPerSecond = (reads() - before) / ((performance.now() - started) / 1000);
    const busyEnvironments = path.model.lambda.counts().busy;
    const slotsHeld = await createRedis({ ...path.redis, timeoutMs: 5_000 }).zcard(streamSlotKeys('cost-workload', 'apikey:cost')[0]);
    return { opened, refused: statuses, busyEnvironments, slotsHeld, pollsPerSecond, pollsPerSecondPerEnvironment: pollsPerSecond / Math.max(1, opened) };
  } finally {
    clients.abort();
    await path.stop();
  }
}
