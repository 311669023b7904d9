// The function bundle's lean zod (infra/zod-lean/, infra/function-bundle.ts): a server importing
// `zod` bundles without the locales and still validates; one using the locales fails the build with
// its file named; MCP_ZOD_LOCALES=keep (or `zodLocales: 'keep'`) bundles them. Real esbuild builds,
// the bundles loaded and run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { bundleFunction, bundleFunctionSync } from '../../infra/bundle.ts';
import { bundleBuild, rewriteZodImports, type FunctionBundleOptions } from '../../infra/function-bundle.ts';

const ROOT = join(import.meta.dirname, '../..');
const OUT = mkdtempSync(join(ROOT, '.local/zod-lean-test-'));
after(() => rmSync(OUT, { recursive: true, force: true }));
/** Plain JavaScript without declarations: typed below as the zod it mirrors. */
const LEAN_ENTRY = pathToFileURL(join(ROOT, 'infra/zod-lean/index.mjs')).href;

/** Builds `entry` as the construct does; returns the locale modules bundled and the loaded module. */
async function bundle(entry: string, options: FunctionBundleOptions = {}) {
  const outdir = join(OUT, `${entry.replace(/\W/g, '_')}-${options.zodLocales ?? 'default'}`);
  const metafile = await bundleFunction({ entry, outdir, options, workingDir: ROOT, sourcemap: false });
  // Modules with code in an output: `inputs` also lists the ones esbuild read and then shook out.
  const bundled = Object.values(metafile.outputs).flatMap((o) =>
    Object.entries(o.inputs)
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([path]) => path),
  );
  const locales = bundled.filter((path) => /zod\/v4\/locales\/(?!en\.js)/.test(path));
  return { locales, bundled, load: () => import(pathToFileURL(join(outdir, 'index.mjs')).href) };
}

describe('lean zod in the function bundle', () => {
  it('exports what zod/v4 exports, but for the locales, at the top and in z.core', async () => {
    const lean = (await import(LEAN_ENTRY)) as typeof import('zod/v4');
    const zod = await import('zod/v4');
    const names = (ns: object) =>
      Object.keys(ns)
        .filter((k) => k !== 'locales')
        .sort();
    assert.deepEqual(names(lean), names(zod));
    assert.deepEqual(names(lean.z.core), names(zod.z.core));
    assert.equal('locales' in lean.z, false);
    assert.equal('locales' in lean.z.core, false);
    // Same modules, not copies: a schema from one is an instance of the other's classes.
    assert.ok(lean.z.string() instanceof zod.z.ZodString);
  });

  it("resolves a server's `import { z } from 'zod'` to the lean entry, which still validates", async () => {
    const lean = await bundle('test/fixtures/zod/root-zod.ts');
    assert.deepEqual(lean.locales, []);
    const { check } = await lean.load();
    assert.equal(check({ text: 'hi' }).success, true);
    const bad = check({ text: 1 });
    assert.equal(bad.success, false);
    assert.match(bad.error.issues[0].message, /expected string, received number/);
  });

  it('bundles every locale for the same file when told to keep them (the control)', async () => {
    const kept = await bundle('test/fixtures/zod/root-zod.ts', { zodLocales: 'keep' });
    assert.ok(kept.locales.length > 40, `${kept.locales.length} locale modules`);
  });

  it("bundles the kit's own echo handler without locales, and without the parts of zod it does not use", async () => {
    const lean = await bundle('functions/echo/handler.ts');
    assert.deepEqual(lean.locales, []);
    // `import { z } from 'zod'` read as a namespace import: zod's JSON Schema import is shaken out.
    assert.equal(
      lean.bundled.some((path) => path.endsWith('zod/v4/classic/from-json-schema.js')),
      false,
    );
    const kept = await bundle('functions/echo/handler.ts', { zodLocales: 'keep' });
    assert.equal(
      kept.bundled.some((path) => path.endsWith('zod/v4/classic/from-json-schema.js')),
      true,
    );
  });

  it('reads a named `z` import from zod as a namespace import, on the same lines', () => {
    assert.equal(rewriteZodImports("import { z } from 'zod';\nz.string();"), "import * as z from 'zod';\nz.string();");
    assert.equal(rewriteZodImports('import { z, ZodError } from "zod/v4";'), 'import * as z from "zod/v4"; import { ZodError } from "zod/v4";');
    assert.equal(
      rewriteZodImports("import {\n  ZodError,\n  z as schema,\n} from 'zod';\nx;"),
      "import * as schema from 'zod'; import { ZodError } from 'zod';\n\n\n\nx;",
    );
    for (const untouched of [
      "import { ZodError } from 'zod';",
      "import type { z } from 'zod';",
      "import { z } from 'zod-to-json';",
      "import { z } from './zod.ts';",
    ]) {
      assert.equal(rewriteZodImports(untouched), untouched);
    }
  });

  it('bundles synchronously for the construct, in a child process, with the same checks', () => {
    bundleFunctionSync({ entry: 'test/fixtures/zod/root-zod.ts', outdir: join(OUT, 'sync-ok'), options: {}, workingDir: ROOT });
    assert.throws(
      () => bundleFunctionSync({ entry: 'test/fixtures/zod/uses-locales.ts', outdir: join(OUT, 'sync-locales'), options: {}, workingDir: ROOT }),
      /^Error: test\/fixtures\/zod\/uses-locales\.ts uses zod's locales/,
    );
  });

  for (const file of ['test/fixtures/zod/uses-locales.ts', 'test/fixtures/zod/imports-locales.ts']) {
    it(`refuses ${file.split('/').pop()} with an error naming it and the opt-out, and keeps the locales when told to`, async () => {
      await assert.rejects(bundle(file), (err: Error) => {
        assert.match(err.message, new RegExp(`^${file.replaceAll('.', '\\.')} uses zod's locales`));
        assert.match(err.message, /MCP_ZOD_LOCALES=keep/);
        return true;
      });
      const kept = await bundle(file, { zodLocales: 'keep' });
      assert.ok(kept.locales.length > 40);
      const { check } = await kept.load();
      assert.match(check({ text: 1 }).error.issues[0].message, /attendu/);
    });
  }

  it('keeps a locale imported by path, and only that one', async () => {
    const lean = await bundle('test/fixtures/zod/locale-by-path.ts');
    assert.deepEqual(
      lean.locales.map((path) => path.split('/').pop()),
      ['fr.js'],
    );
    const { check } = await lean.load();
    assert.match(check({ text: 1 }).error.issues[0].message, /attendu/);
  });

  it('takes MCP_ZOD_LOCALES=keep from the environment', () => {
    const saved = process.env.MCP_ZOD_LOCALES;
    try {
      process.env.MCP_ZOD_LOCALES = 'keep';
      assert.equal('tsconfig' in bundleBuild('x.ts', 'out'), false);
      delete process.env.MCP_ZOD_LOCALES;
      assert.equal('tsconfig' in bundleBuild('x.ts', 'out'), true);
    } finally {
      if (saved === undefined) delete process.env.MCP_ZOD_LOCALES;
      else process.env.MCP_ZOD_LOCALES = saved;
    }
  });
});
