// The house bound on a function's length in shared/: Biome's noExcessiveLinesPerFunction as
// biome.jsonc sets it for shared/** (what `npm run lint` checks in CI), run over the kit, and
// against control files one line over and at the bound. Biome counts the lines of a function's
// body, comments and blank lines included (a multi-line object literal counts a line or so short).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIOME = join(ROOT, 'node_modules/.bin/biome');
const RULE = 'complexity/noExcessiveLinesPerFunction';

function lengthCheck(cwd: string, target: string) {
  const run = spawnSync(BIOME, ['lint', `--only=${RULE}`, '--max-diagnostics=none', '--colors=off', target], { cwd, encoding: 'utf8' });
  assert.equal(run.error, undefined, `biome runs: ${run.error}`);
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** A function whose body is `lines` lines long. */
const functionOf = (lines: number) =>
  `export function f(): number {\n${Array.from({ length: lines - 1 }, (_, i) => `  const a${i} = ${i};\n`).join('')}  return 0;\n}\n`;

describe('functions in shared/', () => {
  const control = mkdtempSync(join(tmpdir(), 'function-length-'));
  after(() => rmSync(control, { recursive: true, force: true }));

  it('are at most 80 lines long', () => {
    const { ok, output } = lengthCheck(ROOT, 'shared');
    assert.ok(ok, `split these by responsibility:\n${output}`);
  });

  it('control: the same configuration fails a function one line over the bound, in shared/ only', () => {
    // The project's configuration, with version control off (the folder is no repository).
    writeFileSync(join(control, 'biome.json'), JSON.stringify({ extends: [join(ROOT, 'biome.jsonc')], vcs: { enabled: false } }));
    for (const dir of ['shared', 'local']) mkdirSync(join(control, dir));
    writeFileSync(join(control, 'shared/at-bound.ts'), functionOf(80));
    writeFileSync(join(control, 'shared/over.ts'), functionOf(81));
    writeFileSync(join(control, 'local/over.ts'), functionOf(81));
    const { ok, output } = lengthCheck(control, '.');
    assert.equal(ok, false, output);
    assert.match(output, /shared\/over\.ts.*noExcessiveLinesPerFunction/);
    assert.match(output, /too many lines \(81\)\. Maximum allowed is 80/);
    assert.doesNotMatch(output, /at-bound\.ts/);
    // --only runs the rule everywhere; outside shared/ at Biome's default, as information that fails nothing.
    assert.match(output, /Found 1 error\b/);
  });
});
