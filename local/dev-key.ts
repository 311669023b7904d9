// The development API key `npm start` prints when it serves with `MCP_AUTH_MODE=apikey` on an
// emulated table, so the commands in its banner work. The key is kept in plain text beside the
// local data (git-ignored) and reused while the table still knows it; never minted on real AWS.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApiKeyStore } from '../shared/auth/api-keys.ts';
import type { KitConfig } from '../shared/config.ts';
import { Table, createDynamoClient } from '../shared/store/table.ts';

/** The owner of the development key: callers with it are the principal `apikey:dev`. */
export const DEV_KEY_OWNER = 'dev';

/** Where the key is kept for the next start on the same data. */
export const devKeyFile = (dataRoot: string) => join(dataRoot, 'dev-api-key');

/** The development key for `config`'s emulated table: the one kept in `file`, or a new one. */
export async function developmentKey(config: KitConfig, file: string): Promise<string> {
  const client = await createDynamoClient(config);
  try {
    const store = new ApiKeyStore(new Table(() => Promise.resolve(client), config.tableName), { cacheSeconds: 0 });
    const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (kept && (await store.verify(kept))) return kept;
    const { key } = await store.create({ principalId: DEV_KEY_OWNER, name: 'npm start development key' });
    // The data folder exists only once npm start has kept data there (not with emulators given by URL).
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return key;
  } finally {
    client.destroy();
  }
}
