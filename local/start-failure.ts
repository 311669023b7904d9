// How a local command (npm start, npm run dev, npm run start:aws, the emulators) ends when it
// cannot start: what the user can fix (a setting, a path, a port, a data folder in use) in one
// line, anything else with its stack.
import { ConfigError } from '../shared/config.ts';

type ErrorClass = abstract new (...args: never[]) => Error;

/** Exits 1 saying why; `known` are the errors whose message alone says what to do. */
export function exitOnStartFailure(err: unknown, known: ErrorClass[]): never {
  const message = err instanceof ConfigError ? `Configuration error: ${err.message}` : known.some((k) => err instanceof k) ? (err as Error).message : undefined;
  process.stderr.write(`${message ?? (err as { stack?: string } | undefined)?.stack ?? err}\n`);
  process.exit(1);
}
