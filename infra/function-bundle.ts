// How a server's Lambda code is bundled, in one place: the construct hands these options to
// NodejsFunction (which runs esbuild), and `npm run start:aws` runs esbuild with the same ones,
// so the modelled Lambda loads exactly what `cdk deploy` would ship. Plain data; no CDK imports.

/** Node.js major version of the Lambda runtime (`nodejs24.x`) and of the bundle's target. */
export const LAMBDA_NODE_MAJOR = 24;

// esbuild's ESM output has no `require`; CommonJS dependencies bundled into it call one.
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __mcpKitCreateRequire } from 'node:module'; const require = __mcpKitCreateRequire(import.meta.url);";

export interface FunctionBundleOptions {
  /** Leave the AWS SDK out: the runtime ships v3. @default true */
  excludeAwsSdk?: boolean;
}

/** The esbuild settings of a deployed function (`index.mjs`, ESM, minified, with a source map). */
export function functionBundle({ excludeAwsSdk = true }: FunctionBundleOptions = {}) {
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
