// How a server's Lambda code is bundled, in one place: the construct (infra/endpoint/function.ts),
// `npm run start:aws` and the benchmark all build with these esbuild options, so the modelled
// Lambda and the benchmark load exactly what `cdk deploy` ships. No CDK or esbuild here.
//
// The bundle is split: `index.mjs` holds what a cold start runs, and code reached only through a
// dynamic import (the MCP SDK, which the direct lane does not need; the Redis client when Redis
// is not configured) sits in `chunks/`, parsed only by the environment that first needs it.
//
// `zod` and `zod/v4` resolve to infra/zod-lean/ (zod without its locales, 264 KB of the 454 KB a
// `z` used as a value pulls in) unless MCP_ZOD_LOCALES=keep; a server that reaches the locales
// through them fails the build with a message naming its file (`checkZodLocales`). In the same
// lean build, a project file's `import { z } from 'zod'` is read as `import * as z from 'zod'`
// (`zodNamespaceImports`), which lets esbuild keep only the parts of zod the code uses.
// shared/config/variables.ts is bundled without the README's text of each setting
// (`runtimeVariables`). infra/bundle.ts runs the build.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VARIABLES } from '../shared/config/variables.ts';

/** Node.js major version of the Lambda runtime (`nodejs24.x`) and of the bundle's target. */
export const LAMBDA_NODE_MAJOR = 24;

// esbuild's ESM output has no `require`; CommonJS dependencies bundled into it call one.
const CREATE_REQUIRE_BANNER = "import { createRequire as __mcpKitCreateRequire } from 'node:module'; const require = __mcpKitCreateRequire(import.meta.url);";

export interface FunctionBundleOptions {
  /** Leave the AWS SDK out and use the runtime's copy (the construct's `bundleAwsSdk: false`). @default false */
  excludeAwsSdk?: boolean;
  /**
   * `keep` bundles zod's locales (`z.locales`, `z.config(z.locales.fr())`); `lean` resolves `zod`
   * and `zod/v4` to the kit's locale-free entry. @default `keep` when MCP_ZOD_LOCALES=keep, else `lean`
   */
  zodLocales?: 'lean' | 'keep';
}

/** The tsconfig whose `paths` send `zod` and `zod/v4` to the lean entry; esbuild applies it to every file. */
const ZOD_LEAN_TSCONFIG = fileURLToPath(new URL('./zod-lean/tsconfig.json', import.meta.url));
const zodLocalesDefault = (): 'lean' | 'keep' => (process.env.MCP_ZOD_LOCALES === 'keep' ? 'keep' : 'lean');

/** The esbuild settings of a deployed function: ESM, split, minified, with source maps. */
export function functionBundle({ excludeAwsSdk = false }: FunctionBundleOptions = {}) {
  return {
    format: 'esm' as const,
    platform: 'node' as const,
    target: `node${LAMBDA_NODE_MAJOR}`,
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: excludeAwsSdk ? ['@aws-sdk/*'] : [],
    banner: CREATE_REQUIRE_BANNER,
  };
}

/**
 * The esbuild build of one entry file into `outdir`: `index.mjs` (Lambda handler `index.handler`)
 * and its chunks. Hand it to esbuild's `build` or `buildSync`.
 */
export function bundleBuild(entry: string, outdir: string, options: FunctionBundleOptions = {}) {
  const { banner, ...settings } = functionBundle(options);
  const lean = (options.zodLocales ?? zodLocalesDefault()) === 'lean';
  return {
    ...settings,
    ...(lean && { tsconfig: ZOD_LEAN_TSCONFIG }),
    plugins: lean ? [runtimeVariables(), zodNamespaceImports()] : [runtimeVariables()],
    entryPoints: { index: entry },
    bundle: true,
    splitting: true,
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    banner: { js: banner },
    logLevel: 'warning' as const,
    metafile: true,
  };
}

/** `import { z, ZodError as E } from 'zod'`: a named import from `zod` or `zod/v4`, on one or more lines. */
const NAMED_ZOD_IMPORT = /import\s*\{([^}]*)\}\s*from\s*(['"])(zod|zod\/v4)\2\s*;?/g;

/**
 * A file's `import { z } from 'zod'` (or `zod/v4`) as `import * as z from 'zod'`, other names
 * kept in a named import, on as many lines as before so source maps still point right. The same
 * bindings (`z` is zod's namespace either way), but a namespace import whose members are only read
 * is one esbuild tree-shakes: the echo server loads 105 KB of zod instead of 187 KB.
 */
export function rewriteZodImports(source: string): string {
  return source.replace(NAMED_ZOD_IMPORT, (whole, names: string, quote: string, from: string) => {
    const specifiers = names
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    const namespace = specifiers.find((n) => /^z(\s+as\s+\w+)?$/.test(n));
    if (!namespace) return whole;
    const local = namespace.split(/\s+as\s+/)[1] ?? 'z';
    const rest = specifiers.filter((n) => n !== namespace);
    const lines = '\n'.repeat(whole.split('\n').length - 1);
    const named = rest.length ? ` import { ${rest.join(', ')} } from ${quote}${from}${quote};` : '';
    return `import * as ${local} from ${quote}${from}${quote};${named}${lines}`;
  });
}

/** The esbuild plugin applying `rewriteZodImports` to the project's own files (not packages). */
export function zodNamespaceImports() {
  return {
    name: 'zod-namespace-imports',
    setup(build: { onLoad(options: { filter: RegExp }, callback: (args: { path: string }) => { contents: string; loader: 'ts' | 'js' } | undefined): void }) {
      build.onLoad({ filter: /\.[cm]?[jt]s$/ }, ({ path }) => {
        if (path.includes('/node_modules/') || path.includes('\\node_modules\\')) return undefined;
        const source = readFileSync(path, 'utf8');
        if (!source.includes('zod')) return undefined;
        return { contents: rewriteZodImports(source), loader: /\.[cm]?ts$/.test(path) ? 'ts' : 'js' };
      });
    },
  };
}

/** What a variable says only for the README (`npm run docs:config`): no code reads these at run time. */
const DOC_FIELDS: readonly string[] = ['doc', 'shownDefault'];

/** shared/config/variables.ts's VARIABLES without DOC_FIELDS, as the source of a module. */
export function runtimeVariablesSource(): string {
  const table = Object.fromEntries(
    Object.entries(VARIABLES).map(([name, variable]) => [name, Object.fromEntries(Object.entries(variable).filter(([field]) => !DOC_FIELDS.includes(field)))]),
  );
  return `// shared/config/variables.ts without its documentation (infra/function-bundle.ts)\nexport const VARIABLES = ${JSON.stringify(table)};\n`;
}

/**
 * The esbuild plugin that bundles shared/config/variables.ts as `runtimeVariablesSource` gives it:
 * 14 KB of README text a cold start would otherwise parse for nothing. A function that imports
 * anything else from that file (the README table's renderer) fails the build, naming the export.
 */
export function runtimeVariables() {
  return {
    name: 'runtime-variables',
    setup(build: { onLoad(options: { filter: RegExp }, callback: () => { contents: string; loader: 'js' }): void }) {
      build.onLoad({ filter: /[\\/]shared[\\/]config[\\/]variables\.ts$/ }, () => ({ contents: runtimeVariablesSource(), loader: 'js' }));
    },
  };
}

interface Metafile {
  inputs: Record<string, { imports: { path: string; original?: string }[] }>;
}

/** Uses of zod's locales through `zod` / `zod/v4`: `z.locales`, `{ locales } = z`, `import { locales } from 'zod'`. */
const LOCALE_USE = /\.locales\b|\{[^}]*\blocales\b[^}]*\}\s*(?:=\s*z\b|from\s*['"]zod(?:\/v4)?['"])/;

/** The error a server using locales gets from a lean build: what it uses, and the opt-out. */
export function zodLocalesError(file: string): Error {
  return new Error(
    `${file} uses zod's locales (z.locales or \`import { locales } from 'zod'\`), which the function bundle leaves out ` +
      `(it resolves 'zod' to infra/zod-lean/). Import a locale by path (\`import { fr } from 'zod/v4/locales'\`), ` +
      `or set MCP_ZOD_LOCALES=keep to bundle them all (docs/deploy.md).`,
  );
}

/**
 * After a lean build: throws `zodLocalesError` for the first project file (not a package) that
 * imports `zod` or `zod/v4` and reaches the locales through it. `workingDir`: the build's absWorkingDir.
 */
export function checkZodLocales(metafile: Metafile, workingDir: string): void {
  for (const [path, input] of Object.entries(metafile.inputs)) {
    if (path.includes('node_modules/') || path.startsWith('infra/zod-lean/')) continue;
    if (!input.imports.some((i) => i.original === 'zod' || i.original === 'zod/v4')) continue;
    const file = resolve(workingDir, path);
    if (LOCALE_USE.test(readFileSync(file, 'utf8'))) throw zodLocalesError(relative(workingDir, file));
  }
}

/**
 * An esbuild failure from a lean build, rethrown as `zodLocalesError` when it is a file importing
 * `locales` from the lean entry (esbuild stops before `checkZodLocales` could run); else as it was.
 */
export function explainBuildFailure(err: unknown): unknown {
  const errors = (err as { errors?: { text: string; location?: { file: string } | null }[] }).errors ?? [];
  const locales = errors.find((e) => e.text.includes('import "locales"') && e.text.includes('zod-lean'));
  return locales?.location ? zodLocalesError(locales.location.file) : err;
}

/**
 * The entry file of a container's bundle: the server definition served by the container adapter
 * (shared/adapters/container.ts) with the Node HTTP server, built with `bundleBuild` like the
 * function so the container runs the same code and settings. `serverFile` and `adapterFile` are
 * absolute paths.
 */
export function containerEntrySource(serverFile: string, adapterFile: string): string {
  const from = (path: string) => JSON.stringify(path.replaceAll('\\', '/'));
  return `import definition from ${from(serverFile)};\nimport { runContainer } from ${from(adapterFile)};\nawait runContainer(definition);\n`;
}
