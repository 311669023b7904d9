// Measures what bundling the AWS SDK does to the notes function (infra/function-bundle.ts,
// `bundleAwsSdk`): bytes a cold start loads and the package, then on the modelled Lambda, sample by
// sample interleaved, the init duration, the first call's duration (a note_add: the first DynamoDB
// request) and peak memory. Usage: npx tsx scripts/measure-sdk-bundling.ts [samples]
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startBareFunction } from '../local/aws/bare-function.ts';
import { buildRuntime, loadedBytes } from '../local/aws/build.ts';
import { modelledEnvironment } from '../local/aws/environment.ts';
import { bundleBuild } from '../infra/function-bundle.ts';
import { startTestDynamo } from '../test/helpers/server.ts';

const root = process.cwd();
const du = (dir: string): number =>
  readdirSync(dir).reduce((s, f) => {
    const p = join(dir, f);
    const st = statSync(p);
    return s + (st.isDirectory() ? du(p) : f.endsWith('.map') ? 0 : st.size);
  }, 0);
const variants: Record<string, { dir: string; loaded: number }> = {};
for (const [name, exclude] of [
  ['external', true],
  ['bundled', false],
] as const) {
  const dir = join(root, '.local/sdk-bundling', name);
  const out = await build({ ...bundleBuild('functions/notes/handler.ts', dir, { excludeAwsSdk: exclude }), absWorkingDir: root });
  variants[name] = { dir, loaded: loadedBytes(out.metafile!, dir) };
  console.log(name, 'loaded KiB', (variants[name].loaded / 1024).toFixed(0), 'package KiB', (du(dir) / 1024).toFixed(0));
}
const runtime = await buildRuntime(join(root, '.local/sdk-bundling'));
const dynamo = await startTestDynamo();
const env = modelledEnvironment('notes', {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  MCP_REQUEST_STATE_KEY: 'sdk-measure-request-state-key-0123456789',
  LOG_LEVEL: 'WARN',
  // No CloudFront in front here to send the origin header the modelled environment asks for.
  MCP_ORIGIN_VERIFY: 'false',
});
const call = {
  headers: {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'note_add',
  },
  body: JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'note_add',
      arguments: { text: 'x' },
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'm', version: '1' },
      },
    },
  }),
};
const samples: Record<string, { init: number[]; first: number[]; mem: number[] }> = {
  external: { init: [], first: [], mem: [] },
  bundled: { init: [], first: [], mem: [] },
};
const samplesWanted = Number(process.argv[2] ?? 8);
for (let n = 0; n <= samplesWanted; n++) {
  for (const name of Object.keys(variants)) {
    const fn = await startBareFunction({ bundle: join(variants[name]!.dir, 'index.mjs'), runtime, environment: env, functionName: 'm' });
    const res = await fetch(`${fn.url}/mcp`, { method: 'POST', headers: call.headers, body: call.body });
    const text = await res.text();
    if (!text.includes('Added note')) throw new Error(text);
    const rec = await fn.firstInvocation();
    // The first round only warms the page cache.
    if (n > 0) {
      samples[name]!.init.push(rec.initDurationMs!);
      samples[name]!.first.push(rec.durationMs);
      samples[name]!.mem.push(rec.maxMemoryMb!);
    }
    await fn.stop();
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const min = (a: number[]) => Math.min(...a);
for (const [name, s] of Object.entries(samples)) {
  const both = s.init.map((v, i) => v + s.first[i]!);
  console.log(
    `${name}: init ${med(s.init)} ms (min ${min(s.init)}), first call ${med(s.first)} ms (min ${min(s.first)}), both ${med(both)} ms (min ${min(both)}), memory ${med(s.mem)} MB, medians of ${s.init.length}`,
  );
}
await dynamo.stop();
