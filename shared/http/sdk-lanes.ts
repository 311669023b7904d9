// The SDK lane: everything the direct lane does not take, served through the MCP SDK. The modern
// handler (2026-07-28 methods, `subscriptions/listen`, what the direct lane hands over) and the
// legacy session handler (2025-era clients) share one pool of SDK server instances. sdk-loader.ts loads
// this module, and with it the SDK, the first time a request needs it.
import { createMcpHandler, isLegacyRequest, type ServerEventBus } from '@modelcontextprotocol/server';
import type { KitLogger } from '../log.ts';
import type { Relay } from '../relay/relay.ts';
import { createServerFactory } from '../server/build.ts';
import type { ToolRuntime } from '../server/runtime.ts';
import type { SessionStore } from '../store/sessions.ts';
import type { TaskService } from '../tasks/service.ts';
import { createLegacyHandler, type LegacyOptions } from './legacy.ts';
import { createLegacyLane } from './legacy-lane.ts';

export interface SdkLaneOptions {
  runtime: ToolRuntime;
  tasks: TaskService | undefined;
  sessions: SessionStore;
  bus: ServerEventBus;
  relay: Relay;
  log: KitLogger;
  keepAliveMs: number;
  maxBodyBytes: number;
  streamMaxSeconds: number;
  getStreams: boolean;
  holdStream: LegacyOptions['holdStream'];
  /** False serves every 2025-era request through an SDK instance (tests compare the paths). */
  directLane: boolean;
  /** Streams this instance holds (stream-quota.ts counts and refuses them); 0: no cap of its own. */
  streamsPerInstance: number;
}

export async function createSdkLanes(options: SdkLaneOptions) {
  const { runtime, log } = options;
  const factory = createServerFactory(runtime, await runtime.codec(), options.tasks);
  const modern = createMcpHandler(() => factory.acquire('modern'), {
    legacy: 'reject',
    bus: options.bus,
    keepAliveMs: options.keepAliveMs,
    maxRequestBodySize: options.maxBodyBytes,
    // The kit's count binds; the SDK's limit (1,024 by default, answered 200 -32603) stays out of its
    // way, with room for streams the kit released that the SDK has not yet closed.
    maxSubscriptions: options.streamsPerInstance > 0 ? 2 * options.streamsPerInstance : Number.MAX_SAFE_INTEGER,
    onerror: (error: Error) => log.debug('modern handler reported', { error: error.message }),
  });
  const legacy = createLegacyHandler({
    factory,
    sessions: options.sessions,
    bus: options.bus,
    keepAliveMs: options.keepAliveMs,
    streamMaxSeconds: options.streamMaxSeconds,
    getStreams: options.getStreams,
    holdStream: options.holdStream,
    relay: options.relay,
    log,
    ...(options.directLane && { lane: createLegacyLane(runtime) }),
  });
  return { modern, legacy, isLegacyRequest };
}

export type SdkLanes = Awaited<ReturnType<typeof createSdkLanes>>;
