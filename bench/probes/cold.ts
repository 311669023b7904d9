// Cold-start probe: a fresh process per sample. Times a Lambda bundle from just before its import
// to the end of its first complete `tools/call`, as a cold invocation would pay it. A timed sample
// changes no V8 flag: setting `--expose-gc` at run time makes V8 refuse the code cache Node ships
// for its own modules, and the first call then compiles undici from source (about 30 ms of CPU no
// Lambda pays). The live heap is measured in a process of its own (`--heap`), with collections.
// argv: a bundle path; `--heap` and a bundle path; or `--externals` and package names, to time
// importing only those packages (the ones a bundle leaves external and imports at load), which
// tells how much of a bundle's import is theirs.
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { installLambdaRuntime, invoke } from '../in-process-lambda.ts';
import { assertEcho, modernCall } from '../request.ts';
import { restEventFor } from './event.ts';
import type { ProbeMessage } from './protocol.ts';

const args = process.argv.slice(2);
const send = (message: ProbeMessage) => new Promise<void>((done) => process.send!(message, () => done()));

/** A full collection, then the live heap: what the process holds, not what it has yet to collect. */
function liveHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

async function coldStart(bundle: string): Promise<ProbeMessage> {
  // The runtime's own set-up is not the bundle's cost: done before the clock starts.
  installLambdaRuntime();
  const event = restEventFor(modernCall(1));
  const started = performance.now();
  const { handler } = await import(pathToFileURL(bundle).href);
  const imported = performance.now();
  const result = await invoke(handler, event);
  const finished = performance.now();
  assertEcho(bundle, result.statusCode, result.body);
  return { kind: 'cold', importMs: imported - started, totalMs: finished - started, stackMs: await firstStackMs(handler) };
}

/** What the bundle and its first call leave live on the heap: a full collection before the import and after the call. */
async function heapAfterFirstCall(bundle: string): Promise<ProbeMessage> {
  installLambdaRuntime();
  const event = restEventFor(modernCall(1));
  const heapBefore = liveHeap();
  const { handler } = await import(pathToFileURL(bundle).href);
  const result = await invoke(handler, event);
  assertEcho(bundle, result.statusCode, result.body);
  return { kind: 'heap', heapBytes: liveHeap() - heapBefore };
}

/**
 * The first stack trace of an error thrown in the bundle's own code (the handler given no event):
 * where `--enable-source-maps` pays for reading and parsing the maps it needs.
 */
async function firstStackMs(handler: (...args: unknown[]) => Promise<unknown>): Promise<number> {
  const err = await Promise.resolve()
    .then(() => handler(undefined, undefined, undefined))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (!(err instanceof Error)) throw new Error('the handler given no event did not throw');
  const started = performance.now();
  void err.stack;
  return performance.now() - started;
}

async function importOnly(packages: string[]): Promise<ProbeMessage> {
  const started = performance.now();
  for (const name of packages) await import(name);
  return { kind: 'externals', ms: performance.now() - started };
}

try {
  const [mode, ...rest] = args;
  await send(mode === '--externals' ? await importOnly(rest) : mode === '--heap' ? await heapAfterFirstCall(rest[0]!) : await coldStart(mode!));
} catch (err) {
  await send({ kind: 'failed', error: String((err as Error).stack ?? err) });
}
// Exit at once: a bundle may leave timers or sockets that would keep the process alive.
process.exit(0);
