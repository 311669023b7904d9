// Example server "echo": the smallest useful server, deployed beside "notes" on the same data plane.
import { z } from 'zod';
import { defineServer, tool } from '../../shared/server/define.ts';

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
  ],
});
