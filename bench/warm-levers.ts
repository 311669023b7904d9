// What a request-path lever buys on the warm in-process invoke (the warm suite's measure): the echo
// server built from each named commit (git archive, as bench/levers.ts does) and from the working
// tree, as the construct builds it, each in its own warm probe, timed in interleaved rounds beside
// raw Hono and the SDK minimal handler; LOG_LEVEL=INFO (the default) unless a `LOG_LEVEL=…` argument says otherwise.
//   npx tsx bench/warm-levers.ts [rounds=12] [callsPerRound=300] [commit ...] [LOG_LEVEL=WARN]
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction } from '../infra/bundle.ts';
import { budget } from './budget.ts';
import { ROOT, buildAll, type Built } from './build.ts';
import { runRounds } from './rounds.ts';

const OUT = join(ROOT, '.local/bench/warm-levers');
const args = process.argv.slice(2);
const env = Object.fromEntries(args.filter((a) => a.includes('=')).map((a) => a.split('=', 2) as [string, string]));
const [rounds = 12, callsPerRound = 300] = args.filter((a) => /^\d+$/.test(a)).map(Number);
const commits = args.filter((a) => !a.includes('=') && !/^\d+$/.test(a));

async function buildCommit(commit: string): Promise<string> {
  const tree = join(OUT, `src-${commit}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C '${ROOT}' archive ${commit} | tar -x -C '${tree}'`], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${commit}: ${archive.stderr}`);
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  const outdir = join(OUT, commit);
  rmSync(outdir, { recursive: true, force: true });
  await bundleFunction({ entry: join(tree, 'functions/echo/handler.ts'), outdir, options: {}, workingDir: tree, sourcemap: false });
  return join(outdir, 'index.mjs');
}

const built = await buildAll();
const files = await Promise.all(commits.map(buildCommit));
const labels = [...commits, 'working tree', 'SDK minimal handler', 'raw Hono'];
const targets = Object.fromEntries(files.map((file, k) => [`lever${k}`, { ...built.bundles.kit, file }]));
const warmBuilt = { ...built, bundles: { ...built.bundles, ...targets } } as Built;
const variants = [
  ...files.map((_, k) => ({ id: `lever${k}`, target: `lever${k}` as never })),
  { id: 'tree', target: 'kit' as const },
  { id: 'sdk', target: 'sdk' as const },
  { id: 'hono', target: 'hono' as const },
];
const { results } = await runRounds(
  warmBuilt,
  variants.map((v, k) => ({ ...v, label: labels[k]!, env })),
  { warmupCalls: 3_000, rounds, callsPerRound },
  budget(600_000),
);
const hono = results.at(-1)!.micros.median;
const sdk = results.at(-2)!.micros.median;
const rows = results.map(
  (r, k) =>
    `| ${labels[k]} | ${r.micros.median.toFixed(1)} | ${r.micros.p90.toFixed(1)} | ${(r.micros.median / hono).toFixed(2)} | ${(r.micros.median / sdk).toFixed(2)} |`,
);
console.log(`${JSON.stringify(env)}\n| | p50 (µs) | p90 (µs) | p50 / raw Hono | p50 / SDK |\n| --- | ---: | ---: | ---: | ---: |\n${rows.join('\n')}`);
