// `npm run docs:config`: rewrites the README's configuration table from the definitions in
// shared/config/variables.ts (between its two markers). test/core/config-docs.test.ts fails when
// the README is out of date.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configurationTable } from '../shared/config/variables.ts';

export const BEGIN = '<!-- configuration table: generated from shared/config/variables.ts by npm run docs:config -->';
export const END = '<!-- end of configuration table -->';

/** The README with its configuration table replaced by the one the definitions give. */
export function withConfigurationTable(readme: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the configuration table must sit between "${BEGIN}" and "${END}"`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${configurationTable()}\n${readme.slice(end)}`;
}

// Run as a script, not when a test imports it.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = new URL('../README.md', import.meta.url);
  const readme = await readFile(file, 'utf8');
  const updated = withConfigurationTable(readme);
  if (updated !== readme) await writeFile(file, updated);
  console.log(updated === readme ? 'README.md: configuration table up to date' : 'README.md: configuration table rewritten');
}
