// Builds what the modelled Lambda runs, under the git-ignored `.local/aws/`: the function bundle,
// with the esbuild settings the construct deploys (infra/function-bundle.ts), and the runtime
// that drives it in each execution environment. A server definition (`functions/x/server.ts`)
// gets the three-line entry a handler.ts would have.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { functionBundle } from '../../infra/function-bundle.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface BuiltFunction {
  /** `index.mjs`, as Lambda loads it. */
  bundle: string;
  runtime: string;
  bytes: number;
}

/** True when the file exports a Lambda `handler` rather than a server definition. */
async function isHandlerEntry(entry: string): Promise<boolean> {
  return /export\s+(const|async function|function)\s+handler\b/.test(await readFile(entry, 'utf8'));
}

export async function buildFunction(entry: string, outDir = join(ROOT, '.local/aws')): Promise<BuiltFunction> {
  const file = resolve(entry);
  const name = `${basename(dirname(file))}-${basename(file, '.ts')}`;
  const bundle = join(outDir, name, 'index.mjs');
  const options = functionBundle();
  const lambdaAdapter = relative(dirname(file), join(ROOT, 'functions/lambda.ts')).replace(/\\/g, '/');
  const source = (await isHandlerEntry(file))
    ? { entryPoints: [file] }
    : {
        stdin: {
          contents: `import definition from './${basename(file)}';\nimport { lambdaHandler } from '${lambdaAdapter.startsWith('.') ? lambdaAdapter : `./${lambdaAdapter}`}';\nexport const handler = lambdaHandler(definition);\n`,
          resolveDir: dirname(file),
          sourcefile: 'handler.ts',
          loader: 'ts' as const,
        },
      };
  const [fn, runtime] = await Promise.all([
    build({
      ...source,
      bundle: true,
      outfile: bundle,
      format: options.format,
      platform: options.platform,
      target: options.target,
      mainFields: options.mainFields,
      minify: options.minify,
      sourcemap: options.sourcemap,
      sourcesContent: options.sourcesContent,
      external: options.external,
      banner: { js: options.banner },
      logLevel: 'warning',
      absWorkingDir: ROOT,
      metafile: true,
    }),
    buildRuntime(outDir),
  ]);
  const output = Object.entries(fn.metafile.outputs).find(([path]) => path.endsWith('index.mjs'))!;
  return { bundle, runtime, bytes: output[1].bytes };
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
