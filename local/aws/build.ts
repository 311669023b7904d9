// Builds what the modelled Lambda runs, under the git-ignored `.local/aws/`: the function bundle,
// with the esbuild settings the construct deploys (infra/function-bundle.ts), and the runtime
// that drives it in each execution environment. A server definition (`functions/x/server.ts`)
// gets the three-line entry a handler.ts would have.
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { bundleFunction } from '../../infra/bundle.ts';
import { functionBundle } from '../../infra/function-bundle.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface BuiltFunction {
  /** `index.mjs`, as Lambda loads it (its chunks beside it). */
  bundle: string;
  runtime: string;
  /** What a cold start loads: `index.mjs` and the chunks it imports statically. */
  bytes: number;
}

/** True when the file exports a Lambda `handler` rather than a server definition. */
async function isHandlerEntry(entry: string): Promise<boolean> {
  return /export\s+(const|async function|function)\s+handler\b/.test(await readFile(entry, 'utf8'));
}

/** The handler.ts a server definition would have, written beside the build (esbuild splits only real files). */
async function handlerEntry(file: string, dir: string): Promise<string> {
  const entry = join(dir, 'handler.ts');
  const from = (target: string) => {
    const path = relative(dir, target).replace(/\\/g, '/');
    return path.startsWith('.') ? path : `./${path}`;
  };
  await mkdir(dir, { recursive: true });
  await writeFile(
    entry,
    `import definition from '${from(file)}';\nimport { lambdaHandler } from '${from(join(ROOT, 'shared/adapters/lambda.ts'))}';\nexport const handler = lambdaHandler(definition);\n`,
  );
  return entry;
}

export async function buildFunction(entry: string, outDir = join(ROOT, '.local/aws')): Promise<BuiltFunction> {
  const file = resolve(entry);
  const name = `${basename(dirname(file))}-${basename(file, '.ts')}`;
  const target = join(outDir, name);
  const source = (await isHandlerEntry(file)) ? file : await handlerEntry(file, join(outDir, 'entries', name));
  const [metafile, runtime] = await Promise.all([bundleFunction({ entry: source, outdir: target, options: {}, workingDir: ROOT }), buildRuntime(outDir)]);
  return { bundle: join(target, 'index.mjs'), runtime, bytes: loadedBytes(metafile, target) };
}

/**
 * Bytes of `index.mjs` and of every chunk reachable from it through static imports. `workingDir`:
 * the build's `absWorkingDir`, which the metafile's paths are relative to.
 */
export function loadedBytes(
  metafile: { outputs: Record<string, { bytes: number; imports: { path: string; kind: string }[] }> },
  outdir: string,
  workingDir = ROOT,
): number {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => resolve(workingDir, path) === join(outdir, 'index.mjs'))!;
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !outputs[path]) return;
    seen.add(path);
    for (const i of outputs[path].imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entry);
  return [...seen].reduce((sum, path) => sum + outputs[path]!.bytes, 0);
}

/** The runtime each modelled environment runs (runtime.ts), on plain node; returns its path. */
export async function buildRuntime(outDir = join(ROOT, '.local/aws')): Promise<string> {
  const outfile = join(outDir, 'runtime.mjs');
  await build({
    entryPoints: [join(ROOT, 'local/aws/runtime.ts')],
    bundle: true,
    outfile,
    format: 'esm',
    platform: 'node',
    target: functionBundle().target,
    logLevel: 'warning',
  });
  return outfile;
}
