// GET /health: cheap, never touches a dependency (load balancers and smoke checks hit it often),
// and says which features are off. GET /health?ready: the readiness form, which asks each
// dependency (DynamoDB, S3, Redis) for a trivial answer and reports each one's state and latency;
// 503 when one is down, plus the sections a server definition adds (`readiness`: the gateway's
// upstreams), which never fail it. Its result is kept a few seconds, so probing it cannot load the
// data plane. Anyone may ask, so a failure is reported by its dependency error's generic message
// (never the service's own words, which name hosts, tables and credentials); those go to the log.
// A caller the app found to be an admin gets the definition's detailed sections in
// place of the public ones (the gateway: each upstream's state instead of counts).
import type { Context } from 'hono';
import { describeFailure, isDependencyError } from '../dependency.ts';
import type { KitFeatures } from '../features.ts';
import type { KitLogger } from '../log.ts';

/** A dependency check: resolves when the dependency answered as it should. */
export type Probe = () => Promise<unknown>;

export interface HealthOptions {
  server: { name: string; version: string };
  features: KitFeatures;
  /** One probe per dependency; a dependency that is not configured has none. */
  probes: Record<string, Probe>;
  /** Extra readiness sections (the gateway's upstreams), reported as they resolve, never failing readiness. */
  reports?: Readonly<Record<string, () => Promise<unknown>>>;
  /** How long a readiness result is reused. @default 2000 */
  cacheMs?: number;
  /** Where a failed check's detail goes. */
  log: KitLogger;
}

type Check = { status: 'ok'; latencyMs: number } | { status: 'unavailable'; latencyMs: number; error: string } | { status: 'not configured' };

async function check(name: string, probe: Probe | undefined, log: KitLogger): Promise<Check> {
  if (!probe) return { status: 'not configured' };
  const started = performance.now();
  const latencyMs = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    await probe();
    return { status: 'ok', latencyMs: latencyMs() };
  } catch (err) {
    log.warn('readiness check failed', { dependency: name, detail: isDependencyError(err) ? err.detail : describeFailure(err) });
    return { status: 'unavailable', latencyMs: latencyMs(), error: isDependencyError(err) ? err.message : 'no answer; the server log says why' };
  }
}

export function createHealth(options: HealthOptions) {
  const cacheMs = options.cacheMs ?? 2_000;
  let ready: { at: number; answer: Promise<{ ok: boolean; body: object }> } | undefined;
  const base = { server: options.server.name, version: options.server.version, features: options.features };

  async function readiness() {
    const names = ['dynamodb', 's3', 'redis'] as const;
    const reports = Object.entries(options.reports ?? {});
    const [checks, reported] = await Promise.all([
      Promise.all(names.map((n) => check(n, options.probes[n], options.log))),
      Promise.all(reports.map(([, report]) => report().catch((err: unknown) => ({ error: describeFailure(err) })))),
    ]);
    const dependencies = Object.fromEntries(names.map((n, i) => [n, checks[i]!]));
    const ok = checks.every((c) => c.status !== 'unavailable');
    const extra = Object.fromEntries(reports.map(([name], i) => [name, reported[i]]));
    return { ok, body: { status: ok ? 'ready' : 'unavailable', ...base, dependencies, ...extra } };
  }

  /** `detail`: sections that replace the public ones of the same name, for this answer only. */
  return async (c: Context, detail?: Readonly<Record<string, () => Promise<unknown>>>) => {
    if (c.req.query('ready') === undefined) return c.json({ status: 'ok', ...base });
    if (!ready || Date.now() - ready.at > cacheMs) ready = { at: Date.now(), answer: readiness() };
    const { ok, body } = await ready.answer;
    const sections = detail ? Object.entries(detail) : [];
    const detailed = await Promise.all(sections.map(([, report]) => report().catch((err: unknown) => ({ error: describeFailure(err) }))));
    const answer = sections.length > 0 ? { ...body, ...Object.fromEntries(sections.map(([name], i) => [name, detailed[i]])) } : body;
    return c.json(answer, ok ? 200 : 503, ok ? {} : { 'retry-after': '5' });
  };
}
