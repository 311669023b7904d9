// The gateway's upstreams: one ResilientClient each, reaching it on behalf of each caller (an
// assertion per caller, assertions.ts) or as the gateway (its own credentials), never with the
// caller's token; and who may reach it. Also the readiness report `GET /health?ready` shows for
// them: counts to anyone, each upstream's state to admins.
import { ClientCredentialsProvider } from '@modelcontextprotocol/client';
import type { UpstreamNotification, UpstreamSessionStore } from '../client/connection.ts';
import { ResilientClient, type UpstreamAuth, type UpstreamStatus } from '../client/resilient-client.ts';
import type { KitLogger } from '../log.ts';
import type { PendingWork } from '../pending-work.ts';
import type { Principal } from '../principal.ts';
import type { UpstreamTransport } from '../client/transport.ts';
import type { OnBehalfOf } from './assertions.ts';
import type { GatewayConfig, UpstreamConfig } from './config.ts';

export interface Upstream {
  readonly config: UpstreamConfig;
  readonly client: ResilientClient;
}

const CLIENT_INFO = { name: 'serverless-mcp-kit-gateway', version: '0.1.0' };

function authOf(config: UpstreamConfig): UpstreamAuth | undefined {
  const c = config.credentials;
  if (!c) return undefined;
  if (c.kind === 'apikey') return { apiKey: c.apiKey, header: c.header };
  return {
    oauth: new ClientCredentialsProvider({ clientId: c.clientId, clientSecret: c.clientSecret, expectedIssuer: c.issuer, ...(c.scope && { scope: c.scope }) }),
  };
}

export function createUpstreams(
  config: GatewayConfig,
  callers: OnBehalfOf,
  onNotification: (upstream: string, notification: UpstreamNotification) => void,
  {
    sessions,
    rawCalls = true,
    log,
    pending,
    transport,
  }: { sessions?: UpstreamSessionStore; rawCalls?: boolean; log?: Pick<KitLogger, 'warn'>; pending?: PendingWork; transport?: UpstreamTransport } = {},
): Map<string, Upstream> {
  return new Map(
    config.upstreams.map((u) => {
      const auth = authOf(u);
      const client = new ResilientClient({
        name: u.name,
        url: u.url,
        protocol: u.protocol,
        ...(auth && { auth }),
        headers: u.headers,
        ...(u.identity === 'on-behalf-of' && { headersFor: (partition: string) => callers.headers(partition, u) }),
        timeouts: u.timeouts,
        retry: u.retry,
        breaker: u.breaker,
        listTtlMs: u.listTtlMs,
        maxAnswerBytes: u.maxAnswerBytes,
        clientInfo: CLIENT_INFO,
        onNotification: (n) => onNotification(u.name, n),
        ...(sessions && { sessions }),
        rawCalls,
        ...(transport && { transport }),
        ...(pending && { pending }),
        ...(log && { onBackgroundError: (what: string, error: unknown) => log.warn(`upstream ${what} failed`, { upstream: u.name, error: String(error) }) }),
      });
      return [u.name, { config: u, client }];
    }),
  );
}

/** Whether `principal` may reach the upstream. One it may not is, to it, an upstream that does not exist. */
export function mayUse(upstream: Upstream, principal: Principal): boolean {
  const { principals, scopes } = upstream.config.access;
  return (!principals || principals.includes(principal.id)) && scopes.every((s) => principal.scopes.includes(s));
}

export type UpstreamHealth = Omit<UpstreamStatus, 'name'> & { status: 'ok' | 'unavailable' | 'circuit open'; error?: string };

/** What anyone may see of the upstreams' health: how many there are in each state, no names. */
export function healthCounts(health: Record<string, UpstreamHealth>) {
  const counts = { total: 0, ok: 0, unavailable: 0, 'circuit open': 0 };
  for (const { status } of Object.values(health)) {
    counts.total++;
    counts[status]++;
  }
  return counts;
}

/**
 * Each upstream's state for `GET /health?ready`: a probe through its client (so an open circuit is
 * reported, not probed). Upstream URLs are never shown, names only to admins (healthCounts).
 */
export async function upstreamHealth(upstreams: Map<string, Upstream>, timeoutMs: number): Promise<Record<string, UpstreamHealth>> {
  const entries = await Promise.all(
    [...upstreams.values()].map(async ({ config, client }) => {
      let outcome: Pick<UpstreamHealth, 'status' | 'error'>;
      try {
        // No partition: made for `anonymous` where the upstream sees callers; a ping keeps nothing for anyone.
        await client.probe({ timeoutMs });
        outcome = { status: 'ok' };
      } catch (err) {
        outcome = { status: client.status().state === 'open' ? 'circuit open' : 'unavailable', error: (err as { detail?: string }).detail ?? String(err) };
      }
      const { name: _name, ...status } = client.status();
      return [config.name, { ...outcome, ...status }] as const;
    }),
  );
  return Object.fromEntries(entries);
}
