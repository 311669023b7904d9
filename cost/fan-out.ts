// Event fan-out, simulated in one process: `environments` instances of the kit's Redis event bus
// (each one what a Lambda execution environment or a server process holds), each with
// `listenersPerEnvironment` listeners, on one Redis behind a meter. Measures the Redis commands
// the listeners cost (stream reads only; the publisher's appends are counted apart) while nothing
// happens and while events flow, and how late the events arrive.
import type { ServerEvent } from '@modelcontextprotocol/server';
import { createRedisEventBus, type RedisEventBus } from '../shared/events/redis-bus.ts';
import type { KitLogger } from '../shared/log.ts';
import { createRedis } from '../shared/redis.ts';
import { createMeters } from './meters.ts';

export interface FanOutOptions {
  /** The Upstash REST endpoint (local) and its token. */
  redisUrl: string;
  token: string;
  environments: number;
  listenersPerEnvironment: number;
  /** How long to measure with nothing published. */
  idleSeconds: number;
  /** How long to measure with one event published every `publishEveryMs`. */
  busySeconds: number;
  publishEveryMs: number;
  /** The bus's poll interval (MCP_EVENT_POLL_MS) and idle ceiling (MCP_EVENT_POLL_MAX_MS). */
  pollMs: number;
  pollMaxMs: number;
}

export interface FanOutResult {
  listeners: number;
  idle: { commandsPerSecond: number; perEnvironment: number; perListener: number };
  busy: {
    commandsPerSecond: number;
    perEnvironment: number;
    perListener: number;
    deliveries: number;
    expectedDeliveries: number;
    latencyP50Ms: number;
    latencyMaxMs: number;
  };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as KitLogger;
const READS = ['XRANGE', 'XREVRANGE'];

export async function simulateFanOut(o: FanOutOptions): Promise<FanOutResult> {
  const meters = createMeters();
  const meteredUrl = await meters.attach('redis', o.redisUrl);
  const stream = `mcp:events:fan-out-${crypto.randomUUID()}`;
  const bus = (url: string) =>
    createRedisEventBus({ redis: createRedis({ url, token: o.token, timeoutMs: 2000 }), stream, pollMs: o.pollMs, pollMaxMs: o.pollMaxMs, log: quiet });
  const buses: RedisEventBus[] = [];
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const reads = () => READS.reduce((sum, c) => sum + (meters.usage.redis.byCommand[c] ?? 0), 0);
  try {
    for (let e = 0; e < o.environments; e++) {
      const b = bus(meteredUrl);
      buses.push(b);
      for (let l = 0; l < o.listenersPerEnvironment; l++) {
        b.subscribe((event: ServerEvent) => {
          const at = sent.get(event.kind === 'resource_updated' ? event.uri : '');
          if (at !== undefined) latencies.push(performance.now() - at);
        });
      }
    }
    // The publisher is another instance, unmetered: only the listeners' cost is measured.
    const publisher = bus(o.redisUrl);
    buses.push(publisher);
    const listeners = o.environments * o.listenersPerEnvironment;
    const rate = async (seconds: number, during?: () => void) => {
      const before = reads();
      const started = performance.now();
      const timer = during && setInterval(during, o.publishEveryMs);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      clearInterval(timer);
      const perSecond = (reads() - before) / ((performance.now() - started) / 1000);
      return { commandsPerSecond: perSecond, perEnvironment: perSecond / o.environments, perListener: perSecond / listeners };
    };
    // Let every bus read the stream's end and reach its steady idle rhythm: the quiet reads at
    // pollMs and the doubling up to pollMaxMs take about pollMaxMs plus a few polls.
    await new Promise((resolve) => setTimeout(resolve, o.pollMaxMs + 5 * o.pollMs));
    const idle = await rate(o.idleSeconds);
    let published = 0;
    const busy = await rate(o.busySeconds, () => {
      const uri = `mem://event/${++published}`;
      sent.set(uri, performance.now());
      publisher.publish({ kind: 'resource_updated', uri });
    });
    // Events published near the end still travel; give them one ceiling's time.
    await new Promise((resolve) => setTimeout(resolve, o.pollMaxMs + o.pollMs));
    latencies.sort((a, b) => a - b);
    return {
      listeners,
      idle,
      busy: {
        ...busy,
        deliveries: latencies.length,
        expectedDeliveries: published * listeners,
        latencyP50Ms: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN,
        latencyMaxMs: latencies.at(-1) ?? Number.NaN,
      },
    };
  } finally {
    await Promise.all(buses.map((b) => b.close()));
    await meters.stop();
  }
}
