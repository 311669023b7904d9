// Loopback throughput: requests per second a server answers for modern `tools/call`s of `echo`
// over HTTP, kit against the SDK minimal handler and raw Hono. Each app runs in its own server
// process on @hono/node-server (as `npm start` serves the kit); one load process (autocannon)
// keeps a fixed number of connections busy against one of them at a time, at each planned
// connection count, taking turns round by round, and every answer is checked. Client and server
// share the machine's cores, alike for every app.
import type { Budget } from '../budget.ts';
import type { Built } from '../build.ts';
import { lambdaEnv, startProbe, type Probe } from '../child.ts';
import type { LoadRequest } from '../probes/protocol.ts';
import type { Section } from '../report.ts';
import { summarize } from '../stats.ts';

export interface ThroughputPlan {
  rounds: number;
  /** Seconds of load per app per round. */
  seconds: number;
  /** Connections kept busy (one call in flight on each), one measurement per count. */
  connections: number[];
}

export const THROUGHPUT_TARGETS = [
  { id: 'kit', label: 'kit (functions/echo), LOG_LEVEL=INFO' },
  { id: 'sdk', label: 'SDK minimal handler' },
  { id: 'hono', label: 'raw Hono' },
] as const;

const TIMEOUT_MS = 60_000;

async function listening(probe: Probe): Promise<string> {
  const message = await probe.next(TIMEOUT_MS);
  if (message.kind !== 'listening') throw new Error(`http-server probe answered ${message.kind}`);
  return message.url;
}

/** The columns for `connections` connections: the median of the rounds, and their spread. */
const columnsFor = (n: number) => [
  { key: `rps${n}`, header: `req/s at ${n}`, unit: 'count' as const },
  { key: `min${n}`, header: 'min', unit: 'count' as const },
  { key: `max${n}`, header: 'max', unit: 'count' as const },
];

export async function measureThroughput(built: Built, plan: ThroughputPlan, budget: Budget): Promise<Section> {
  const servers = THROUGHPUT_TARGETS.map((t) => startProbe(built.probes.httpServer, [t.id], lambdaEnv()));
  const load = startProbe(built.probes.load, [], lambdaEnv());
  // perSecond[target][connection count]: one rate per round.
  const perSecond = THROUGHPUT_TARGETS.map(() => plan.connections.map((): number[] => []));
  let rounds = 0;
  try {
    const urls = await Promise.all(servers.map(listening));
    if ((await load.next(TIMEOUT_MS)).kind !== 'ready') throw new Error('load probe did not start');
    const run = async (url: string, seconds: number, concurrency: number) => {
      load.child.send({ url, seconds, concurrency } satisfies LoadRequest);
      const reply = await load.next(TIMEOUT_MS);
      if (reply.kind !== 'load') throw new Error(`load probe answered ${reply.kind}`);
      return reply.requests / reply.seconds;
    };
    // Warm-up: every server answers for a while before anything counts.
    for (const url of urls) await run(url, Math.min(2, plan.seconds), plan.connections[0]!);
    for (; rounds < plan.rounds && (rounds === 0 || !budget.spent()); rounds++) {
      for (const [c, connections] of plan.connections.entries()) {
        for (const [i, url] of urls.entries()) perSecond[i]![c]!.push(await run(url, plan.seconds, connections));
      }
    }
  } finally {
    load.stop();
    for (const s of servers) s.stop();
  }
  return {
    id: 'throughput',
    title: 'Loopback throughput, modern tools/call over HTTP',
    method:
      'Each app serves on 127.0.0.1 with @hono/node-server in its own `node` process (the kit is `functions/echo` with the ' +
      'benchmark environment: no Redis, rate limiting off, its INFO access line written to an ignored stdout). One load process ' +
      `(autocannon, pipelining 1) keeps ${plan.connections.join(' and then ')} keep-alive connections busy with modern (2026-07-28) ` +
      '`tools/call`s of `echo` and checks every answer body. ' +
      `The apps take turns, ${plan.seconds} s each per connection count per round, after a warm-up run each; a value is the median of its rounds. ` +
      'Client and server share the same cores alike for every app, so the ratios are the comparison, not the absolute rates.',
    iterations: `${rounds} rounds × ${plan.seconds} s per app and connection count (${plan.connections.join(', ')})`,
    columns: plan.connections.flatMap(columnsFor),
    rows: THROUGHPUT_TARGETS.map((t, i) => {
      const values: Record<string, number> = {};
      for (const [c, n] of plan.connections.entries()) {
        const s = summarize(perSecond[i]![c]!);
        Object.assign(values, { [`rps${n}`]: s.median, [`min${n}`]: s.min, [`max${n}`]: s.max });
      }
      return { id: t.id, label: t.label, values };
    }),
  };
}
