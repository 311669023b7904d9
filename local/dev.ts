// `npm run dev`: `npm start` that reloads the server when its files change.
// Usage: npm run dev [-- path/to/server.ts]   (default: functions/notes/server.ts)
// This process owns the emulators, the port and the MRTR signing key, so data, sessions and
// in-flight requestState survive a reload; the server itself runs in a child (`local/start.ts`)
// that is replaced on every change to the server's folder or to `shared/`. A child that fails to
// start (a syntax error, say) leaves its message on the terminal and the next save tries again.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../shared/config.ts';
import { LocalDataInUseError, randomSecret, shown, startEmulators } from './emulators.ts';
import { EntryError, resolveEntry } from './entry.ts';
import { freePort } from './free-port.ts';
import { exitOnStartFailure } from './start-failure.ts';
import { VARIABLES } from '../shared/config/variables.ts';

const START = fileURLToPath(new URL('./start.ts', import.meta.url));
const KIT = fileURLToPath(new URL('../shared/', import.meta.url));
/** Saves arrive as bursts of events (write, rename, chmod): one reload per burst. */
const SETTLE_MS = 60;
/** A child that ignores SIGTERM this long is killed. */
const STOP_GRACE_MS = 3000;
const SOURCE = /\.(?:[cm]?[jt]sx?|json)$/;
/** SO_REUSEPORT (`listen({ reusePort })`): Linux, from Node 22.12. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const SHARED_PORT = process.platform === 'linux' && (major > 22 || (major === 22 && minor >= 12));

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

async function main() {
  const entry = resolveEntry(process.argv[2], 'npm run dev');
  const host = process.env.HOST ?? VARIABLES.HOST.default;
  const requested = process.env.PORT ? Number(process.env.PORT) : VARIABLES.PORT.default;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535) throw new ConfigError('PORT', `expected a port number, got "${process.env.PORT}"`);
  // A free port now, so every child of this session binds the same one (PORT=0 included).
  const port = requested === 0 ? await freePort(host) : requested;

  const emulators = await startEmulators(process.env, { owner: 'npm run dev' });
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...emulators.env,
    PORT: String(port),
    MCP_REQUEST_STATE_KEY: process.env.MCP_REQUEST_STATE_KEY ?? randomSecret(),
    ...(emulators.redisOff && { MCP_LOCAL_REDIS: 'off' }),
  };
  try {
    await emulators.prepare(loadConfig(env));
  } catch (err) {
    await emulators.stop();
    throw err;
  }

  const standby = () => {
    const child = spawn(process.execPath, [...process.execArgv, START, entry], {
      env: { ...env, MCP_DEV_STANDBY: '1' },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    const ready = new Promise<boolean>((done) => {
      child.once('message', () => done(true));
      child.once('exit', () => done(false));
    });
    return { child, ready };
  };

  // The next server waits loaded (kit, SDK) in a standby child, so a reload costs only the
  // server's own import and start.
  let next: ReturnType<typeof standby> | undefined = standby();
  let active: ChildProcess | undefined;
  const serveNext = async (reloaded?: string) => {
    const up = next ?? standby();
    next = undefined;
    if (!(await up.ready)) return void process.stdout.write('npm run dev: the kit did not load (above); saving a file tries again\n');
    const previous = active;
    // Where the port can be shared, the old server serves until the new one does.
    if (previous && !SHARED_PORT) await stopChild(previous);
    const served = new Promise<boolean>((done) => {
      up.child.once('message', () => done(true));
      up.child.once('exit', (code) => done(code === 0));
    });
    // The full banner until a server has served, then one line per reload.
    up.child.send({ reloaded: active ? reloaded : undefined });
    if (await served) {
      if (previous && SHARED_PORT) await stopChild(previous);
      active = up.child;
    } else {
      const kept = previous && SHARED_PORT ? ', and the previous version serves meanwhile' : '';
      process.stdout.write(`npm run dev: the server did not start (above); saving a file tries again${kept}\n`);
    }
    next = standby();
  };

  // Reloads run one at a time; changes seen meanwhile make one more.
  const changed = new Set<string>();
  let settle: NodeJS.Timeout | undefined;
  let reloading: Promise<void> | undefined;
  const reload = async () => {
    while (changed.size) {
      const files = [...changed];
      changed.clear();
      // A standby loaded the kit before it changed.
      if (next && files.some((file) => file.startsWith(KIT))) {
        await stopChild(next.child);
        next = undefined;
      }
      await serveNext(`${files.map(shown).join(', ')} changed`);
    }
  };
  const onChange = (folder: string) => (_event: string, name: string | Buffer | null) => {
    if (!name || !SOURCE.test(String(name))) return;
    changed.add(join(folder, String(name)));
    clearTimeout(settle);
    settle = setTimeout(() => {
      reloading ??= reload().finally(() => (reloading = undefined));
    }, SETTLE_MS);
  };
  const folders = [...new Set([dirname(entry), KIT.replace(/\/$/, '')])];
  const watchers: FSWatcher[] = folders.map((folder) => watch(folder, { recursive: true }, onChange(folder)));

  const stop = async () => {
    for (const w of watchers) w.close();
    clearTimeout(settle);
    await reloading;
    await Promise.all([next && stopChild(next.child), active && stopChild(active)]);
    await emulators.stop();
    process.exit(0);
  };
  // Before anything is printed: whoever reads it may stop this process at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  await serveNext();
  // Said once the next server waits loaded: from here a change takes only its own start.
  if (await next?.ready) {
    process.stdout.write(
      `npm run dev: watching ${folders.map((f) => `${shown(f)}/`).join(' and ')}; a change reloads the server, the emulators and their data stay\n`,
    );
  }
}

main().catch((err) => exitOnStartFailure(err, [LocalDataInUseError, EntryError]));
