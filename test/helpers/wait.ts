// Waiting in tests for a condition instead of sleeping: poll until it holds, or fail naming what
// never came.

/**
 * Polls `find` every `everyMs` until it gives something other than undefined or false, and returns
 * that; throws after `timeoutMs`, naming `what`.
 */
export async function waitFor<T>(
  what: string,
  find: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
