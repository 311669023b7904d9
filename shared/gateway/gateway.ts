// The MCP gateway as a kit server definition: one endpoint in front of many MCP servers. Because it
// is an ordinary definition served by `createKit`, callers get what every kit server gives (both
// protocol eras, sessions in DynamoDB, auth, rate limits, logs, health); its tools, prompts and
// resources are the upstreams', under prefixed names (names.ts), listed by the catalog and routed
// by the handlers. Upstream list changes (seen in a list, or sent by an upstream) reach the
// gateway's own listeners as list_changed.
import type { ServerNotifier } from '@modelcontextprotocol/server';
import type { UpstreamNotification, UpstreamSessionStore } from '../client/connection.ts';
import type { UpstreamTransport } from '../client/transport.ts';
import type { KitLogger } from '../log.ts';
import { upstreamFailureMetric } from '../metrics.ts';
import { PendingWork } from '../pending-work.ts';
import { defineServer, type ServerDefinition } from '../server/define.ts';
import { OnBehalfOf } from './assertions.ts';
import { Catalog, type ListKind } from './catalog.ts';
import type { GatewayConfig } from './config.ts';
import { installHandlers, toolCaller, type GatewayParts } from './handlers.ts';
import { prefixUri } from './names.ts';
import { createUpstreams, healthCounts, upstreamHealth, type Upstream, type UpstreamHealth } from './upstreams.ts';

/** How long a readiness ping waits for an upstream. */
const HEALTH_PING_MS = 2_000;
/** How long one round of readiness pings answers both views (counts and detail). */
const HEALTH_CACHE_MS = 2_000;

export interface Gateway {
  definition: ServerDefinition;
  upstreams: Map<string, Upstream>;
  /** Ends the upstream sessions (2025-era upstreams get DELETE). */
  close(): Promise<void>;
}

const ANNOUNCE: Record<ListKind, (notify: ServerNotifier) => void> = {
  tools: (n) => n.toolsChanged(),
  prompts: (n) => n.promptsChanged(),
  resources: (n) => n.resourcesChanged(),
  resourceTemplates: (n) => n.resourcesChanged(),
};

const NOTIFIED: Record<Exclude<UpstreamNotification['kind'], 'resource_updated'>, ListKind[]> = {
  tools_list_changed: ['tools'],
  prompts_list_changed: ['prompts'],
  resources_list_changed: ['resources', 'resourceTemplates'],
};

export interface GatewayOptions {
  /** @default 'gateway' */
  name?: string;
  /** @default '1.0.0' */
  version?: string;
  /** Count upstream failures as CloudWatch embedded metrics (`UpstreamFailures` by Server and Upstream). @default false */
  metrics?: boolean;
  /**
   * Where each caller's 2025-era upstream sessions are kept, so every instance resumes the same one
   * (the Lambda entry keeps them in the kit's table: DynamoUpstreamSessions).
   * @default - per instance
   */
  sessions?: UpstreamSessionStore;
  /** Where failures no caller waits for are logged (an upstream session's touch in `sessions`). @default - not logged */
  log?: Pick<KitLogger, 'warn'>;
  /** Calls to 2026-07-28 upstreams without the SDK's client (ResilientClientOptions.rawCalls). @default true */
  rawUpstreamCalls?: boolean;
  /**
   * What carries those calls over HTTP: on Node, nodeTransport (shared/adapters/upstream-http.ts),
   * which costs less per call than `fetch`.
   * @default - `fetch`
   */
  transport?: UpstreamTransport;
}

export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const name = options.name ?? config.name;
  const callers = new OnBehalfOf(config.name, config.signingSecret);
  // Bound when the kit builds its first SDK instance; before that nobody can be listening.
  let notify: ServerNotifier | undefined;
  const announce = (kind: ListKind) => notify && ANNOUNCE[kind](notify);
  const failed = (upstream: string) => options.metrics && upstreamFailureMetric(name, upstream);
  // Upstream session touches no call waits for; the kit adopts it as its pending work (definition.pending).
  const pending = new PendingWork();
  const catalog: Catalog = new Catalog(
    createUpstreams(
      config,
      callers,
      (upstream, n) => {
        if (!notify) return;
        if (n.kind === 'resource_updated') return notify.resourceUpdated(prefixUri(upstream, n.uri));
        for (const kind of NOTIFIED[n.kind]) catalog.invalidate(kind, upstream);
        announce(NOTIFIED[n.kind][0]!);
      },
      {
        ...(options.sessions && { sessions: options.sessions }),
        rawCalls: options.rawUpstreamCalls ?? true,
        ...(options.transport && { transport: options.transport }),
        ...(options.log && { log: options.log }),
        pending,
      },
    ),
    { listTimeoutMs: config.listTimeoutMs, changed: announce, failed },
  );
  const upstreams = catalog.upstreams;
  let pinged: { at: number; health: Promise<Record<string, UpstreamHealth>> } | undefined;
  const health = () => {
    if (!pinged || Date.now() - pinged.at > HEALTH_CACHE_MS) pinged = { at: Date.now(), health: upstreamHealth(upstreams, HEALTH_PING_MS) };
    return pinged.health;
  };
  const parts: GatewayParts = { upstreams, catalog, callers, failed };
  const callTool = toolCaller(parts);
  const definition = defineServer({
    name,
    version: options.version ?? '1.0.0',
    // Not naming the upstreams: every caller reads this, and some may not use all of them.
    instructions: 'Tools, prompts and resources of other MCP servers, named <server>__<name> (resources <server>+<uri>).',
    tools: [],
    extend(server, context, notifier) {
      notify = notifier;
      installHandlers(server, context, parts, callTool);
    },
    // The fast lane: a plain 2026-07-28 call goes upstream without an SDK server (handlers.ts).
    directCall: callTool,
    readiness: { upstreams: async () => healthCounts(await health()) },
    readinessDetail: { scope: config.adminScope, reports: { upstreams: health } },
    pending,
  });
  return {
    definition,
    upstreams,
    close: () => Promise.all([...upstreams.values()].map((u) => u.client.close())).then(() => {}),
  };
}
