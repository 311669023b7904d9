// The public entry (shared/index.ts) loads no MCP SDK module at start: bundled as a function is
// (infra/function-bundle.ts: split, the SDK behind dynamic imports), the modules its entry chunk
// and that chunk's static imports hold include nothing from @modelcontextprotocol/*. A control
// entry that re-exports the SDK's inputRequired statically fails the same check. A Lambda
// handler's start leaves out, the same way, the modules no modern `tools/call` of a server without
// those features runs: the credential checks, loaded with a server's first token or key, and the
// task machinery, loaded by the first call that becomes a task (echo has a task tool).
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
  const { metafile } = await build({ ...settings, stdin: { contents: source, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' }, write: false, absWorkingDir: ROOT });
  return metafile!;
}

describe('the public entry at cold start', () => {
  it('loads no @modelcontextprotocol module; the SDK sits in lazily loaded chunks', async () => {
    const metafile = await bundle("export * from './shared/index.ts';");
    const atStart = loadedAtStart(metafile, 'entry.ts');
    assert.ok(atStart.some((input) => input.endsWith('shared/server/input-required.ts')), 'inputRequired is in the entry chunk');
    assert.deepEqual(atStart.filter((input) => SDK.test(input)), []);
    const lazily = Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    assert.ok(lazily.some((input) => SDK.test(input)), 'the SDK is in the bundle, behind a dynamic import');
  });

  it('control: a static re-export of the SDK puts it in the entry chunk', async () => {
    const metafile = await bundle("export * from './shared/index.ts'; export { inputRequired as sdkInputRequired } from '@modelcontextprotocol/server';");
    assert.ok(loadedAtStart(metafile, 'entry.ts').some((input) => SDK.test(input)));
  });

  it('exports inputRequired for tool writers', () => {
    assert.deepEqual(inputRequired({ requestState: 's' }), { resultType: 'input_required', requestState: 's' });
  });
});

/** Loaded only by a server that takes tokens or keys, on its first one (shared/kit.ts). */
const CREDENTIAL_CHECKS = ['shared/auth/jwt.ts', 'shared/auth/api-keys.ts', 'shared/auth/gateway-assertion.ts', 'shared/auth/gateway-keys.ts'];
/** Loaded by the first call that becomes a task, or the first task event (shared/kit-core.ts). */
const TASK_MACHINERY = ['shared/tasks/setup.ts', 'shared/tasks/service.ts', 'shared/tasks/store.ts', 'shared/tasks/queue.ts'];
const HANDLER = "export { handler } from './functions/echo/handler.ts';";

describe('a Lambda handler at cold start', () => {
  it('loads no credential check; each sits in a chunk loaded on first use', async () => {
    const metafile = await bundle(HANDLER);
    const atStart = loadedAtStart(metafile, 'entry.ts');
    assert.ok(atStart.some((input) => input.endsWith('shared/auth/authenticate.ts')), 'the authenticator is in the entry chunk');
    assert.deepEqual(CREDENTIAL_CHECKS.filter((m) => atStart.includes(m)), []);
    const inBundle = Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    assert.deepEqual(CREDENTIAL_CHECKS.filter((m) => !inBundle.includes(m)), [], 'every check is in the bundle');
  });

  it('loads no task machinery, though a tool of the server may run as a task', async () => {
    const metafile = await bundle(HANDLER);
    assert.deepEqual(TASK_MACHINERY.filter((m) => loadedAtStart(metafile, 'entry.ts').includes(m)), []);
    const inBundle = Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs));
    assert.deepEqual(TASK_MACHINERY.filter((m) => !inBundle.includes(m)), [], 'the machinery is in the bundle, behind a dynamic import');
  });

  it('control: createKit (kit.ts, every other adapter) loads the task machinery at start', async () => {
    const metafile = await bundle("export { createKit } from './shared/kit.ts';");
    assert.deepEqual(TASK_MACHINERY.filter((m) => !loadedAtStart(metafile, 'entry.ts').includes(m)), []);
  });

  it('control: a static import of a check puts it in the entry chunk', async () => {
    const metafile = await bundle(`${HANDLER} export { ApiKeyStore } from './shared/auth/api-keys.ts';`);
    assert.ok(loadedAtStart(metafile, 'entry.ts').includes('shared/auth/api-keys.ts'));
  });
});
