// Loopback throughput: requests per second a server answers for modern `tools/call`s of `echo`
// over HTTP, kit against the SDK minimal handler and raw Hono. Each app runs in its own server
// process on @hono/node-server (as `npm start` serves the kit); one load process keeps a fixed
// number of calls in flight against one of them at a time, taking turns round by round, and every
// answer is checked. Client and server share the machine's cores, alike for every app.
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
  /** Calls kept in flight. */
  concurrency: number;
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

export async function measureThroughput(built: Built, plan: ThroughputPlan, budget: Budget): Promise<Section> {
  const servers = THROUGHPUT_TARGETS.map((t) => startProbe(built.probes.httpServer, [t.id], lambdaEnv()));
  const load = startProbe(built.probes.load, [], lambdaEnv());
  const perSecond = THROUGHPUT_TARGETS.map((): number[] => []);
  let rounds = 0;
  try {
    const urls = await Promise.all(servers.map(listening));
    if ((await load.next(TIMEOUT_MS)).kind !== 'ready') throw new Error('load probe did not start');
    const run = async (url: string, seconds: number) => {
      load.child.send({ url, seconds, concurrency: plan.concurrency } satisfies LoadRequest);
      const reply = await load.next(TIMEOUT_MS);
      if (reply.kind !== 'load') throw new Error(`load probe answered ${reply.kind}`);
      return reply.requests / reply.seconds;
    };
    // Warm-up: every server answers for a while before anything counts.
    for (const url of urls) await run(url, Math.min(2, plan.seconds));
    for (; rounds < plan.rounds && (rounds === 0 || !budget.spent()); rounds++) {
      for (const [i, url] of urls.entries()) perSecond[i]!.push(await run(url, plan.seconds));
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
      `keeps ${plan.concurrency} modern (2026-07-28) \`tools/call\`s of \`echo\` in flight over keep-alive node:http connections and checks every answer. ` +
      `The apps take turns, ${plan.seconds} s each per round, after a warm-up run each; a row is the median of its rounds. ` +
      'Client and server share the same cores alike for every app, so the ratios are the comparison, not the absolute rates.',
    iterations: `${rounds} rounds × ${plan.seconds} s per app, ${plan.concurrency} calls in flight`,
    columns: [
      { key: 'rps', header: 'requests / s', unit: 'count' },
      { key: 'min', header: 'min', unit: 'count' },
      { key: 'max', header: 'max', unit: 'count' },
    ],
    rows: THROUGHPUT_TARGETS.map((t, i) => {
      const s = summarize(perSecond[i]!);
      return { id: t.id, label: t.label, values: { rps: s.median, min: s.min, max: s.max } };
    }),
  };
}
