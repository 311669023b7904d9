// Runs the function bundle's build (infra/function-bundle.ts) with its checks: esbuild, then the
// lean-zod check, a build failure over the locales worded for the user. `bundleFunctionSync` is
// for the construct, whose asset bundling must be synchronous while esbuild runs plugins only
// asynchronously: it runs this file as a child process. Usage there: `node --import tsx infra/bundle.ts <json>`.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { bundleBuild, checkZodLocales, explainBuildFailure, type FunctionBundleOptions } from './function-bundle.ts';

interface BundleRequest {
  entry: string;
  outdir: string;
  options: FunctionBundleOptions;
  /** The build's absWorkingDir: where relative entries and the metafile's paths start. */
  workingDir: string;
  /** esbuild's `sourcemap` instead of the deployed setting (the benchmark builds without). */
  sourcemap?: boolean;
}

/** Builds one function into `outdir`; resolves with the metafile, or rejects with what to fix. */
export async function bundleFunction({ entry, outdir, options, workingDir, sourcemap }: BundleRequest): Promise<Metafile> {
  const settings = bundleBuild(entry, outdir, options);
  const result = await build({ ...settings, ...(sourcemap === undefined ? {} : { sourcemap }), absWorkingDir: workingDir }).catch((err) =>
    Promise.reject(explainBuildFailure(err)),
  );
  const metafile = result.metafile!;
  if (settings.tsconfig) checkZodLocales(metafile, workingDir);
  return metafile;
}

const SELF = fileURLToPath(import.meta.url);

/** `bundleFunction`, synchronously, in a child `node` with the tsx loader; throws its error's message. */
export function bundleFunctionSync(request: BundleRequest): void {
  // esbuild's warnings reach the user on stderr; the child's error, if any, comes back on stdout.
  const child = spawnSync(process.execPath, ['--import', 'tsx', SELF, JSON.stringify(request)], {
    cwd: request.workingDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(child.stdout.trim() || `bundling ${request.entry} failed (${child.signal ?? child.status})`);
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  try {
    await bundleFunction(JSON.parse(process.argv[2]!) as BundleRequest);
  } catch (err) {
    process.stdout.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
