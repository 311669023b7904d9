// Legacy versus modern over loopback HTTP: the example "notes" server on a real HTTP server with
// an in-memory DynamoDB emulator, one keep-alive client, `tools/call echo` in both eras taking
// turns. The legacy path pays for its session (lookup, restore into a pooled instance); this
// measures how much that adds to a call a client actually makes.
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../../test/helpers/server.ts';
import type { Budget } from '../budget.ts';
import { KIT_ENV } from '../env.ts';
import type { Section } from '../report.ts';
import { assertEcho, legacyCall, legacyInitialize, legacyInitialized, modernCall, type HttpCall } from '../request.ts';
import { summarize } from '../stats.ts';

export interface ErasPlan {
  warmupCalls: number;
  rounds: number;
  callsPerRound: number;
}

const CALL_TIMEOUT_MS = 10_000;

async function post(url: string, call: HttpCall) {
  const response = await fetch(url, { method: 'POST', headers: call.headers, body: call.body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  return { response, body: await response.text() };
}

/** Opens a 2025-06-18 session the way a client does: initialize, then notifications/initialized. */
async function openSession(url: string): Promise<string> {
  const { response, body } = await post(url, legacyInitialize());
  const sessionId = response.headers.get('mcp-session-id');
  if (response.status !== 200 || !sessionId) throw new Error(`initialize failed: HTTP ${response.status} ${body.slice(0, 300)}`);
  const initialized = await post(url, legacyInitialized(sessionId));
  if (initialized.response.status !== 202) throw new Error(`notifications/initialized: HTTP ${initialized.response.status}`);
  return sessionId;
}

export async function measureEras(plan: ErasPlan, budget: Budget): Promise<Section> {
  const dynamo = await startTestDynamo();
  // LOG_LEVEL stays at the helper's ERROR: both eras log the same one line per request, so logging
  // would add the same time to each and only pull their ratio towards 1.
  const server = await startInProcess(notes, { ...KIT_ENV, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });
  let rounds = 0;
  const paths: { id: string; label: string; call: (id: number) => HttpCall; samples: number[] }[] = [];
  try {
    const sessionId = await openSession(server.url);
    paths.push(
      { id: 'modern', label: 'modern 2026-07-28 (stateless)', call: modernCall, samples: [] },
      { id: 'legacy', label: 'legacy 2025-06-18 (Mcp-Session-Id)', call: (id) => legacyCall(id, sessionId), samples: [] },
    );
    let nextId = 1;
    const timed = async (path: (typeof paths)[number], record: boolean) => {
      const started = performance.now();
      const { response, body } = await post(server.url, path.call(nextId++));
      const micros = (performance.now() - started) * 1000;
      assertEcho(path.label, response.status, body);
      if (record) path.samples.push(micros);
    };
    for (let i = 0; i < plan.warmupCalls; i++) for (const p of paths) await timed(p, false);
    for (; rounds < plan.rounds && (rounds === 0 || !budget.spent()); rounds++) {
      for (let k = 0; k < paths.length; k++) {
        const path = paths[(rounds + k) % paths.length]!;
        for (let i = 0; i < plan.callsPerRound; i++) await timed(path, true);
      }
    }
  } finally {
    await server.stop();
    await dynamo.stop();
  }
  return {
    id: 'eras',
    title: 'Legacy session vs modern stateless, loopback HTTP',
    method:
      'The "notes" example server (kit defaults but LOG_LEVEL=ERROR, which would cost both eras alike; in-memory dynalite; ' +
      '@hono/node-server on 127.0.0.1) and a keep-alive ' +
      '`fetch` client in the runner process, one call at a time; a sample is the full round trip including reading the body. ' +
      'Legacy calls carry `Mcp-Session-Id` and `MCP-Protocol-Version: 2025-06-18` from one `initialize` done before timing; ' +
      'the session record is re-read from DynamoDB whenever the in-process session cache (MCP_SESSION_CACHE_MS) lapses.',
    iterations: `${plan.warmupCalls} warm-up calls per era, then ${rounds} interleaved rounds × ${plan.callsPerRound} calls`,
    columns: [
      { key: 'p50', header: 'p50', unit: 'us' },
      { key: 'p90', header: 'p90', unit: 'us' },
      { key: 'p99', header: 'p99', unit: 'us' },
      { key: 'n', header: 'calls', unit: 'count' },
    ],
    rows: paths.map((p) => {
      const s = summarize(p.samples);
      return { id: p.id, label: p.label, values: { p50: s.median, p90: s.p90, p99: s.p99, n: s.n } };
    }),
  };
}
