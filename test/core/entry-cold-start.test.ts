// The public entry (shared/index.ts) loads no MCP SDK module at start: bundled as a function is
// (infra/function-bundle.ts: split, the SDK behind dynamic imports), the modules its entry chunk
// and that chunk's static imports hold include nothing from @modelcontextprotocol/*. A control
// entry that re-exports the SDK's inputRequired statically fails the same check.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { bundleBuild } from '../../infra/function-bundle.ts';
import { inputRequired } from '../../shared/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SDK = /node_modules\/@modelcontextprotocol\//;

/** Source modules in the entry chunk and everything it imports statically (what a cold start evaluates). */
function loadedAtStart(metafile: Metafile, entryPoint: string): string[] {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path]!.entryPoint === entryPoint);
  assert.ok(entry, `an output for ${entryPoint}`);
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !outputs[path]) return;
    seen.add(path);
    for (const i of outputs[path].imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entry);
  return [...seen].flatMap((path) => Object.keys(outputs[path]!.inputs));
}

async function bundle(source: string) {
  const { entryPoints: _entry, ...settings } = bundleBuild('', join(ROOT, '.local/entry-cold-start'));
  const { metafile } = await build({
    ...settings,
    stdin: { contents: source, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    write: false,
    absWorkingDir: ROOT,
  });
  return metafile!;
}

describe('the public entry at cold start', () => {
  it('loads no @modelcontextprotocol module; the SDK sits in lazily loaded chunks', async () => {
    const metafile = await bundle("export * from './shared/index.ts';");
    const atStart = loadedAtStart(metafile, 'entry.ts');
    assert.ok(
      atStart.some((input) => input.endsWith('shared/server/input-required.ts')),
      'inputRequired is in the entry chunk',
    );
    assert.deepEqual(
      atStart.filter((input) => SDK.test(input)),
      [],
    );
    const lazily = Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    assert.ok(
      lazily.some((input) => SDK.test(input)),
      'the SDK is in the bundle, behind a dynamic import',
    );
  });

  it('control: a static re-export of the SDK puts it in the entry chunk', async () => {
    const metafile = await bundle("export * from './shared/index.ts'; export { inputRequired as sdkInputRequired } from '@modelcontextprotocol/server';");
    assert.ok(loadedAtStart(metafile, 'entry.ts').some((input) => SDK.test(input)));
  });

  it('exports inputRequired for tool writers', () => {
    assert.deepEqual(inputRequired({ requestState: 's' }), { resultType: 'input_required', requestState: 's' });
  });
});
