// Builds what the benchmark runs, under the git-ignored `.local/bench/`: the Lambda bundles
// compared (every one with the same esbuild options, as a Lambda deployment would build them) and
// the probe scripts that load them in child processes. Nothing here measures anything.
import { build, type BuildOptions } from 'esbuild';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { bundleFunction } from '../infra/bundle.ts';
import { functionBundle } from '../infra/function-bundle.ts';
import { loadedBytes } from '../local/aws/build.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, '.local/bench');

/**
 * A Lambda entry under comparison. Adding one here builds it; suites pick targets by name. The kit's
 * bundles get its lean zod (infra/zod-lean/); the baselines are built as a project without the kit
 * would build them (`zodLocales: 'keep'`), so each imports zod as its source says.
 */
export const LAMBDA_TARGETS: Record<TargetName, { label: string; entry: string; zodLocales?: 'keep'; sourceMaps?: true }> = {
  kit: { label: 'kit (functions/echo)', entry: 'functions/echo/handler.ts' },
  // As deployed: with its source maps, run with NODE_OPTIONS=--enable-source-maps (infra/endpoint/settings.ts).
  kitMaps: { label: 'kit (functions/echo), source maps on', entry: 'functions/echo/handler.ts', sourceMaps: true },
  sdk: { label: 'SDK minimal handler (zod/v4)', entry: 'bench/baselines/sdk-minimal.ts', zodLocales: 'keep' },
  sdkRoot: { label: 'SDK minimal handler (root zod)', entry: 'bench/baselines/sdk-minimal-root-zod.ts', zodLocales: 'keep' },
  hono: { label: 'raw Hono', entry: 'bench/baselines/raw-hono.ts', zodLocales: 'keep' },
  work: { label: 'kit (bench/servers/work)', entry: 'bench/servers/work/handler.ts' },
};

export type TargetName = 'kit' | 'kitMaps' | 'sdk' | 'sdkRoot' | 'hono' | 'work';

export interface Bundle {
  name: TargetName;
  label: string;
  /** `index.mjs`, its chunks beside it. */
  file: string;
  /** What a cold start loads: `index.mjs` and the chunks it imports statically. */
  bytes: number;
  /** Every file of the bundle, chunks loaded on demand included: what the deployment package holds. */
  totalBytes: number;
  /** External packages the bundle imports statically, so they load before its first request. */
  initExternals: string[];
  /** NODE_OPTIONS the bundle runs with (`--enable-source-maps` for a bundle built with its maps). */
  nodeOptions?: string;
}

export interface Built {
  bundles: Record<TargetName, Bundle>;
  probes: { warm: string; cold: string; httpServer: string; load: string };
}

// ESM bundles need a real `require` for the CommonJS dependencies they inline (the AWS CDK's
// NodejsFunction adds the same banner for ESM output).
const ESM_REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: functionBundle().target,
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
  absWorkingDir: ROOT,
};

/**
 * One Lambda target, built as the construct builds it (infra/function-bundle.ts: split, minified),
 * on its own so no chunk is shared between targets.
 */
async function buildTarget(name: TargetName, lambdaDir: string): Promise<Bundle> {
  const outdir = join(lambdaDir, name);
  const { entry, zodLocales, sourceMaps } = LAMBDA_TARGETS[name];
  const metafile = await bundleFunction({ entry, outdir, options: zodLocales ? { zodLocales } : {}, workingDir: ROOT, sourcemap: sourceMaps ?? false });
  const file = join(outdir, 'index.mjs');
  const imports = metafile.outputs[relative(ROOT, file)]?.imports ?? [];
  const initExternals = imports.filter((i) => i.external && i.kind === 'import-statement' && !isBuiltin(i.path)).map((i) => i.path);
  const totalBytes = Object.entries(metafile.outputs).reduce((sum, [path, o]) => sum + (path.endsWith('.map') ? 0 : o.bytes), 0);
  const bundle = {
    name,
    label: LAMBDA_TARGETS[name].label,
    file,
    bytes: loadedBytes(metafile, outdir),
    totalBytes,
    initExternals: [...new Set(initExternals)],
  };
  return sourceMaps ? { ...bundle, nodeOptions: '--enable-source-maps' } : bundle;
}

export async function buildAll(): Promise<Built> {
  const names = Object.keys(LAMBDA_TARGETS) as TargetName[];
  const lambdaDir = join(OUT_DIR, 'lambda');
  const probeDir = join(OUT_DIR, 'probes');
  const [targets] = await Promise.all([
    Promise.all(names.map((name) => buildTarget(name, lambdaDir))),
    // Probes are harness, not product: unminified, and bundled only so children start on plain
    // `node` without a TypeScript loader hooking every import the measured bundle makes.
    build({
      ...common,
      entryPoints: { warm: 'bench/probes/warm.ts', cold: 'bench/probes/cold.ts', 'http-server': 'bench/probes/http-server.ts', load: 'bench/probes/load.ts' },
      outdir: probeDir,
      external: ['@aws-sdk/*'],
    }),
  ]);
  return {
    bundles: Object.fromEntries(targets.map((t) => [t.name, t])) as Record<TargetName, Bundle>,
    probes: {
      warm: join(probeDir, 'warm.mjs'),
      cold: join(probeDir, 'cold.mjs'),
      httpServer: join(probeDir, 'http-server.mjs'),
      load: join(probeDir, 'load.mjs'),
    },
  };
}
