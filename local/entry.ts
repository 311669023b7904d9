// Finds and loads the server definition `npm start` and `npm run dev` serve. A path that does not
// exist, a Lambda entry point (which needs the Lambda runtime) or a module without a server
// definition stops start-up with a message saying what to run instead, never a stack trace.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServerModule } from '../shared/server/define.ts';
import { shown } from './emulators.ts';

export const DEFAULT_ENTRY = 'functions/notes/server.ts';

export class EntryError extends Error {
  override name = 'EntryError';
}

/** The example servers in this checkout, for the message a wrong path gets. */
function serversHere(): string[] {
  const root = resolve('functions');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'server.ts')))
    .map((d) => shown(join(root, d.name, 'server.ts')));
}

function lambdaEntry(path: string, command: string): EntryError {
  const server = join(dirname(path), 'server.ts');
  const instead = existsSync(server) ? `${command} -- ${shown(server)}` : `${command} -- <the server definition file it imports>`;
  return new EntryError(
    `${shown(path)} is a Lambda entry point: it runs only in the Lambda runtime. ${command} serves a server definition (the file that ` +
      `default-exports defineServer(...)): ${instead}. To run the Lambda entry as deployed, use npm run start:aws -- ${shown(path)}.`,
  );
}

/** The absolute path of a file named on the command line (or `fallback`), which must exist. */
export function existingEntry(arg: string | undefined, fallback: string, command: string): string {
  const path = resolve(arg ?? fallback);
  if (existsSync(path)) return path;
  const servers = serversHere();
  throw new EntryError(
    `no such file: ${shown(path)}. ${command} takes the path of a server definition, e.g. ${command} -- ${DEFAULT_ENTRY}` +
      (servers.length ? ` (servers here: ${servers.join(', ')})` : ''),
  );
}

/** The absolute path of the server file named on the command line (or the default): not a Lambda entry point. */
export function resolveEntry(arg: string | undefined, command: string): string {
  const path = existingEntry(arg, DEFAULT_ENTRY, command);
  if (/^handler\.[cm]?[jt]s$/.test(basename(path))) throw lambdaEntry(path, command);
  return path;
}

/** Imports the server file; its default export is a definition, or a function of the environment that builds one. */
export async function loadEntry(path: string, command: string): Promise<ServerModule> {
  let module: { default?: unknown; handler?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as typeof module;
  } catch (err) {
    // A Lambda entry under another name fails on the runtime's global at import.
    if (/\bawslambda\b/.test(String((err as Error)?.message))) throw lambdaEntry(path, command);
    throw err;
  }
  if (module.default === undefined && module.handler !== undefined) throw lambdaEntry(path, command);
  const value = module.default;
  if (typeof value === 'function' || (typeof value === 'object' && value !== null && Array.isArray((value as { tools?: unknown }).tools))) {
    return value as ServerModule;
  }
  throw new EntryError(
    `${shown(path)} has no server definition: its default export should be defineServer({ name, version, tools }) (README, "Write a tool").`,
  );
}
