// What the container runs, without an image of our own: a public Node.js image (arm64), the
// bootstrap (infra/containers/bootstrap.mjs) as its command, and the server's bundle as one file
// asset in the CDK asset bucket. The bundle is the function's esbuild build (infra/bundle.ts) of the
// container entry (containerEntrySource), packed as gzipped JSON so the bootstrap needs no unzip.
// Built on this machine at synth like the function's code; skipped when CDK skips bundling.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { AssetHashType, BundlingOutput, DockerImage } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { bundleFunctionSync } from '../bundle.ts';
import { containerEntrySource, LAMBDA_NODE_MAJOR } from '../function-bundle.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bootstrap's source, passed whole as the container's command. */
export const BOOTSTRAP_FILE = fileURLToPath(new URL('../containers/bootstrap.mjs', import.meta.url));
/** Docker Hub's official Node.js image through ECR Public (no Docker Hub pull limits), multi-arch. */
export const NODE_IMAGE = `public.ecr.aws/docker/library/node:${LAMBDA_NODE_MAJOR}-slim`;
/** The container adapter (shared/adapters/container.ts) serving a definition with Node's HTTP server. */
export const CONTAINER_ADAPTER = join(PROJECT_ROOT, 'shared/adapters/container.ts');
const PACK_FILE = 'bundle.json.gz';

/** Every file of an esbuild output folder as `{ entry, files }`, gzipped: what the bootstrap unpacks. */
export function packBundle(dir: string): Buffer {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    if (name.endsWith('.mjs') || name.endsWith('.map')) files[relative(dir, path).replaceAll('\\', '/')] = readFileSync(path, 'utf8');
  }
  return gzipSync(JSON.stringify({ entry: 'index.mjs', files }));
}

/** Bundles `serverFile` served by `adapterFile` and writes the pack to `outFile`. */
export function buildContainerPack(serverFile: string, adapterFile: string, outFile: string, options: { excludeAwsSdk?: boolean } = {}): void {
  const work = mkdtempSync(join(tmpdir(), 'mcp-container-'));
  try {
    const entry = join(work, 'entry.mjs');
    writeFileSync(entry, containerEntrySource(serverFile, adapterFile));
    const out = join(work, 'out');
    // As the function is built (lean zod and its check run as esbuild plugins, so in a child process).
    bundleFunctionSync({ entry, outdir: out, options, workingDir: PROJECT_ROOT });
    writeFileSync(outFile, packBundle(out));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The pack as a file asset, hashed by its content: an unchanged bundle uploads nothing. */
export function containerBundleAsset(scope: Construct, serverFile: string): s3assets.Asset {
  return new s3assets.Asset(scope, 'ContainerBundle', {
    path: dirname(serverFile),
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('unused-local-bundling'),
      outputType: BundlingOutput.SINGLE_FILE,
      local: {
        tryBundle(outputDir) {
          if (!existsSync(CONTAINER_ADAPTER)) throw new Error(`The container adapter ${CONTAINER_ADAPTER} is missing; the containers serve the app with it.`);
          buildContainerPack(serverFile, CONTAINER_ADAPTER, join(outputDir, PACK_FILE));
          return true;
        },
      },
    },
  });
}

/**
 * The image and command: Node.js imports the bootstrap from a data: URL (base64, so the template
 * holds no `${…}` CloudFormation would read as a substitution); the bundle comes at start.
 */
export function bootstrapContainer(image = NODE_IMAGE): { image: ecs.ContainerImage; command: string[] } {
  return { image: ecs.ContainerImage.fromRegistry(image), command: ['node', '--input-type=module', '-e', bootstrapImport()] };
}

/** `await import('data:text/javascript;base64,…')` of the bootstrap: the container's script. */
export function bootstrapImport(): string {
  return `await import('data:text/javascript;base64,${readFileSync(BOOTSTRAP_FILE).toString('base64')}');`;
}
