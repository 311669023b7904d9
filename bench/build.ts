// Builds what the benchmark runs, under the git-ignored `.local/bench/`: the Lambda bundles
// compared (every one with the same esbuild options, as a Lambda deployment would build them) and
// the probe scripts that load them in child processes. Nothing here measures anything.
import { build, type BuildOptions } from 'esbuild';
import { stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { functionBundle } from '../infra/function-bundle.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, '.local/bench');

/** A Lambda entry under comparison. Adding one here builds it; suites pick targets by name. */
export const LAMBDA_TARGETS = {
  kit: { label: 'kit (functions/echo)', entry: 'functions/echo/handler.ts' },
  sdk: { label: 'SDK minimal handler', entry: 'bench/baselines/sdk-minimal.ts' },
  hono: { label: 'raw Hono', entry: 'bench/baselines/raw-hono.ts' },
  work: { label: 'kit (bench/servers/work)', entry: 'bench/servers/work/handler.ts' },
} as const;

export type TargetName = keyof typeof LAMBDA_TARGETS;

export interface Bundle {
  name: TargetName;
  label: string;
  file: string;
  bytes: number;
  /** External packages the bundle imports statically, so they load before its first request. */
  initExternals: string[];
}

export interface Built {
  bundles: Record<TargetName, Bundle>;
  probes: { warm: string; cold: string };
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

export async function buildAll(): Promise<Built> {
  const names = Object.keys(LAMBDA_TARGETS) as TargetName[];
  const lambdaDir = join(OUT_DIR, 'lambda');
  const probeDir = join(OUT_DIR, 'probes');
  const [lambda] = await Promise.all([
    build({
      ...common,
      metafile: true,
      entryPoints: Object.fromEntries(names.map((n) => [n, LAMBDA_TARGETS[n].entry])),
      outdir: lambdaDir,
      minify: true,
      // The Node.js Lambda runtime provides AWS SDK v3; deployments leave it out of the bundle.
      external: ['@aws-sdk/*'],
    }),
    // Probes are harness, not product: unminified, and bundled only so children start on plain
    // `node` without a TypeScript loader hooking every import the measured bundle makes.
    build({ ...common, entryPoints: { warm: 'bench/probes/warm.ts', cold: 'bench/probes/cold.ts' }, outdir: probeDir }),
  ]);
  const bundles = {} as Record<TargetName, Bundle>;
  for (const name of names) {
    const file = join(lambdaDir, `${name}.mjs`);
    const imports = lambda.metafile.outputs[relative(ROOT, file)]?.imports ?? [];
    const initExternals = imports.filter((i) => i.external && i.kind === 'import-statement' && !isBuiltin(i.path)).map((i) => i.path);
    bundles[name] = { name, label: LAMBDA_TARGETS[name].label, file, bytes: (await stat(file)).size, initExternals: [...new Set(initExternals)] };
  }
  return { bundles, probes: { warm: join(probeDir, 'warm.mjs'), cold: join(probeDir, 'cold.mjs') } };
}
