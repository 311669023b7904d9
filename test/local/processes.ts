// Child processes for the tests of what users run (`npm start`, `npm run emulators`): started
// from an environment cleared of anything that points at an existing data plane, watched through
// their output, stopped the way a terminal stops them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Variables that would make a child use someone else's data plane, port or signing key. */
const INHERITED_DATA_PLANE = /^(AWS_|UPSTASH_|MCP_|PORT$|HOST$)/;

/** This process's environment minus the data plane, plus `extra`; quiet logs unless told otherwise. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { LOG_LEVEL: 'ERROR' };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !INHERITED_DATA_PLANE.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** PATH without the folders that hold `binary`, as on a machine where it is not installed. */
export function pathWithout(binary: string): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !existsSync(join(dir || '.', binary)))
    .join(delimiter);
}

/** The first `binary` on this process's PATH, for children whose PATH lacks it. */
export function which(binary: string): string {
  const dir = (process.env.PATH ?? '').split(delimiter).find((d) => existsSync(join(d || '.', binary)));
  if (!dir) throw new Error(`${binary} is not on PATH`);
  return join(dir, binary);
}

export interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr; rejects if the child exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** The exit code (or signal name) once the child has exited. */
  exited: Promise<number | string>;
  /** Ctrl-C: SIGINT to the child, or to its whole process group when started as a group. */
  stop(): Promise<number | string>;
}

export function startProcess(command: string, args: string[], options: { env: Record<string, string>; cwd?: string; group?: boolean }): Child {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: options.group ?? false });
  let out = '';
  const listeners = new Set<() => void>();
  const append = (chunk: string) => {
    out += chunk;
    for (const check of listeners) check();
  };
  child.stdout!.setEncoding('utf8').on('data', append);
  child.stderr!.setEncoding('utf8').on('data', append);
  let closed = false;
  // 'close', not 'exit': by then all output has been read.
  const exited = new Promise<number | string>((resolve) =>
    child.once('close', (code, signal) => {
      closed = true;
      for (const check of listeners) check();
      resolve(code ?? signal ?? -1);
    }),
  );

  return {
    process: child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`)), timeoutMs);
        const finish = (error?: Error, match?: RegExpExecArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(match!);
        };
        const check = () => {
          const match = pattern.exec(out);
          if (match) finish(undefined, match);
          else if (closed) finish(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${out}`));
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      try {
        if (!closed) process.kill(options.group ? -child.pid! : child.pid!, 'SIGINT');
      } catch (err) {
        // Already gone: nothing left to stop.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
      return exited;
    },
  };
}

/** `npm start`'s entry (`local/start.ts`) in a child, as npm runs it but without npm in between. */
export function startServer(env: Record<string, string>): Child {
  return startProcess(process.execPath, ['--import', 'tsx', 'local/start.ts'], { env: cleanEnv({ PORT: '0', ...env }) });
}

/** Resolves with the URL a server prints once it serves. */
export async function servingUrl(child: Child, timeoutMs?: number): Promise<string> {
  return (await child.waitFor(/serving at (http:\/\/\S+)/, timeoutMs))[1]!;
}
