// What CI runs (.ci/run): the type checker before the tests, because tsx strips types without
// checking them and a type error would otherwise pass every test; the formatter and linter too.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test } from 'node:test';

const repo = resolve(import.meta.dirname, '../..');

test('.ci/run type-checks before it runs the tests', async () => {
  const commands = (await readFile(resolve(repo, '.ci/run'), 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const typecheck = commands.indexOf('npm run typecheck');
  assert.ok(typecheck >= 0, `.ci/run runs npm run typecheck:\n${commands.join('\n')}`);
  assert.ok(typecheck < commands.indexOf('npm test'), 'before npm test');
});

test('.ci/run checks formatting and lint rules after the typecheck, before the tests', async () => {
  const commands = (await readFile(resolve(repo, '.ci/run'), 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const lint = commands.indexOf('npm run lint');
  assert.ok(lint > commands.indexOf('npm run typecheck'), `.ci/run runs npm run lint after npm run typecheck:\n${commands.join('\n')}`);
  assert.ok(lint < commands.indexOf('npm test'), 'before npm test');
});
