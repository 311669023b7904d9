// `npm run bench`: runs the full plan, prints the tables and targets, and rewrites
// docs/benchmarks.md (with the hand-written analysis in bench/findings.md). With `--quick` it
// runs a few iterations and writes nothing.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './build.ts';
import { formatConsole, formatMarkdown } from './report.ts';
import { FULL, QUICK, runBench } from './runner.ts';

const REPRODUCE = [
  '```sh',
  'npm run bench              # full run, about two minutes; rewrites this file',
  'npm run bench -- --quick   # a few iterations, prints only (what test/bench.test.ts runs)',
  'npm run bench -- --only cold,gateway   # only those suites (full iterations), prints only',
  '```',
  '',
  'Bundles and probe scripts are built into `.local/bench/` (git-ignored). The compared handlers: ' +
    '`functions/echo/handler.ts` (the kit), `bench/baselines/sdk-minimal.ts` (the reference, `zod/v4`), ' +
    "`bench/baselines/sdk-minimal-root-zod.ts` (the same with `import { z } from 'zod'`), `bench/baselines/raw-hono.ts`, " +
    'and for the cache rows `bench/servers/work/handler.ts`. The Redis rows need `redis-server` on PATH (the run starts its own, on loopback). ' +
    'Rows, ratios and targets are declared in `bench/suites/*.ts` and `bench/runner.ts`. ' +
    'Absolute times depend on the machine; compare ratios, and rerun on a quiet machine before trusting a small difference.',
].join('\n');

const quick = process.argv.includes('--quick');
// `--only cold,gateway`: just those suites, printed, nothing written (docs/benchmarks.md is one full run).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? undefined : (process.argv[onlyAt + 1] ?? '').split(',').filter(Boolean);
const started = performance.now();
const report = await runBench(
  quick ? QUICK : FULL,
  (line) => console.error(`bench: ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s  ${line}…`),
  only,
);
console.log(`\n${formatConsole(report)}\n`);
if (!quick && !only) {
  const file = join(ROOT, 'docs/benchmarks.md');
  const findings = await readFile(join(ROOT, 'bench/findings.md'), 'utf8');
  await writeFile(file, formatMarkdown(report, REPRODUCE, findings));
  console.log(`written to ${file}`);
}
