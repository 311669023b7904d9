// The README's first command in a fresh folder: the tracked files only (what a clone holds), its
// `npm start` run as written through npm and a shell, stopped with Ctrl-C. `npm ci` is left out:
// node_modules is linked from this checkout (CI runs `npm ci` on its clean clone).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cleanEnv, servingUrl, startProcess, type Child } from './processes.ts';

const repo = resolve(import.meta.dirname, '../..');
let folder: string | undefined;
let server: Child | undefined;

after(async () => {
  await server?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** The first line of the README's first bash block: `npm ci && npm start   # … http://127.0.0.1:3000/mcp`. */
async function quickStart() {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const line = /```bash\n(.*)\n/.exec(readme)?.[1] ?? '';
  const [command = '', comment = ''] = line.split('#');
  const steps = command.split('&&').map((s) => s.trim());
  assert.equal(steps[0], 'npm ci', `the README's first command installs first: ${line}`);
  return { start: steps.slice(1).join(' && '), url: new URL(/http:\/\/\S+/.exec(comment)?.[0] ?? '') };
}

test("the README's npm start serves MCP and /health from a fresh copy of the repository", { timeout: 40_000 }, async () => {
  const { start, url: documented } = await quickStart();
  assert.equal(start, 'npm start');

  folder = await mkdtemp(join(tmpdir(), 'mcp-kit-fresh-'));
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of tracked) {
    // A file deleted in the working tree is not part of what the next commit would hold.
    if (!existsSync(join(repo, file))) continue;
    await mkdir(dirname(join(folder, file)), { recursive: true });
    await copyFile(join(repo, file), join(folder, file));
  }
  await symlink(join(repo, 'node_modules'), join(folder, 'node_modules'), 'dir');

  // PORT=0 so a server already on the documented port does not matter; its own group so that
  // stopping it is the terminal's Ctrl-C to everything npm started.
  server = startProcess('sh', ['-c', start], { cwd: folder, env: cleanEnv({ PORT: '0', LOG_LEVEL: 'INFO' }), group: true });
  const url = new URL(
    await servingUrl(server).catch((error: Error) => {
      // The usual cause in a working checkout: a new file imported but not yet added to git.
      const missing = new RegExp(`Cannot find module '${folder}/([^']+)'`).exec(server!.output())?.[1];
      throw missing && existsSync(join(repo, missing)) ? new Error(`${missing} is imported but not tracked by git (git add it)\n${error.message}`) : error;
    }),
  );
  assert.equal(url.hostname, documented.hostname);
  assert.equal(url.pathname, documented.pathname);
  assert.notEqual(url.port, '0');

  const health = await fetch(new URL('/health', url));
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  const client = new Client({ name: 'readme-quickstart', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url));
  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'fresh' } });
  assert.deepEqual(echoed.content, [{ type: 'text', text: 'fresh' }]);
  await client.close();

  await server.stop();
  assert.ok(existsSync(join(folder, '.local', 'data', 'dynamodb')), 'local data goes to .local/data in the folder npm start runs in');
  assert.ok(!existsSync(join(folder, '.local', 'data', 'owner.json')), 'Ctrl-C stops the emulators and releases the data folder');
});
