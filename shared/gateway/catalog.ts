// The gateway's lists: every reachable upstream asked at once, each answer prefixed (names.ts),
// and what could not be listed said in the result instead of waited for: an upstream that did not
// answer within `listTimeoutMs` (or whose circuit is open) is named in `missing`, an item whose
// prefixed name is not a valid MCP name or that its upstream lists twice in `skipped`, under the
// result's `_meta`. A list that changed since this instance last saw it (an upstream came back, or
// offers other tools) is announced as `list_changed`, so listening clients refresh.
import type { Principal } from '../principal.ts';
import { invalidToolName, prefixName, prefixUri } from './names.ts';
import { mayUse, type Upstream } from './upstreams.ts';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

/** Where the gateway reports what a list lacks, in the result's `_meta`. */
export const GATEWAY_META_KEY = 'serverless-mcp-kit/gateway';

/** How long clients may keep a list that lacks an upstream: short, so they see it come back. */
const PARTIAL_TTL_MS = 5_000;

export interface Caller {
  principal: Principal;
  /** Whose 2025-era upstream session this is (see ResilientClient's `partition`). */
  partition: string;
  signal?: AbortSignal;
}

export interface Aggregate {
  items: Record<string, unknown>[];
  ttlMs: number;
  missing: { upstream: string; reason: string }[];
  skipped: { upstream: string; name: string; reason: string }[];
}

type Item = Record<string, unknown> & { name?: string; uri?: string; uriTemplate?: string };

const RESULT_KEY = { tools: 'tools', prompts: 'prompts', resources: 'resources', resourceTemplates: 'resourceTemplates' } as const;

function fetchList(kind: ListKind, upstream: Upstream, options: { partition: string; signal: AbortSignal; timeoutMs: number }) {
  const c = upstream.client;
  const run = {
    tools: () => c.listTools(options),
    prompts: () => c.listPrompts(options),
    resources: () => c.listResources(options),
    resourceTemplates: () => c.listResourceTemplates(options),
  }[kind];
  return run() as Promise<Record<string, unknown> & { ttlMs?: number }>;
}

/** One upstream's items under gateway names; the ones that cannot be named are reported instead. */
function prefixItems(kind: ListKind, upstream: string, items: Item[], skipped: Aggregate['skipped']): Item[] {
  if (kind === 'resources') return items.map((r) => ({ ...r, uri: prefixUri(upstream, String(r.uri)) }));
  if (kind === 'resourceTemplates') return items.map((t) => ({ ...t, uriTemplate: prefixUri(upstream, String(t.uriTemplate)) }));
  const counts = new Map<string, number>();
  for (const item of items) counts.set(String(item.name), (counts.get(String(item.name)) ?? 0) + 1);
  const out: Item[] = [];
  for (const [i, item] of items.entries()) {
    const name = String(item.name);
    const prefixed = prefixName(upstream, name);
    const times = counts.get(name)!;
    const problem =
      times > 1
        ? `upstream "${upstream}" lists "${name}" ${times} times, so calls could not tell which is meant`
        : kind === 'tools'
          ? invalidToolName(prefixed)
          : undefined;
    if (!problem) out.push({ ...item, name: prefixed });
    // A name listed more than once is reported once.
    else if (items.findIndex((other) => String(other.name) === name) === i) skipped.push({ upstream, name: prefixed, reason: problem });
  }
  return out;
}

export class Catalog {
  /** Per list kind and upstream: a fingerprint of the names last seen ('' when it could not be listed). */
  private readonly seen = new Map<string, string>();
  /** Per list kind and upstream: names last listed, and the names left out with why. */
  private readonly known = new Map<string, { names: Set<string>; leftOut: Map<string, string> }>();

  private readonly listTimeoutMs: number;

  constructor(
    readonly upstreams: Map<string, Upstream>,
    private readonly events: { listTimeoutMs: number; changed(kind: ListKind): void; failed(upstream: string): void },
  ) {
    this.listTimeoutMs = events.listTimeoutMs;
  }

  async list(kind: ListKind, caller: Caller): Promise<Aggregate> {
    const aggregate: Aggregate = { items: [], ttlMs: Number.POSITIVE_INFINITY, missing: [], skipped: [] };
    const reachable = [...this.upstreams.values()].filter((u) => mayUse(u, caller.principal));
    const answers = await Promise.all(reachable.map((u) => this.listOne(kind, u, caller)));
    for (const [i, answer] of answers.entries()) {
      const upstream = reachable[i]!.config.name;
      if ('reason' in answer) {
        aggregate.missing.push({ upstream, reason: answer.reason });
        continue;
      }
      aggregate.items.push(...answer.items);
      aggregate.skipped.push(...answer.skipped);
      aggregate.ttlMs = Math.min(aggregate.ttlMs, answer.ttlMs ?? 0);
    }
    if (aggregate.missing.length > 0) aggregate.ttlMs = Math.min(aggregate.ttlMs, PARTIAL_TTL_MS);
    if (aggregate.ttlMs === Number.POSITIVE_INFINITY) aggregate.ttlMs = 0;
    return aggregate;
  }

  /**
   * What the catalog last learned about a prefixed tool or prompt name of an upstream: `listed`,
   * `absent` (the upstream's last list did not have it), a reason it is left out, or `unknown`
   * when this instance has not listed that upstream yet.
   */
  lookup(kind: 'tools' | 'prompts', upstream: string, prefixed: string): { kind: 'listed' | 'absent' | 'unknown' } | { kind: 'left out'; reason: string } {
    const known = this.known.get(`${kind}:${upstream}`);
    if (!known) return { kind: 'unknown' };
    const reason = known.leftOut.get(prefixed);
    if (reason) return { kind: 'left out', reason };
    return { kind: known.names.has(prefixed) ? 'listed' : 'absent' };
  }

  /** Upstreams the caller may use whose last list has an item of this (unprefixed) name: for "did you mean". */
  suggest(kind: 'tools' | 'prompts', name: string, principal: Principal): string[] {
    const out: string[] = [];
    for (const [upstream, u] of this.upstreams) {
      if (mayUse(u, principal) && this.known.get(`${kind}:${upstream}`)?.names.has(prefixName(upstream, name))) out.push(prefixName(upstream, name));
    }
    return out;
  }

  /** An upstream said its list changed: forget what was seen, so the next list announces nothing twice. */
  invalidate(kind: ListKind, upstream: string): void {
    this.seen.delete(`${kind}:${upstream}`);
  }

  private async listOne(
    kind: ListKind,
    upstream: Upstream,
    caller: Caller,
  ): Promise<{ items: Item[]; skipped: Aggregate['skipped']; ttlMs?: number } | { reason: string }> {
    // The upstream's own time limit fails the attempt (the breaker counts it); the deadline, a little
    // later, ends whatever retry follows it.
    const deadline = AbortSignal.timeout(this.listTimeoutMs + 250);
    const signal = caller.signal ? AbortSignal.any([caller.signal, deadline]) : deadline;
    const name = upstream.config.name;
    try {
      const result = await fetchList(kind, upstream, { partition: caller.partition, signal, timeoutMs: this.listTimeoutMs });
      const own = (result[RESULT_KEY[kind]] ?? []) as Item[];
      const skipped: Aggregate['skipped'] = [];
      const items = prefixItems(kind, name, own, skipped);
      this.remember(kind, name, own, items, skipped);
      return { items, skipped, ...(result.ttlMs !== undefined && { ttlMs: result.ttlMs }) };
    } catch (err) {
      if (caller.signal?.aborted) throw caller.signal.reason;
      this.events.failed(name);
      this.observe(kind, name, '');
      return { reason: deadline.aborted ? `no answer within ${this.listTimeoutMs} ms` : ((err as { detail?: string }).detail ?? String(err)) };
    }
  }

  private remember(kind: ListKind, upstream: string, own: Item[], listed: Item[], skipped: Aggregate['skipped']) {
    if (kind === 'tools' || kind === 'prompts') {
      this.known.set(`${kind}:${upstream}`, { names: new Set(listed.map((i) => String(i.name))), leftOut: new Map(skipped.map((s) => [s.name, s.reason])) });
    }
    this.observe(kind, upstream, JSON.stringify(own.map((i) => String(i.name ?? i.uri ?? i.uriTemplate)).sort()));
  }

  private observe(kind: ListKind, upstream: string, fingerprint: string) {
    const key = `${kind}:${upstream}`;
    const before = this.seen.get(key);
    this.seen.set(key, fingerprint);
    if (before !== undefined && before !== fingerprint) this.events.changed(kind);
  }
}
