// The gateway's upstreams: one ResilientClient each, with its own credentials (never the caller's
// token: the gateway authenticates upstream as itself), and who may reach it. Also the readiness
// report `GET /health?ready` shows for them.
import { ClientCredentialsProvider } from '@modelcontextprotocol/client';
import type { UpstreamNotification } from '../client/connection.ts';
import { ResilientClient, type UpstreamAuth, type UpstreamStatus } from '../client/resilient-client.ts';
import type { Principal } from '../principal.ts';
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

export function createUpstreams(config: GatewayConfig, onNotification: (upstream: string, notification: UpstreamNotification) => void): Map<string, Upstream> {
  return new Map(
    config.upstreams.map((u) => {
      const auth = authOf(u);
      const client = new ResilientClient({
        name: u.name,
        url: u.url,
        protocol: u.protocol,
        ...(auth && { auth }),
        headers: u.headers,
        timeouts: u.timeouts,
        retry: u.retry,
        breaker: u.breaker,
        listTtlMs: u.listTtlMs,
        clientInfo: CLIENT_INFO,
        onNotification: (n) => onNotification(u.name, n),
      });
      return [u.name, { config: u, client }];
    }),
  );
}

/** Why `principal` may not reach the upstream, or undefined when it may. */
export function accessRefusal(upstream: Upstream, principal: Principal): string | undefined {
  const { principals, scopes } = upstream.config.access;
  if (principals && !principals.includes(principal.id)) return `upstream "${upstream.config.name}" is open only to ${principals.join(', ')}`;
  const missing = scopes.filter((s) => !principal.scopes.includes(s));
  if (missing.length > 0) return `upstream "${upstream.config.name}" needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`;
  return undefined;
}

export type UpstreamHealth = Omit<UpstreamStatus, 'name'> & { status: 'ok' | 'unavailable' | 'circuit open'; error?: string };

/**
 * Each upstream's state for `GET /health?ready`: a probe through its client (so an open circuit is
 * reported, not probed). Upstream URLs are not shown: the health route is public.
 */
export async function upstreamHealth(upstreams: Map<string, Upstream>, timeoutMs: number): Promise<Record<string, UpstreamHealth>> {
  const entries = await Promise.all(
    [...upstreams.values()].map(async ({ config, client }) => {
      let outcome: Pick<UpstreamHealth, 'status' | 'error'>;
      try {
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
