// Load probe: autocannon in its own process, keeping a fixed number of keep-alive connections busy
// with modern `tools/call`s of `echo` against one URL for as long as the runner asks, every answer
// checked, and reporting how many correct answers came back. autocannon, not a node:http client:
// on this machine node:http reached 18.9k requests/s on raw Hono where autocannon reached 25.9k,
// so the old client, not the server, set raw Hono's rate and flattered every ratio against it.
import autocannon from 'autocannon';
import { ECHO, assertResult, modernCall } from '../request.ts';
import type { LoadRequest, ProbeMessage } from './protocol.ts';

/** True for a correct `echo` answer (the same check every other suite makes, as a predicate). */
function correct(body: string | Buffer | undefined): boolean {
  try {
    assertResult('load', 200, String(body ?? ''), ECHO);
    return true;
  } catch {
    return false;
  }
}

async function load({ url, seconds, concurrency }: LoadRequest): Promise<ProbeMessage> {
  // Stateless calls: one body (one JSON-RPC id) serves every request, as autocannon sends it.
  const call = modernCall(1);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: call.headers,
    body: call.body,
    connections: concurrency,
    pipelining: 1,
    duration: seconds,
    verifyBody: correct,
  });
  const bad = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (bad > 0) {
    throw new Error(
      `${url}: ${bad} of ${result.requests.total} answers failed (errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, wrong body ${result.mismatches})`,
    );
  }
  return { kind: 'load', requests: result.requests.total, seconds: result.duration };
}

process.on('message', (message: LoadRequest) => {
  load(message).then(
    (reply) => process.send!(reply),
    (error: unknown) => process.send!({ kind: 'failed', error: String((error as Error).stack ?? error) } satisfies ProbeMessage),
  );
});
process.send!({ kind: 'ready' } satisfies ProbeMessage);
