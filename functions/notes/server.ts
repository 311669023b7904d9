// Example server "notes": notebooks kept in tool state. Shows state (session-scoped for 2025-era
// clients, handle-scoped for stateless ones), optimistic concurrency, progress, cancellation,
// artifacts, a task (notebook_export), a cached tool and a multi round-trip confirmation that
// works in both protocol eras.
import { z } from 'zod';
import {
  confirmToken,
  defineServer,
  prompt,
  resourceTemplate,
  StateConflictError,
  StateHandleError,
  tool,
  type StateScope,
  type ToolContext,
} from '../../shared/index.ts';

interface Note {
  text: string;
  at: string;
}

const notebookArg = z.string().optional().describe('Notebook handle returned by an earlier call. Omit it to use your session notebook, or to start a new one.');

async function notebook(ctx: ToolContext, handle: string | undefined): Promise<StateScope> {
  return handle ? ctx.openState(handle) : ctx.state;
}

function label(scope: StateScope) {
  return scope.handle ?? 'session notebook';
}

export default defineServer({
  name: 'notes',
  version: '1.0.0',
  instructions: 'Keep short notes in notebooks. Pass the `notebook` handle a tool returns to later calls to reach the same notebook.',
  tools: [
    tool(
      'echo',
      {
        description: 'Returns its text argument unchanged. Useful to check connectivity.',
        input: z.object({ text: z.string().describe('Text to echo back') }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      ({ text }) => text,
    ),
    tool(
      'note_add',
      {
        description: 'Adds a note to a notebook and returns the notebook handle.',
        input: z.object({ text: z.string().min(1).max(2000), notebook: notebookArg }),
        output: z.object({ notebook: z.string(), count: z.number() }),
        annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
      },
      async ({ text, notebook: handle }, ctx) => {
        const scope = await notebook(ctx, handle);
        // Optimistic concurrency: update retries a write that lost to a concurrent add.
        const { value: notes } = await scope.update<Note[]>('notes', (current = []) => [...current, { text, at: new Date().toISOString() }]);
        ctx.log.info('note added', { count: notes.length });
        const out = { notebook: label(scope), count: notes.length };
        return { content: [{ type: 'text', text: `Added note ${notes.length} to ${out.notebook}.` }], structuredContent: out };
      },
    ),
    tool(
      'note_list',
      {
        description: 'Lists the notes in a notebook, oldest first.',
        input: z.object({ notebook: notebookArg }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async ({ notebook: handle }, ctx) => {
        const notes = (await (await notebook(ctx, handle)).get<Note[]>('notes')) ?? [];
        if (notes.length === 0) return 'The notebook is empty.';
        return notes.map((n, i) => `${i + 1}. ${n.text}`).join('\n');
      },
    ),
    tool(
      'notebook_clear',
      {
        description: 'Deletes every note in a notebook, after the user confirms.',
        input: z.object({ notebook: notebookArg, confirm: confirmToken }),
        annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
      },
      async ({ notebook: handle }, ctx) => {
        // A stateless client has no session notebook: without a handle there is nothing to clear.
        if (!handle && ctx.era === 'modern') return 'No notebook given: pass the notebook handle note_add returned as "notebook".';
        const scope = await notebook(ctx, handle);
        const current = await scope.getVersioned<Note[]>('notes');
        if (!current || current.value.length === 0) return `${label(scope)} is already empty.`;
        // The question pins the version the user sees; versions never repeat, even after a clear.
        const answer = await ctx.confirm(`Delete all ${current.value.length} notes in ${label(scope)}?`, { version: current.version });
        if (answer.status === 'ask') return answer.result;
        if (answer.status !== 'confirmed') return 'Nothing deleted.';
        try {
          await scope.delete('notes', { ifVersion: answer.pinned.version });
        } catch (err) {
          if (!(err instanceof StateConflictError)) throw err;
          return `Nothing deleted: ${label(scope)} changed after you were asked. Call this tool again to see the new question.`;
        }
        return `Cleared ${label(scope)}.`;
      },
    ),
    tool(
      'notebook_export',
      {
        description:
          'Exports a notebook as a Markdown file and returns a link to it (and optionally a download URL valid for 5 minutes). ' +
          'Runs as a task for clients that take tasks: poll it, or come back for the result later.',
        input: z.object({ notebook: notebookArg, downloadUrl: z.boolean().default(false) }),
        annotations: { readOnlyHint: true, openWorldHint: false },
        task: 'optional',
      },
      async ({ notebook: handle, downloadUrl }, ctx) => {
        const scope = await notebook(ctx, handle);
        // Everything before start() runs in the request, so a bad handle fails the call itself;
        // from here on the work runs in the task's worker, which runs the handler again from the top.
        await ctx.task.start();
        const notes = (await scope.get<Note[]>('notes')) ?? [];
        const lines: string[] = [];
        for (const [i, n] of notes.entries()) {
          if (ctx.signal.aborted) throw new Error('notebook_export was cancelled');
          lines.push(`- ${n.text} _(${n.at})_`);
          if ((i + 1) % 100 === 0) await ctx.progress(i + 1, notes.length, `rendered ${i + 1} of ${notes.length} notes`);
        }
        await ctx.progress(notes.length, notes.length, 'uploading');
        const link = await ctx.artifacts.put('notebook.md', `# ${label(scope)}\n\n${lines.join('\n')}\n`, {
          contentType: 'text/markdown',
          ...(handle && { handle }),
        });
        const text = `Exported ${notes.length} notes to ${link.uri}.`;
        return {
          content: [{ type: 'text', text: downloadUrl ? `${text} Download: ${await ctx.artifacts.presign(link.uri, 300)}` : text }, link],
        };
      },
    ),
    tool(
      'word_stats',
      {
        description: 'Counts words in a text, reporting progress chunk by chunk, and returns the most frequent words.',
        input: z.object({
          text: z.string().max(500_000),
          top: z.number().int().min(1).max(50).default(10),
          chunkDelayMs: z.number().int().min(0).max(1000).default(0).describe('Pause between chunks, to watch progress'),
        }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        // The same text always gives the same counts: repeated calls are served from the cache.
        // Per caller: the text is the caller's own, and a shared entry would tell anyone, by how
        // fast it answers, that someone else already sent the same text.
        cache: { ttlSeconds: 300, scope: 'principal' },
      },
      async ({ text, top, chunkDelayMs }, ctx) => {
        const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
        const counts = new Map<string, number>();
        const chunk = 1000;
        const chunks = Math.max(1, Math.ceil(words.length / chunk));
        for (let i = 0; i < chunks; i++) {
          if (ctx.signal.aborted) throw new Error('word_stats was cancelled');
          for (const w of words.slice(i * chunk, (i + 1) * chunk)) counts.set(w, (counts.get(w) ?? 0) + 1);
          await ctx.progress(i + 1, chunks, `counted ${Math.min((i + 1) * chunk, words.length)} of ${words.length} words`);
          if (chunkDelayMs) await new Promise((r) => setTimeout(r, chunkDelayMs));
        }
        const frequent = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
        return {
          content: [{ type: 'text', text: `${words.length} words, ${counts.size} distinct. Top: ${frequent.map(([w, n]) => `${w} (${n})`).join(', ')}` }],
          structuredContent: { words: words.length, distinct: counts.size, top: frequent.map(([word, count]) => ({ word, count })) },
        };
      },
    ),
  ],
  resources: [
    resourceTemplate(
      'notebook',
      'notes://notebook/{handle}',
      { metadata: { description: 'The notes of a notebook, as Markdown', mimeType: 'text/markdown' } },
      async (uri, { handle }, ctx) => {
        const notes = (await (await ctx.openState(String(handle))).get<Note[]>('notes')) ?? [];
        return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: notes.map((n) => `- ${n.text}`).join('\n') }] };
      },
    ),
  ],
  prompts: [
    prompt(
      'summarize_notebook',
      { description: 'Asks the model to summarize a notebook', args: z.object({ notebook: z.string().describe('Notebook handle') }) },
      async ({ notebook: handle }, ctx) => {
        // The kit's own answer says to omit an unknown handle, which this required argument cannot be.
        const scope = await ctx.openState(handle).catch((err: unknown) => {
          if (!(err instanceof StateHandleError)) throw err;
          throw new StateHandleError(`unknown or expired notebook handle "${handle.slice(0, 64)}": pass a handle note_add returned`);
        });
        const notes = (await scope.get<Note[]>('notes')) ?? [];
        return {
          messages: [{ role: 'user', content: { type: 'text', text: `Summarize these notes:\n${notes.map((n) => `- ${n.text}`).join('\n')}` } }],
        };
      },
    ),
  ],
});
