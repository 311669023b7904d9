// `cdk synth` as a user runs it on a fresh clone: the real CLI, no AWS credentials or region, no
// Docker, nothing but loopback. Checks the cloud assembly SAM reads (templates with asset
// metadata) and the bundles themselves: ESM, minified, source-mapped, AWS SDK left to the
// runtime, and answering requests in the modelled Lambda (local/aws) with their template's environment, which
// has auth on: only callers with an API key from the table get in. Then, with a region as a user's profile gives
// it, the Lambda@Edge function authenticating servers get, in a us-east-1 stack of its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { startBareFunction } from '../../local/aws/bare-function.ts';
import { buildRuntime } from '../../local/aws/build.ts';
import { startTestDynamo } from '../helpers/server.ts';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/origin-verify.ts';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { McpServerEndpoint } from '../../infra/mcp-server-endpoint.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'node_modules', '.bin');
const SERVER_STACKS = ['McpKit-dev-Notes', 'McpKit-dev-Echo'];
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-synth-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const BANNER = "import { createRequire as __mcpKitCreateRequire } from 'node:module'; const require = __mcpKitCreateRequire(import.meta.url);";

/** A bundle's code: `index.mjs` and the chunks it loads at start or on demand. */
function allCode(dir: string): string {
  const chunks = existsSync(join(dir, 'chunks'))
    ? readdirSync(join(dir, 'chunks'))
        .filter((f) => f.endsWith('.mjs'))
        .map((f) => join(dir, 'chunks', f))
    : [];
  return [join(dir, 'index.mjs'), ...chunks].map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** `cdk synth` of the whole app into `out`, offline; `env` adds to the scrubbed environment. */
function cdkSynth(out: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(join(BIN, 'cdk'), ['synth', '--quiet', '--no-notices', '--output', out, ...args], {
    cwd: REPO,
    env: { ...scrubbedEnv(mkdtempSync(join(TMP, 'home-'))), ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });
}

/** Only what a shell needs: no AWS_* variables, a HOME without ~/.aws, no CDK version check. */
function scrubbedEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    LANG: 'C.UTF-8',
    // Keep the CLI from asking the instance-metadata endpoint for a region.
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_VERSION_CHECK: '1',
  };
}

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> }>;
}

/** The origin secret's value here, and the header CloudFront would add with it. */
const ORIGIN_SECRET = 'synth-test-origin-secret-0123456789';
const FROM_CLOUDFRONT = { [ORIGIN_VERIFY_HEADER]: ORIGIN_SECRET };

describe('cdk synth with the CLI, offline and without credentials', () => {
  const out = mkdtempSync(join(TMP, 'cdk.out-'));
  let result: ReturnType<typeof spawnSync>;
  const templates: Record<string, Template> = {};

  before(() => {
    result = cdkSynth(out);
    for (const stack of ['McpKit-dev-DataPlane', ...SERVER_STACKS]) {
      const file = join(out, `${stack}.template.json`);
      if (existsSync(file)) templates[stack] = JSON.parse(readFileSync(file, 'utf8'));
    }
  });

  it('succeeds, with the AwsSolutions checks passing', () => {
    assert.equal(result.status, 0, `cdk synth failed:\n${result.stdout}\n${result.stderr}`);
    assert.doesNotMatch(String(result.stderr), /AwsSolutions-/);
  });

  it('writes one template per stack, with names SAM can be pointed at', () => {
    assert.deepEqual(Object.keys(templates).sort(), ['McpKit-dev-DataPlane', ...SERVER_STACKS].sort());
  });

  for (const stack of SERVER_STACKS) {
    describe(stack, () => {
      const bundle = () => {
        const fn = Object.values(templates[stack]!.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler');
        assert.ok(fn, 'no server function');
        return { fn, dir: join(out, fn.Metadata!['aws:asset:path']) };
      };

      it('keeps asset metadata pointing at the bundled code', () => {
        const { fn, dir } = bundle();
        assert.equal(fn.Metadata!['aws:asset:property'], 'Code');
        assert.equal(fn.Metadata!['aws:asset:is-bundled'], true);
        assert.ok(existsSync(join(dir, 'index.mjs')), `${dir}/index.mjs missing`);
      });

      it('bundles ESM with the createRequire banner, minified, with a source map', () => {
        const { dir } = bundle();
        const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
        assert.ok(code.startsWith(BANNER), 'banner missing');
        // Minified output has long lines; only multi-line template literals break them.
        assert.ok(code.length / code.split('\n').length > 200, 'not minified');
        const map = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[]; sourcesContent?: unknown };
        assert.ok(
          map.sources.some((s) => s.includes('functions/')),
          'source map does not reach the sources',
        );
        assert.equal(map.sourcesContent, undefined, 'source contents shipped in the bundle');
      });

      it('bundles the AWS SDK the kit was tested with (bundleAwsSdk defaults to true)', () => {
        const code = allCode(bundle().dir);
        assert.doesNotMatch(code, /(from|import\()\s*"@aws-sdk\//);
        assert.match(code, /DynamoDBClient/);
      });

      it('answers MCP requests through the modelled Lambda and API Gateway, with the environment its template sets: API keys only', async () => {
        const { fn, dir } = bundle();
        const dynamo = await startTestDynamo();
        // What the template says, with the references CloudFormation would resolve filled in locally;
        // the request-state key and origin secret the secrets would hold are given directly, and
        // requests carry the origin header CloudFront would add.
        const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
        const environment: Record<string, string> = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
        for (const [name, value] of Object.entries(variables)) if (typeof value === 'string') environment[name] = value;
        Object.assign(environment, {
          MCP_TABLE_NAME: 'mcp-kit',
          MCP_BUCKET_NAME: 'mcp-kit-artifacts',
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
          MCP_REQUEST_STATE_KEY: 'synth-test-request-state-key-0123456789',
          MCP_ORIGIN_SECRET: ORIGIN_SECRET,
          LOG_LEVEL: 'WARN',
        });
        assert.equal(environment.MCP_AUTH_MODE, 'apikey', "the repository's defaults deploy an authenticated endpoint");
        const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), {
          cacheSeconds: 0,
        });
        const { key } = await keys.create({ principalId: 'me' });
        const served = await startBareFunction({
          bundle: join(dir, 'index.mjs'),
          runtime: await buildRuntime(join(TMP, 'runtime')),
          environment,
          functionName: stack,
          memoryMb: fn.Properties.MemorySize,
          timeoutSeconds: fn.Properties.Timeout,
          // Room for an environment still finishing its last invocation (busy until its handler returns): 2 were throttled (500) on a loaded machine.
          concurrency: 4,
          integrationTimeoutMs: 900_000,
        });
        try {
          assert.equal((await fetch(`${served.url}/health`)).status, 403, 'the template has the function refuse requests that did not come through CloudFront');
          const health = await fetch(`${served.url}/health`, { headers: FROM_CLOUDFRONT });
          assert.equal(health.status, 200);
          assert.equal(((await health.json()) as { status: string }).status, 'ok');
          const meta = {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'synth', version: '1' },
          };
          const echo = (credentials: Record<string, string>) =>
            fetch(`${served.url}/mcp`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                'mcp-protocol-version': '2026-07-28',
                'mcp-method': 'tools/call',
                'mcp-name': 'echo',
                ...FROM_CLOUDFRONT,
                ...credentials,
              },
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: 1,
                method: 'tools/call',
                params: { name: 'echo', arguments: { text: 'from the cdk.out bundle' }, _meta: meta },
              }),
            });
          assert.equal((await echo({})).status, 401);
          const call = await echo({ authorization: `Bearer ${key}` });
          assert.equal(call.status, 200);
          assert.equal(((await call.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text, 'from the cdk.out bundle');
        } finally {
          await served.stop();
          await dynamo.stop();
        }
      });
    });
  }
});

describe('cdk synth of authenticating servers, with the region a profile gives (AWS_REGION)', () => {
  const out = mkdtempSync(join(TMP, 'cdk.out-'));
  let result: ReturnType<typeof spawnSync>;
  let manifest: { artifacts: Record<string, { type: string; environment?: string }> };
  before(() => {
    result = cdkSynth(out, ['-c', 'auth=apikey'], { AWS_REGION: 'eu-west-1' });
    if (result.status === 0) manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  });

  it('succeeds, with the AwsSolutions checks passing', () => {
    assert.equal(result.status, 0, `cdk synth failed:\n${result.stdout}\n${result.stderr}`);
    assert.doesNotMatch(String(result.stderr), /AwsSolutions-/);
  });

  it("keeps the servers in the profile's region and puts each one's Lambda@Edge function in a us-east-1 stack", () => {
    const environments = Object.fromEntries(
      Object.entries(manifest.artifacts)
        .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
        .map(([id, artifact]) => [id, artifact.environment]),
    );
    assert.deepEqual(environments, {
      'McpKit-dev-DataPlane': 'aws://unknown-account/eu-west-1',
      'McpKit-dev-Notes': 'aws://unknown-account/eu-west-1',
      'McpKit-dev-Notes-Edge': 'aws://unknown-account/us-east-1',
      'McpKit-dev-Echo': 'aws://unknown-account/eu-west-1',
      'McpKit-dev-Echo-Edge': 'aws://unknown-account/us-east-1',
      'McpKit-dev-Gateway': 'aws://unknown-account/eu-west-1',
      'McpKit-dev-Gateway-Edge': 'aws://unknown-account/us-east-1',
    });
  });

  it('ships the origin-response handler alone, on x86_64, as Lambda@Edge requires', () => {
    const template = JSON.parse(readFileSync(join(out, 'McpKit-dev-Notes-Edge.template.json'), 'utf8')) as Template;
    const [fn] = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.ok(fn);
    assert.equal(fn.Properties.Handler, 'restore-www-authenticate.handler');
    assert.deepEqual(fn.Properties.Architectures, ['x86_64']);
    assert.deepEqual(readdirSync(join(out, fn.Metadata!['aws:asset:path'])), ['restore-www-authenticate.mjs']);
  });
});

describe('cdk synth -c containers=true, offline', () => {
  const out = mkdtempSync(join(TMP, 'cdk.out-'));
  let result: ReturnType<typeof spawnSync>;
  before(() => {
    result = cdkSynth(out, ['-c', 'containers=true']);
  });

  it('succeeds, with the AwsSolutions checks passing', () => {
    assert.equal(result.status, 0, `cdk synth failed:\n${result.stdout}\n${result.stderr}`);
    assert.doesNotMatch(String(result.stderr), /AwsSolutions-/);
  });

  for (const stack of SERVER_STACKS) {
    it(`${stack}: a Fargate service, a second origin and the stream route, and the container's bundle packed for the bootstrap`, () => {
      const template = JSON.parse(readFileSync(join(out, `${stack}.template.json`), 'utf8')) as Template;
      const of = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
      assert.equal(of('AWS::ECS::Service').length, 1);
      const [distribution] = of('AWS::CloudFront::Distribution');
      assert.deepEqual(
        distribution!.Properties.DistributionConfig.Origins.map((o: { Id: string }) => o.Id),
        ['function', 'containers'],
      );
      assert.equal(of('AWS::CloudFront::Function').length, 1);
      // The pack: the one file asset of the stack that is gzipped JSON.
      const assets = JSON.parse(readFileSync(join(out, `${stack}.assets.json`), 'utf8')) as {
        files: Record<string, { source: { path: string; packaging?: string } }>;
      };
      const packs = Object.values(assets.files).filter((f) => f.source.packaging === 'file' && f.source.path.endsWith('.gz'));
      assert.equal(packs.length, 1, 'one container pack');
      const pack = JSON.parse(gunzipSync(readFileSync(join(out, packs[0]!.source.path))).toString('utf8')) as { entry: string; files: Record<string, string> };
      assert.equal(pack.entry, 'index.mjs');
      assert.ok(pack.files['index.mjs']!.startsWith(BANNER), "built with the function's esbuild settings");
      assert.ok(
        Object.keys(pack.files).some((name) => name.startsWith('chunks/')),
        'split like the function',
      );
    });
  }
});

describe('bundleAwsSdk', () => {
  it("false leaves the AWS SDK to the runtime's copy", () => {
    const out = mkdtempSync(join(TMP, 'bundle-'));
    const app = new App({ outdir: out });
    const stack = new Stack(app, 'Bundled');
    new McpServerEndpoint(stack, 'Server', {
      serverName: 'echo',
      entry: 'functions/echo/handler.ts',
      auth: { mode: 'none', allowUnauthenticated: true },
      bundleAwsSdk: false,
      cloudFront: false,
    });
    app.synth();
    // The only ESM asset is the server's bundle (CDK's auto-delete provider ships index.js).
    const dir = join(out, readdirSync(out).find((name) => name.startsWith('asset.') && existsSync(join(out, name, 'index.mjs')))!);
    const code = allCode(dir);
    assert.match(code, /(from|import\()\s*"@aws-sdk\/client-[a-z-]+"/);
    assert.doesNotMatch(code, /class DynamoDBClient\b/);
  });
});
