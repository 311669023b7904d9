// Warm probe: one child process per measured variant. Loads one Lambda bundle the way the Node.js
// runtime does, warms it up, then times sequential in-process `tools/call`s whenever the runner
// asks for a round, so the runner can interleave variants. argv: bundle path, warm-up calls, and
// the tool call as JSON (`echo` when absent).
// Besides times, a round reports how many HTTP requests went to Redis (`UPSTASH_REDIS_REST_URL`)
// and how many times a tool handler ran (in servers that count their runs: bench/servers/).
import { pathToFileURL } from 'node:url';
import { installLambdaRuntime, invoke } from '../in-process-lambda.ts';
import { toolRuns } from '../servers/tool-runs.ts';
import { ECHO, assertResult, modernCall, type ToolCall } from '../request.ts';
import { restEventFor } from './event.ts';
import type { ProbeMessage, RoundRequest } from './protocol.ts';

const [bundle, warmupArg, toolArg] = process.argv.slice(2) as [string, string, string | undefined];
const tool: ToolCall = toolArg ? JSON.parse(toolArg) : ECHO;
const send = (message: ProbeMessage) => process.send!(message);

/**
 * Counts the requests the bundle sends to Redis. @upstash/redis calls the global `fetch` at request
 * time, so wrapping it before the bundle loads sees every one, whatever the client batches.
 */
function countRedisRequests(): () => number {
  const redisUrl = process.env.UPSTASH_REDIS_REST_URL;
  let count = 0;
  if (redisUrl) {
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.startsWith(redisUrl)) count++;
      return realFetch(input, init);
    };
  }
  return () => count;
}

let nextId = 1;
async function call(handler: unknown): Promise<[billed: number, responded: number]> {
  const event = restEventFor(modernCall(nextId++, tool));
  const started = performance.now();
  const result = await invoke(handler, event);
  const micros = (performance.now() - started) * 1000;
  assertResult(bundle, result.statusCode, result.body, tool);
  return [micros, (result.respondedAt - started) * 1000];
}

try {
  const redisRequests = countRedisRequests();
  installLambdaRuntime();
  const { handler } = await import(pathToFileURL(bundle).href);
  for (let i = 0; i < Number(warmupArg); i++) await call(handler);
  process.on('message', async ({ calls }: RoundRequest) => {
    try {
      const [micros, respondedMicros]: [number[], number[]] = [[], []];
      const [requestsBefore, runsBefore] = [redisRequests(), toolRuns()];
      for (let i = 0; i < calls; i++) {
        const [billed, responded] = await call(handler);
        micros.push(billed);
        respondedMicros.push(responded);
      }
      send({ kind: 'samples', micros, respondedMicros, redisRequests: redisRequests() - requestsBefore, toolRuns: toolRuns() - runsBefore });
    } catch (err) {
      send({ kind: 'failed', error: String((err as Error).stack ?? err) });
    }
  });
  // The runner going away ends the probe, whatever the bundle left scheduled.
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready' });
} catch (err) {
  send({ kind: 'failed', error: String((err as Error).stack ?? err) });
  process.exit(1);
}
