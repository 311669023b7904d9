// The official MCP conformance suite's client scenarios against the kit's ResilientClient
// (./client.ts, run by the suite as its client command): every client scenario 0.1.16 lists, at the
// revision it picks; 0.2.0-alpha's frozen requirement sets for 2025-11-25 and 2026-07-28 (scored
// and unscored client scenarios), each at its revision's wire; and 0.2.0-alpha's other client
// scenarios at the revision it picks. Each suite run starts its scenarios at once, as the suite
// does (a scenario that fails there is run again alone, which decides); the runs go one after
// another. client-expected.json lists what does not apply (reported with its reason, never judged)
// and what a suite version gets wrong (must still fail).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
/** The suite refuses Node < 22; the repo pins a Node 24 binary (optional dependency `node24`, Linux x64) for that case. */
const NODE = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : require.resolve('node24/bin/node');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The client command: test/conformance/client.ts bundled once by esbuild and run on plain Node. It
 * is what `tsx test/conformance/client.ts` runs, without tsx's start-up in each of the ~100 client
 * processes (0.3 s of CPU each).
 */
async function bundleClient(): Promise<{ command: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-client-fixture-'));
  await build({
    entryPoints: [join(ROOT, 'test/conformance/client.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: join(dir, 'client.mjs'),
    logLevel: 'warning',
    // Bundled CommonJS dependencies call require.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  await copyFile(join(ROOT, 'test/conformance/client-expected.json'), join(dir, 'client-expected.json'));
  // The suite splits the command on spaces.
  assert.ok(!/\s/.test(NODE + dir), `no spaces allowed in ${NODE} or ${dir}`);
  return { command: `${NODE} ${join(dir, 'client.mjs')}`, remove: () => rm(dir, { recursive: true, force: true }) };
}
let client: { command: string; remove(): Promise<void> };
const RUN_TIMEOUT_MS = 3 * 60_000;

type Suite = 'conformance-v1' | 'conformance-v2';
interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';
  description?: string;
  errorMessage?: string;
}
interface SuiteRun {
  log: string;
  /** Scenarios the CLI said it would run. */
  planned: number;
  results: Map<string, Check[]>;
  /** What each scenario's client wrote to stderr. */
  stderr: Map<string, string>;
}

const EXPECTED = JSON.parse(await readFile(new URL('./client-expected.json', import.meta.url), 'utf8')) as {
  /** Scenario → why it does not apply to the kit's client. Not judged. */
  notApplicable: Record<string, string>;
  /** Suite version → scenario → what that version gets wrong. Must fail. */
  suiteDefects: Partial<Record<Suite, Record<string, string>>>;
};

async function cliOf(pkg: Suite) {
  const manifest = require.resolve(`${pkg}/package.json`);
  const { bin } = JSON.parse(await readFile(manifest, 'utf8')) as { bin: { conformance: string } };
  return join(dirname(manifest), bin.conformance);
}

async function cli(pkg: Suite, args: string[]): Promise<string> {
  const child = spawn(NODE, [await cliOf(pkg), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  await once(child, 'close');
  clearTimeout(timer);
  return log;
}

const lists = new Map<Suite, Promise<string[]>>();
/** The client scenarios a suite version lists (`conformance list --client`). */
function listed(pkg: Suite): Promise<string[]> {
  if (!lists.has(pkg))
    lists.set(
      pkg,
      cli(pkg, ['list', '--client']).then((log) => [...log.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]!)),
    );
  return lists.get(pkg)!;
}

/** A frozen requirement set's client scenarios, scored or not, read with the suite's own YAML parser. */
async function requirementSet(revision: string): Promise<string[]> {
  const root = dirname(require.resolve('conformance-v2/package.json'));
  const yaml = createRequire(join(root, 'package.json'))('yaml') as { parse(text: string): unknown };
  const doc = yaml.parse(await readFile(join(root, 'requirements', `${revision}.yaml`), 'utf8')) as {
    client: string[];
    not_scored?: { scenario: string; leg: string }[];
  };
  return [...doc.client, ...(doc.not_scored ?? []).filter((e) => e.leg === 'client').map((e) => e.scenario)];
}

/** One CLI run of client scenarios; results by scenario, from `<out>/<scenario>-<ISO timestamp>/checks.json`. */
async function runSuite(pkg: Suite, args: string[]): Promise<SuiteRun> {
  const out = await mkdtemp(join(tmpdir(), 'mcp-client-conformance-'));
  try {
    const log = await cli(pkg, ['client', '--command', client.command, '--output-dir', out, ...args]);
    const results = new Map<string, Check[]>();
    const stderr = new Map<string, string>();
    for (const entry of await readdir(out, { recursive: true })) {
      const scenario = /^(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z\/checks\.json$/.exec(entry.split(sep).join('/'))?.[1];
      if (!scenario) continue;
      results.set(scenario, JSON.parse(await readFile(join(out, entry), 'utf8')) as Check[]);
      stderr.set(scenario, await readFile(join(out, dirname(entry), 'stderr.txt'), 'utf8').catch(() => ''));
    }
    const planned = Number(/\((\d+) scenarios\)/.exec(log)?.[1] ?? (args.includes('--scenario') ? 1 : NaN));
    return { log, planned, results, stderr };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const failures = (checks: Check[]) => checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
const describeFailures = (checks: Check[]) =>
  failures(checks)
    .map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description ?? ''}`)
    .join('; ') || 'no checks';

/**
 * Every scenario reported and passed (no failed check, no warning), except those that do not apply
 * (reported with their reason) and the suite version's known defects, which must still fail.
 * A run starts all its scenarios at once, which on a small shared machine can starve a client
 * past a time limit (sse-retry times its reconnect to 200 ms): a scenario that failed there is run
 * again by itself (`alone`), and that run decides. A client that is wrong fails both.
 */
async function assertConformant(t: TestContext, pkg: Suite, run: SuiteRun, alone: (scenario: string) => Promise<SuiteRun>, label = '') {
  assert.equal(
    run.results.size,
    run.planned,
    `the suite planned ${run.planned} scenarios and reported ${run.results.size}:\n${run.log.split('\n').slice(-40).join('\n')}`,
  );
  const defects = EXPECTED.suiteDefects[pkg] ?? {};
  const problems: string[] = [];
  let passed = 0;
  for (let [scenario, checks] of [...run.results].sort(([a], [b]) => a.localeCompare(b))) {
    let stderr = run.stderr.get(scenario) ?? '';
    const name = `${scenario}${label}`;
    const notApplicable = EXPECTED.notApplicable[scenario];
    if (notApplicable !== undefined) {
      t.diagnostic(`${name}: not applicable (${notApplicable})`);
      continue;
    }
    if (defects[scenario] === undefined && failures(checks).length > 0) {
      t.diagnostic(`${name}: ${describeFailures(checks)} (among ${run.planned} scenarios at once; run again alone)`);
      const again = await alone(scenario);
      checks = again.results.get(scenario) ?? [];
      stderr = again.stderr.get(scenario) ?? '';
    }
    const ok = checks.length > 0 && failures(checks).length === 0;
    if (defects[scenario] !== undefined) {
      if (ok) problems.push(`${name} passes now: remove it from suiteDefects.${pkg} in client-expected.json`);
      else t.diagnostic(`${name}: fails as expected (${defects[scenario]})`);
      continue;
    }
    if (ok) {
      passed++;
      t.diagnostic(`${name}: pass (${checks.filter((c) => c.status === 'SUCCESS').length} checks)`);
    } else problems.push(`${name}: ${describeFailures(checks)}\n    client stderr: ${stderr.trim().split('\n').slice(-6).join('\n    ')}`);
  }
  t.diagnostic(`${passed} of ${run.results.size} scenarios passed`);
  assert.equal(problems.length, 0, `${problems.length} scenario(s) failed:\n${problems.join('\n')}\n${run.log.split('\n').slice(-20).join('\n')}`);
}

describe('official MCP conformance suite, client scenarios (ResilientClient)', () => {
  before(async () => {
    client = await bundleClient();
  });
  after(async () => {
    await client?.remove();
  });

  it('client-expected.json names only scenarios the suite has, each with a reason', async () => {
    const known = new Set([...(await listed('conformance-v1')), ...(await listed('conformance-v2'))]);
    for (const [scenario, reason] of Object.entries(EXPECTED.notApplicable)) {
      assert.ok(known.has(scenario), `${scenario} is not a client scenario of either suite version`);
      assert.ok(reason.trim().length > 0, `${scenario} needs a reason`);
    }
    for (const [pkg, defects] of Object.entries(EXPECTED.suiteDefects)) {
      const ofVersion = new Set(await listed(pkg as Suite));
      for (const [scenario, reason] of Object.entries(defects)) {
        assert.ok(ofVersion.has(scenario), `${scenario} is not a client scenario of ${pkg}`);
        assert.ok(reason.trim().length > 0, `${scenario} needs a reason`);
      }
    }
  });

  it('0.1.16: every client scenario passes at the revision the suite picks', async (t) => {
    const alone = (scenario: string) => runSuite('conformance-v1', ['--scenario', scenario]);
    await assertConformant(t, 'conformance-v1', await runSuite('conformance-v1', ['--suite', 'all']), alone);
  });

  for (const revision of ['2025-11-25', '2026-07-28']) {
    it(`0.2.0-alpha --requirements ${revision}: every client scenario of the set passes, scored or not`, async (t) => {
      // What --requirements does for each scenario: that revision's wire, applicable or not.
      const alone = (scenario: string) => runSuite('conformance-v2', ['--scenario', scenario, '--spec-version', revision, '--force']);
      await assertConformant(t, 'conformance-v2', await runSuite('conformance-v2', ['--requirements', revision]), alone, ` @ ${revision}`);
    });
  }

  it('0.2.0-alpha: the client scenarios in neither requirement set pass at the revision the suite picks', async (t) => {
    const inSets = new Set([...(await requirementSet('2025-11-25')), ...(await requirementSet('2026-07-28'))]);
    const rest = (await listed('conformance-v2')).filter((s) => !inSets.has(s) && EXPECTED.notApplicable[s] === undefined);
    for (const s of (await listed('conformance-v2')).filter((s) => !inSets.has(s) && EXPECTED.notApplicable[s] !== undefined))
      t.diagnostic(`${s}: not applicable (${EXPECTED.notApplicable[s]})`);
    assert.ok(rest.length > 0, 'no scenario outside the requirement sets: drop this test');
    const runs = await Promise.all(rest.map((scenario) => runSuite('conformance-v2', ['--scenario', scenario])));
    for (const run of runs) await assertConformant(t, 'conformance-v2', run, (scenario) => runSuite('conformance-v2', ['--scenario', scenario]));
  });
});
