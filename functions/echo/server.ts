// Example server "echo": the smallest useful server, deployed beside "notes" on the same data plane.
// Besides `echo`, two tools that exercise what only a real deployment shows (`npm run verify`): a
// call that stays silent for a while (keep-alives must reach the client through CloudFront and its
// edge function), which runs as a task for clients that take tasks, and an announcement that must
// reach `subscriptions/listen` streams held by other execution environments.
import { z } from 'zod';
import { defineServer, tool } from '../../shared/index.ts';

export default defineServer({
  name: 'echo',
  version: '1.0.0',
  tools: [
    tool(
      'echo',
      {
        description: 'Returns its text argument unchanged.',
        input: z.object({ text: z.string() }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      ({ text }) => text,
    ),
    tool(
      'wait',
      {
        description: 'Waits the given seconds without sending anything (no progress), then answers. A task for clients that take tasks.',
        input: z.object({ seconds: z.number().min(0).max(50) }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        task: 'optional',
      },
      async ({ seconds }, ctx) => {
        await ctx.task.start();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, seconds * 1000);
          ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        if (ctx.signal.aborted) throw new Error('wait was cancelled');
        return `waited ${seconds} s`;
      },
    ),
    tool(
      'announce',
      {
        description: 'Tells every subscriptions/listen stream (and 2025-era GET stream) that the tool list changed; the list stays the same.',
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      (_args, ctx) => {
        ctx.notify.toolsChanged();
        return 'announced';
      },
    ),
  ],
});
