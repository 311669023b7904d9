// `npm run bench:levers`: what each performance lever bought, measured side by side in one run.
// The echo server is built from the commit before each lever and from the commit that added it
// (git history of this repository, exported with `git archive`), each with the construct's bundle
// settings of its time (one file before bundle splitting, split after), and measured like
// `npm run bench` measures the kit: cold start and live heap in fresh processes, interleaved, and
// warm per-call time in interleaved rounds, beside the SDK minimal handler. Prints a Markdown
// table for bench/findings.md. Needs the repository's history (not a shallow clone).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleBuild, functionBundle } from '../infra/function-bundle.ts';
import { loadedBytes } from '../local/aws/build.ts';
import { budget } from './budget.ts';
import { ROOT, buildAll, type Built } from './build.ts';
import { lambdaEnv, startProbe } from './child.ts';
import { runRounds } from './rounds.ts';
import { summarize } from './stats.ts';

interface Lever {
  id: string;
  label: string;
  commit: string;
  split: boolean;
}

/** Each lever's commit; the first is the state before any of them. */
const LEVERS: Lever[] = [
  { id: 'before', label: 'before: every call through a pooled SDK server', commit: '1fc88d7', split: false },
  { id: 'direct', label: '+ direct lane; SDK, Redis client and codec loaded on first need', commit: '6fd3746', split: false },
  { id: 'split', label: '+ split bundle (SDK lane in chunks not parsed at start)', commit: '7af5168', split: true },
  { id: 'logger', label: '+ own JSON logger instead of Powertools', commit: '98c5d24', split: true },
];

const OUT = join(ROOT, '.local/bench/levers');
/** Packages older commits used and the project no longer installs, fetched once beside the builds. */
const RETIRED = ['@aws-lambda-powertools/logger@2.35.0'];
const RETIRED_MODULES = join(OUT, 'retired/node_modules');

function installRetired() {
  const install = spawnSync('npm', ['install', '--prefix', join(OUT, 'retired'), '--no-save', '--no-audit', '--no-fund', ...RETIRED], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm install ${RETIRED.join(' ')}: ${install.stderr}`);
}

async function buildLever(lever: Lever): Promise<{ file: string; bytes: number }> {
  const tree = join(OUT, `src-${lever.id}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C '${ROOT}' archive ${lever.commit} | tar -x -C '${tree}'`], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${lever.commit}: ${archive.stderr}`);
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  const outdir = join(OUT, lever.id);
  rmSync(outdir, { recursive: true, force: true });
  const entry = join(tree, 'functions/echo/handler.ts');
  const resolve = { absWorkingDir: tree, nodePaths: [RETIRED_MODULES] };
  if (lever.split) {
    // As built then: without the lean zod the build has had since (infra/zod-lean/).
    const { metafile } = await build({ ...bundleBuild(entry, outdir, { zodLocales: 'keep' }), sourcemap: false, ...resolve });
    return { file: join(outdir, 'index.mjs'), bytes: loadedBytes(metafile!, outdir, tree) };
  }
  const { banner, ...settings } = functionBundle();
  const { metafile } = await build({
    ...settings,
    sourcemap: false,
    banner: { js: banner },
    entryPoints: [entry],
    bundle: true,
    outfile: join(outdir, 'index.mjs'),
    metafile: true,
    ...resolve,
    logLevel: 'warning',
  });
  return { file: join(outdir, 'index.mjs'), bytes: Object.values(metafile!.outputs)[0]!.bytes };
}

/** One cold-probe process (`--heap` first for the heap): its answer of `kind`. */
async function cold<K extends 'cold' | 'heap'>(built: Built, args: string[], kind: K) {
  const probe = startProbe(built.probes.cold, args, lambdaEnv());
  try {
    const reply = await probe.next(30_000);
    if (reply.kind !== kind) throw new Error(`cold probe answered ${reply.kind}`);
    return reply as Extract<typeof reply, { kind: K }>;
  } finally {
    probe.stop();
  }
}

installRetired();
const built = await buildAll();
const bundles = [...(await Promise.all(LEVERS.map(buildLever))), { file: built.bundles.sdk.file, bytes: built.bundles.sdk.bytes }];
const labels = [...LEVERS.map((l) => l.label), 'SDK minimal handler'];
const samples = bundles.map(() => ({ total: [] as number[], heap: [] as number[] }));
for (const b of bundles) await cold(built, [b.file], 'cold');
for (let i = 0; i < 15; i++) {
  for (const [k, b] of bundles.entries()) {
    samples[k]!.total.push((await cold(built, [b.file], 'cold')).totalMs);
    if (i < 5) samples[k]!.heap.push((await cold(built, ['--heap', b.file], 'heap')).heapBytes);
  }
}
// Warm rounds: the bundles as targets of the warm probe.
const targets = Object.fromEntries(bundles.map((b, k) => [`lever${k}`, { ...built.bundles.kit, file: b.file }]));
const warmBuilt = { ...built, bundles: { ...built.bundles, ...targets } } as Built;
const { results } = await runRounds(
  warmBuilt,
  bundles.map((_, k) => ({ id: `lever${k}`, label: labels[k]!, target: `lever${k}` as never })),
  { warmupCalls: 3_000, rounds: 20, callsPerRound: 300 },
  budget(120_000),
);

const sdk = bundles.length - 1;
const median = (k: number, key: 'total' | 'heap') => summarize(samples[k]![key]).median;
const rows = bundles.map((b, k) => [
  labels[k]!,
  median(k, 'total').toFixed(1),
  (median(k, 'total') / median(sdk, 'total')).toFixed(2),
  (median(k, 'heap') / 1e6).toFixed(2),
  (median(k, 'heap') / median(sdk, 'heap')).toFixed(2),
  b.bytes.toLocaleString('en-US'),
  (b.bytes / bundles[sdk]!.bytes).toFixed(2),
  results[k]!.micros.median.toFixed(1),
  (results[k]!.micros.median / results[sdk]!.micros.median).toFixed(2),
]);
const header = ['', 'cold (ms)', '/ SDK', 'heap (MB)', '/ SDK', 'loaded (bytes)', '/ SDK', 'warm (µs)', '/ SDK'];
console.log([header, header.map((_, i) => (i ? '---:' : '---')), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
