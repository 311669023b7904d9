// The server the cost measurement drives (cost/measure.ts): one tool per request type, each doing
// as little of its own as it can, so a measured unit is what the kit and the AWS path cost around
// a tool, not what a particular tool does. Your tools' own work (their duration, their calls to
// DynamoDB or elsewhere) comes on top.
import { z } from 'zod';
import { defineServer, tool } from '../shared/server/define.ts';

/** About 10 KB of Markdown: what an export or a report might be. */
export const REPORT_BYTES = 10_240;

export default defineServer({
  name: 'cost-workload',
  version: '1.0.0',
  tools: [
    tool(
      'echo',
      { description: 'Returns its text', input: z.object({ text: z.string() }), annotations: { readOnlyHint: true, openWorldHint: false } },
      ({ text }) => text,
    ),
    tool(
      'lookup',
      {
        description: 'A read-only, idempotent lookup whose results are cached for five minutes',
        input: z.object({ key: z.string() }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        cache: { ttlSeconds: 300, scope: 'principal' },
      },
      ({ key }) => `value of ${key}: ${'v'.repeat(200)}`,
    ),
    tool(
      'report',
      { description: 'Stores a 10 KB report as an artifact and returns a link to it', input: z.object({ title: z.string() }) },
      async ({ title }, ctx) => {
        const body = `# ${title}\n\n${'- a line of the report\n'.repeat(REPORT_BYTES / 23)}`.slice(0, REPORT_BYTES);
        const link = await ctx.artifacts.put('report.md', body, { contentType: 'text/markdown' });
        return { content: [{ type: 'text', text: `Report stored at ${link.uri}` }, link] };
      },
    ),
    tool(
      'job',
      {
        description: 'A short job that runs as a task for clients that take tasks',
        task: 'optional',
        input: z.object({ steps: z.number().int().min(1).max(10) }),
      },
      async ({ steps }, ctx) => {
        await ctx.task.start();
        for (let i = 1; i <= steps; i++) await ctx.progress(i, steps, `step ${i} of ${steps}`);
        return `done in ${steps} steps`;
      },
    ),
  ],
});
