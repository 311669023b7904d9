// The README's "Write a tool" example, taken from the README as written and served by the kit: a
// 2026-07-28 client gets the state handle back and reaches its state with it on the next call;
// a 2025-era session keeps its state without one.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ServerDefinition } from '../../shared/server/define.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

let folder: string;
let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
let server: Awaited<ReturnType<typeof startInProcess>>;

/** The first TypeScript block under "## Write a tool", importing the kit and zod by absolute URL. */
async function weatherExample(): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Write a tool'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
  assert.match(code, /name: 'weather'/);
  return code.replaceAll("from '../../shared/", `from '${pathToFileURL('shared/').href}`).replace("from 'zod'", `from '${import.meta.resolve('zod')}'`);
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mcp-kit-readme-tool-'));
  const file = join(folder, 'server.ts');
  await writeFile(file, await weatherExample());
  const weather = ((await import(pathToFileURL(file).href)) as { default: ServerDefinition }).default;
  dynamo = await startTestDynamo();
  server = await startInProcess(weather, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
});
after(async () => {
  await server?.stop();
  await dynamo?.stop();
  await rm(folder, { recursive: true, force: true });
});

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

test('a 2026-07-28 client gets the handle and reaches its state with it', async () => {
  const client = new ModernClient({ name: 'readme', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new ModernTransport(new URL(server.url)));
  const first = text(await client.callTool({ name: 'forecast', arguments: { city: 'Oslo' } }));
  const handle = /\(memory: (\S+); pass it back as "memory"\)/.exec(first)?.[1];
  assert.ok(handle, first);
  assert.match(text(await client.callTool({ name: 'forecast', arguments: { city: 'Bergen', memory: handle } })), /^Sunny in Bergen \(last asked: Oslo\)/);
  // Control: without the handle the state is a new one.
  assert.match(text(await client.callTool({ name: 'forecast', arguments: { city: 'Tromsø' } })), /^Sunny in Tromsø \(last asked: nothing\)/);
  await client.close();
});

test('a 2025-era session keeps its state without a handle', async () => {
  const client = new LegacyClient({ name: 'readme', version: '1' });
  await client.connect(new LegacyTransport(new URL(server.url)));
  assert.equal(text(await client.callTool({ name: 'forecast', arguments: { city: 'Oslo' } })), 'Sunny in Oslo (last asked: nothing)');
  assert.equal(text(await client.callTool({ name: 'forecast', arguments: { city: 'Bergen' } })), 'Sunny in Bergen (last asked: Oslo)');
  await client.close();
});
