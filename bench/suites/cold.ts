// Cold start: a fresh `node` process per sample and bundle, timed from just before the bundle's
// import to its first complete `tools/call` answer, bundles interleaved sample by sample. Also
// times, the same way, importing only the packages a bundle leaves external, and reports bundle
// size: the two things besides its own code that a Lambda cold start scales with.
import type { Budget } from '../budget.ts';
import type { Built, TargetName } from '../build.ts';
import { lambdaEnv, startProbe } from '../child.ts';
import type { ProbeMessage } from '../probes/protocol.ts';
import type { Section } from '../report.ts';
import { summarize } from '../stats.ts';

export const COLD_TARGETS: TargetName[] = ['kit', 'kitMaps', 'sdk', 'sdkRoot', 'hono'];

export interface ColdPlan {
  samples: number;
}

const SAMPLE_TIMEOUT_MS = 30_000;
/** Heap samples per bundle, each in a process of its own: the live heap varies little between starts. */
const HEAP_SAMPLES = 5;

async function probe<K extends ProbeMessage['kind']>(built: Built, args: string[], kind: K, nodeOptions?: string) {
  const p = startProbe(built.probes.cold, args, lambdaEnv(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}));
  try {
    const reply = await p.next(SAMPLE_TIMEOUT_MS);
    if (reply.kind !== kind) throw new Error(`cold probe ${args.join(' ')} answered ${reply.kind}`);
    return reply as Extract<ProbeMessage, { kind: K }>;
  } finally {
    p.stop();
  }
}

export async function measureCold(built: Built, plan: ColdPlan, budget: Budget, targets = COLD_TARGETS): Promise<Section> {
  const bundles = targets.map((t) => built.bundles[t]);
  // One unrecorded start each, so the first recorded sample does not also pay for reading the
  // bundle and its dependencies from disk into the page cache.
  for (const b of bundles) await probe(built, [b.file], 'cold', b.nodeOptions);
  const totals = targets.map((): number[] => []);
  const imports = targets.map((): number[] => []);
  const heaps = targets.map((): number[] => []);
  const stacks = targets.map((): number[] => []);
  const externals = targets.map((): number[] => []);
  let samples = 0;
  for (; samples < plan.samples && (samples === 0 || !budget.spent()); samples++) {
    for (const [i, b] of bundles.entries()) {
      const reply = await probe(built, [b.file], 'cold', b.nodeOptions);
      totals[i]!.push(reply.totalMs);
      imports[i]!.push(reply.importMs);
      stacks[i]!.push(reply.stackMs);
      if (samples < HEAP_SAMPLES) heaps[i]!.push((await probe(built, ['--heap', b.file], 'heap', b.nodeOptions)).heapBytes);
      externals[i]!.push(b.initExternals.length ? (await probe(built, ['--externals', ...b.initExternals], 'externals')).ms : 0);
    }
  }
  const loaded = bundles.filter((b) => b.initExternals.length).map((b) => `${b.label}: ${b.initExternals.map((e) => `\`${e}\``).join(', ')}`);
  return {
    id: 'cold',
    title: 'Cold start: import plus first call, fresh process',
    method:
      "A fresh `node` process per sample (the runner's own binary, no flags, no loader, a Lambda-like environment " +
      'whose AWS endpoints point at a closed loopback port). A timed sample changes no V8 flag: setting `--expose-gc` at run time ' +
      'makes V8 refuse the code cache Node ships for its own modules, about 30 ms more CPU on the first call than Lambda pays. ' +
      'The clock starts just before `await import(bundle)` and stops when the first `tools/call` answer is complete; ' +
      '"import" is the part until the module has evaluated. Process start-up before the import is not counted. ' +
      'The AWS SDK is bundled, as the construct deploys it (`bundleAwsSdk`, default true); "externals" times importing, in another ' +
      `fresh process, any package a bundle leaves external and imports at load (${loaded.length ? loaded.join('; ') : 'none do'}). ` +
      `"heap" is the live heap the bundle and its first call left (a full collection after the call, against one before the import), ` +
      `the median of ${HEAP_SAMPLES} such processes per bundle. ` +
      'Bundles are built as the construct builds them (infra/function-bundle.ts: ESM, minified, split): "loaded" is what a cold start ' +
      'parses, `index.mjs` and the chunks it imports statically; "package" is every file, chunks loaded on demand included. ' +
      "The reference is the SDK minimal handler importing zod as the SDK does (`import * as z from 'zod/v4'`, no locales bundled); " +
      "\"root zod\" is the same handler with `import { z } from 'zod'`, which bundles all 64 locales; both are built without the kit's " +
      "lean zod, as a project without the kit builds them. The kit's bundle resolves `zod` to infra/zod-lean/ (docs/deploy.md). " +
      'Raw Hono answers the same JSON by hand: the floor. ' +
      '"source maps on" is the kit as deployed: built with its source maps and run with `NODE_OPTIONS=--enable-source-maps` ' +
      '(infra/endpoint/settings.ts); "first stack" times reading `.stack` of the first error thrown in the bundle\'s own code ' +
      '(the handler called without an event), after the first call: where source maps cost.',
    iterations: `${samples} samples per bundle, interleaved, after one unrecorded start each`,
    columns: [
      { key: 'median', header: 'median', unit: 'ms' },
      { key: 'import', header: 'import', unit: 'ms' },
      { key: 'externals', header: 'externals', unit: 'ms' },
      { key: 'min', header: 'min', unit: 'ms' },
      { key: 'max', header: 'max', unit: 'ms' },
      { key: 'heap', header: 'heap', unit: 'bytes' },
      { key: 'stack', header: 'first stack', unit: 'ms' },
      { key: 'bytes', header: 'loaded', unit: 'bytes' },
      { key: 'total', header: 'package', unit: 'bytes' },
    ],
    rows: bundles.map((b, i) => {
      const total = summarize(totals[i]!);
      return {
        id: b.name,
        label: b.label,
        values: {
          median: total.median,
          import: summarize(imports[i]!).median,
          externals: summarize(externals[i]!).median,
          min: total.min,
          max: total.max,
          heap: summarize(heaps[i]!).median,
          stack: summarize(stacks[i]!).median,
          bytes: b.bytes,
          total: b.totalBytes,
        },
      };
    }),
  };
}
