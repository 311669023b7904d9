// Standard workloads for `npm run cost`: how many of each measured unit one "call" brings with it.
// A call is what a user counts (a tool call made by an assistant, an agent step, a dashboard
// refresh); the mix adds what comes around it (session starts, lists, polls, stream minutes).
// The assumptions are stated in each description and in docs/cost.md.

export interface Mix {
  description: string;
  /** Units per call, by unit id (cost/units.json). */
  perCall: Record<string, number>;
  /** Lambda time a tool's own work adds per call, beyond the trivial tools measured. */
  toolGbSecondsPerCall?: number;
}

export const MIXES: Record<string, Mix> = {
  chat: {
    description:
      "A chat assistant's tool calls: 80% from 2025-era clients in sessions of ten calls made seconds apart (so most calls re-read their session), " +
      '20% from 2026-07-28 clients; 10% of calls answered from the tool cache; one tools/list per ten calls; no notification streams.',
    perCall: {
      legacyCallColdSession: 0.6,
      legacyCall: 0.15,
      initialize: 0.08,
      modernCall: 0.15,
      cachedHit: 0.1,
      discover: 0.02,
      toolsList: 0.1,
    },
  },
  agent: {
    description:
      'An agent running long jobs as tasks (2026-07-28 clients): 80% quick tool calls, 20% tasks whose work runs 60 s in the worker (1 GB: 60 GB-s) ' +
      'while the agent polls tasks/get every second; half of the tasks leave a 10 KB artifact that the agent reads once.',
    perCall: {
      modernCall: 0.8,
      task: 0.2,
      taskGet: 0.2 * 60,
      artifactPut: 0.1,
      artifactRead: 0.1,
      discover: 0.01,
      toolsList: 0.01,
    },
    toolGbSecondsPerCall: 0.2 * 60,
  },
  dashboard: {
    description:
      'A dashboard: each viewer holds a subscriptions/listen stream for the 30 minutes it is open and makes 30 calls in that time (one a minute), ' +
      'half of them answered from the tool cache: one stream minute per call.',
    perCall: {
      listenStreamMinute: 1,
      modernCall: 0.5,
      cachedHit: 0.5,
      discover: 1 / 30,
      toolsList: 1 / 30,
    },
  },
};
