// The server behind the cache rows: `work` does a fixed amount of CPU work, and `work_cached` is
// the same tool with a cache policy, so the uncached and the cached rows send the same request to
// the same server and differ only in the tool's name. `echo` is the trivial call beside them.
//
// The work is PBKDF2-SHA256 with a fixed iteration count (about 2 ms on the machine that wrote
// docs/benchmarks.md): CPU-bound, the same cost on every call, and a result every answer is
// checked against. A fixed delay (a timer) would stand for a tool waiting on a remote API, but a
// timer fires on the millisecond grid and late under load, which is noise in exactly the row the
// hits are compared against; and a tool that occupies the CPU is the one a cache hit really saves.
import { pbkdf2Sync } from 'node:crypto';
import { z } from 'zod';
import { defineServer, tool } from '../../../shared/server/define.ts';
import type { ToolCall } from '../../request.ts';
import { countToolRun } from '../tool-runs.ts';

export const WORK_ITERATIONS = 16_000;

export function work(input: string): string {
  return pbkdf2Sync(input, 'serverless-mcp-kit bench', WORK_ITERATIONS, 32, 'sha256').toString('hex');
}

const input = z.object({ input: z.string() });
const annotations = { readOnlyHint: true, idempotentHint: true, openWorldHint: false };
const description = 'Derives a key from its input with PBKDF2 (a fixed amount of CPU work).';

export default defineServer({
  name: 'bench-work',
  version: '1.0.0',
  tools: [
    tool('echo', { description: 'Returns its text argument unchanged.', input: z.object({ text: z.string() }), annotations }, ({ text }) => {
      countToolRun();
      return text;
    }),
    tool('work', { description, input, annotations }, ({ input }) => {
      countToolRun();
      return work(input);
    }),
    // A TTL far longer than any run: every timed call after the first is a hit.
    tool('work_cached', { description, input, annotations, cache: { ttlSeconds: 3_600 } }, ({ input }) => {
      countToolRun();
      return work(input);
    }),
  ],
});

const WORK_INPUT = 'the same arguments on every call';

/** The calls the cache rows make; `text` is computed once, here, which costs one run of the work. */
export function workCalls(): { work: ToolCall; cached: ToolCall } {
  const text = work(WORK_INPUT);
  return {
    work: { name: 'work', arguments: { input: WORK_INPUT }, text },
    cached: { name: 'work_cached', arguments: { input: WORK_INPUT }, text },
  };
}
