// `npm run dev` as users run it: a real child process on a temporary copy of the notes server and
// a temporary data folder. An edited tool description reaches tools/list within 2 s without a
// restart (on a busy machine: within what a fresh process takes to load the server, measured
// alongside), the session and its notes (emulator data) survive the reload, a broken save leaves a
// message while the previous version serves on and the next save recovers, and a wrong path is
// refused with what to run instead.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cleanEnv, servingUrl, startProcess, type Child } from './processes.ts';

const TIMEOUT = { timeout: 60_000 };
const ECHO_DESCRIPTION = 'Returns its text argument unchanged. Useful to check connectivity.';

/** The notes server, importing the kit and zod by absolute URL so it runs from a temporary folder. */
async function notesServerSource(echoDescription: string): Promise<string> {
  const source = await readFile('functions/notes/server.ts', 'utf8');
  assert.ok(source.includes(ECHO_DESCRIPTION), 'the notes server still describes echo as this test expects');
  return source
    .replaceAll("from '../../shared/", `from '${pathToFileURL('shared/').href}`)
    .replace("from 'zod'", `from '${import.meta.resolve('zod')}'`)
    .replace(ECHO_DESCRIPTION, echoDescription);
}

function startDev(args: string[], env: Record<string, string>): Child {
  return startProcess(process.execPath, ['--import', 'tsx', 'local/dev.ts', ...args], { env: cleanEnv({ PORT: '0', ...env }) });
}

interface Session {
  sessionId: string;
  protocolVersion: string;
}

/** A 2025-era client; with `session`, it resumes that session (kept in DynamoDB) without initialize. */
async function connect(url: string, session?: Session) {
  const transport = new LegacyTransport(new URL(url), session && { sessionId: session.sessionId });
  const client = new LegacyClient({ name: 'dev-test', version: '1.0.0' });
  await client.connect(transport);
  if (session) transport.setProtocolVersion(session.protocolVersion);
  return { client, session: { sessionId: transport.sessionId!, protocolVersion: transport.protocolVersion ?? session!.protocolVersion } };
}

/** The echo tool's description as a fresh client lists it now; undefined while nothing answers. */
async function echoDescription(url: string): Promise<string | undefined> {
  try {
    const { client } = await connect(url);
    try {
      return (await client.listTools()).tools.find((t) => t.name === 'echo')?.description;
    } finally {
      await client.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * How long a fresh process takes to load `file` (the kit, the SDK, zod, the server): what a reload
 * would cost without the waiting standby, on this machine as loaded as it is now.
 */
async function coldLoadMs(file: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`], {
    env: cleanEnv(),
    stdio: 'ignore',
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, `${file} loads in a fresh process`);
  return performance.now() - started;
}

/** Polls until `check` holds; returns how long that took. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

describe('npm run dev', () => {
  let folder: string;
  let serverFile: string;
  let dev: Child;
  let url: string;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mcp-kit-dev-'));
    serverFile = join(folder, 'server', 'server.ts');
    await mkdir(join(folder, 'server'));
    await writeFile(serverFile, await notesServerSource('first description'));
    dev = startDev([serverFile], { MCP_LOCAL_DATA_DIR: join(folder, 'data') });
    // Emulators, the server and its standby start at once: past 20 s on a loaded machine.
    url = await servingUrl(dev, 60_000);
  });
  after(async () => {
    await dev?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  test('an edited tool description shows in tools/list within 2 s, and the emulator data survives', TIMEOUT, async (t) => {
    await dev.waitFor(/npm run dev: watching .*server\/ and shared\/; a change reloads the server, the emulators and their data stay/);
    assert.match(dev.output(), /Connect a client:\n {4}npm run inspect -- /, "the first start prints npm start's banner");
    assert.equal(await echoDescription(url), 'first description');
    const { client, session } = await connect(url);
    await client.callTool({ name: 'note_add', arguments: { text: 'written before the reload' } });
    await client.close();

    const reloads = dev.output().match(/reloaded/g)?.length ?? 0;
    // The control, side by side: a fresh process loading the same server (a copy outside the
    // watched folder) from the moment of the save, sharing the machine's load with the reload.
    const copy = join(folder, 'cold-copy.ts');
    await writeFile(copy, await notesServerSource('second description'));
    const saved = performance.now();
    const coldLoad = coldLoadMs(copy);
    await writeFile(serverFile, await notesServerSource('second description'));
    // Timed to the line the new server prints once it serves: polling tools/list with a new client
    // each time (a session written and deleted) took longer than the reload itself under load.
    await dev.waitFor(new RegExp(`reloaded \\(\\S*server\\.ts changed\\): "notes" serving at ${url.replace(/[.]/g, '\\.')}`), 20_000);
    const took = performance.now() - saved;
    // The old server stops right after (they share the port meanwhile): then the list shows it.
    const listedAfter = await until(async () => (await echoDescription(url)) === 'second description', 10_000);
    // 2 s on a quiet machine. Loaded (CI), both scale: the reload (the server's own import, the kit
    // already loaded in the standby) must beat the fresh load, with half again for noise.
    const cold = await coldLoad;
    t.diagnostic(`reloaded in ${Math.round(took)} ms, listed ${Math.round(listedAfter)} ms later; a fresh process loads the server in ${Math.round(cold)} ms`);
    assert.ok(
      took < Math.max(2000, 1.5 * cold),
      `the new server served ${Math.round(took)} ms after the save (a fresh load of the server: ${Math.round(cold)} ms)`,
    );
    assert.equal(dev.output().match(/reloaded/g)!.length, reloads + 1, 'one save, one reload line');

    const resumed = await connect(url, session);
    const listed = await resumed.client.callTool({ name: 'note_list', arguments: {} });
    assert.deepEqual(listed.content, [{ type: 'text', text: '1. written before the reload' }]);
    await resumed.client.close();
  });

  test('a save that breaks the server says so, and the next save brings it back', TIMEOUT, async () => {
    const offset = dev.output().length;
    await writeFile(serverFile, 'export default defineServer({ name: ');
    await until(async () => dev.output().slice(offset).includes('npm run dev: the server did not start (above); saving a file tries again'), 20_000);
    // Node 24 on Linux shares the port between the old server and its replacement.
    assert.match(dev.output().slice(offset), /and the previous version serves meanwhile/);
    assert.equal(await echoDescription(url), 'second description');
    await writeFile(serverFile, await notesServerSource('third description'));
    await until(async () => (await echoDescription(url)) === 'third description', 20_000);
  });
});

test('npm run dev refuses a Lambda entry point and a missing path, saying what to run', TIMEOUT, async () => {
  const handler = startDev(['functions/notes/handler.ts'], {});
  assert.equal(await handler.exited, 1);
  assert.equal(
    handler.output().trim(),
    'functions/notes/handler.ts is a Lambda entry point: it runs only in the Lambda runtime. npm run dev serves a server definition ' +
      '(the file that default-exports defineServer(...)): npm run dev -- functions/notes/server.ts. ' +
      'To run the Lambda entry as deployed, use npm run start:aws -- functions/notes/handler.ts.',
  );
  const missing = startDev(['functions/wether/server.ts'], {});
  assert.equal(await missing.exited, 1);
  assert.match(
    missing.output().trim(),
    /^no such file: functions\/wether\/server\.ts\. npm run dev takes the path of a server definition, e\.g\. npm run dev -- functions\/notes\/server\.ts \(servers here: .*functions\/notes\/server\.ts.*\)$/,
  );
});
