// Warm probe: one child process per measured variant. Loads one Lambda bundle the way the Node.js
// runtime does, warms it up, then times sequential in-process `tools/call`s whenever the runner
// asks for a round, so the runner can interleave variants. argv: bundle path, warm-up calls.
import { pathToFileURL } from 'node:url';
import { installLambdaRuntime, invoke } from '../../local/lambda-runtime.ts';
import { assertEcho, modernCall } from '../request.ts';
import { restEventFor } from './event.ts';
import type { ProbeMessage, RoundRequest } from './protocol.ts';

const [bundle, warmupArg] = process.argv.slice(2) as [string, string];
const send = (message: ProbeMessage) => process.send!(message);

let nextId = 1;
async function call(handler: unknown): Promise<number> {
  const event = restEventFor(modernCall(nextId++));
  const started = performance.now();
  const result = await invoke(handler, event);
  const micros = (performance.now() - started) * 1000;
  assertEcho(bundle, result.statusCode, result.body);
  return micros;
}

try {
  installLambdaRuntime();
  const { handler } = await import(pathToFileURL(bundle).href);
  for (let i = 0; i < Number(warmupArg); i++) await call(handler);
  process.on('message', async ({ calls }: RoundRequest) => {
    try {
      const micros: number[] = [];
      for (let i = 0; i < calls; i++) micros.push(await call(handler));
      send({ kind: 'samples', micros });
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
