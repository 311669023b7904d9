// How a server's Lambda code is bundled, in one place: the construct (infra/endpoint/function.ts),
// `npm run start:aws` and the benchmark all build with these esbuild options, so the modelled
// Lambda and the benchmark load exactly what `cdk deploy` ships. Plain data; no CDK or esbuild.
//
// The bundle is split: `index.mjs` holds what a cold start runs, and code reached only through a
// dynamic import (the MCP SDK, which the direct lane does not need; the Redis client when Redis
// is not configured) sits in `chunks/`, parsed only by the environment that first needs it.

/** Node.js major version of the Lambda runtime (`nodejs24.x`) and of the bundle's target. */
export const LAMBDA_NODE_MAJOR = 24;

// esbuild's ESM output has no `require`; CommonJS dependencies bundled into it call one.
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __mcpKitCreateRequire } from 'node:module'; const require = __mcpKitCreateRequire(import.meta.url);";

export interface FunctionBundleOptions {
  /** Leave the AWS SDK out and use the runtime's copy (the construct's `bundleAwsSdk: false`). @default false */
  excludeAwsSdk?: boolean;
}

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
  return {
    ...settings,
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
