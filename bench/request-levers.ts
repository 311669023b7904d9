// What a request-path lever buys under load: the HTTP server probe (bench/probes/http-server.ts)
// built from each named commit (git archive, as bench/levers.ts does) and from the working tree,
// each serving in its own process, driven in turn by autocannon from this process, interleaved
// round by round. Reports the server's own CPU time per call (its process.cpuUsage over the run
// divided by the answers, which a busy machine disturbs less than requests per second) and
// requests per second, medians of the rounds. Every answer is checked.
//   npx tsx bench/request-levers.ts [seconds=3] [rounds=6] [connections=16] [commit ...]
// Raw Hono and the SDK minimal handler from the working tree run beside them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import { ROOT } from './build.ts';
import { lambdaEnv } from './child.ts';
import { ECHO, assertResult, modernCall } from './request.ts';
import { summarize } from './stats.ts';

const OUT = join(ROOT, '.local/bench/request-levers');
const [seconds = 3, rounds = 6, connections = 16] = process.argv.slice(2, 5).map(Number);
const commits = process.argv.slice(5);

/** A probe process that also answers `cpu` with its CPU time so far (µs). */
const CPU_WRAPPER =
  "process.on('message', (m) => { if (m === 'cpu') { const u = process.cpuUsage(); process.send({ kind: 'cpu', us: u.user + u.system }); } });\nawait import(process.env.PROBE_FILE);\n";

async function buildProbe(label: string, tree: string): Promise<string> {
  const outfile = join(OUT, `${label}.mjs`);
  await build({
    bundle: true,
    platform: 'node',
    format: 'esm',
    entryPoints: [join(tree, 'bench/probes/http-server.ts')],
    outfile,
    absWorkingDir: tree,
    logLevel: 'error',
    external: ['@aws-sdk/*'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

function treeOf(commit: string): string {
  const tree = join(OUT, `src-${commit}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C '${ROOT}' archive ${commit} | tar -x -C '${tree}'`], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${commit}: ${archive.stderr}`);
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  return tree;
}

interface Variant {
  label: string;
  child: ChildProcess;
  url: string;
  cpu: number[];
  rps: number[];
}

async function start(label: string, probe: string, target: string): Promise<Variant> {
  const child = spawn(process.execPath, [join(OUT, 'cpu-wrapper.mjs'), target], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...lambdaEnv(), PROBE_FILE: probe },
  });
  const url = await new Promise<string>((resolve) => child.on('message', (m: { kind: string; url: string }) => m.kind === 'listening' && resolve(m.url)));
  return { label, child, url, cpu: [], rps: [] };
}

const cpuOf = (v: Variant) =>
  new Promise<number>((resolve) => {
    v.child.once('message', (m: { us: number }) => resolve(m.us));
    v.child.send('cpu');
  });

async function run(v: Variant, duration: number) {
  const call = modernCall(1);
  const before = await cpuOf(v);
  const correct = (body: string | Buffer | undefined) => {
    try {
      return (assertResult(v.label, 200, String(body ?? ''), ECHO), true);
    } catch {
      return false;
    }
  };
  const result = await autocannon({ url: v.url, method: 'POST', headers: call.headers, body: call.body, connections, duration, verifyBody: correct });
  const bad = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (bad > 0) throw new Error(`${v.label}: ${bad} answers failed`);
  return { cpu: ((await cpuOf(v)) - before) / result.requests.total, rps: result.requests.total / result.duration };
}

mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'cpu-wrapper.mjs'), CPU_WRAPPER);
const variants: Variant[] = [];
try {
  for (const commit of commits) variants.push(await start(`kit@${commit}`, await buildProbe(commit, treeOf(commit)), 'kit'));
  const current = await buildProbe('worktree', ROOT);
  for (const target of ['kit', 'hono', 'sdk']) variants.push(await start(target === 'kit' ? 'kit (working tree)' : target, current, target));
  for (const v of variants) await run(v, 2);
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const m = await run(v, seconds);
      v.cpu.push(m.cpu);
      v.rps.push(m.rps);
    }
  }
  console.log(`| ${connections} connections | server CPU per call (µs) | requests / s |\n| --- | ---: | ---: |`);
  for (const v of variants) console.log(`| ${v.label} | ${summarize(v.cpu).median.toFixed(1)} | ${summarize(v.rps).median.toFixed(0)} |`);
} finally {
  for (const v of variants) v.child.kill();
}
