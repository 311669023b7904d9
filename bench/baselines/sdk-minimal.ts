// Baseline "SDK minimal handler": the SDK v2's documented stateless endpoint, a fresh McpServer per
// request through createMcpHandler, with the kit's `echo` tool, behind the same Lambda streaming
// adapter as the kit. `legacy: 'reject'` is how the kit configures its own modern leg, so the two
// run the same SDK code for a modern call and the difference is what the kit adds around it.
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { Hono } from 'hono';
import { streamHandle } from 'hono/aws-lambda';
import { z } from 'zod';

function createServer() {
  const server = new McpServer({ name: 'echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns its text argument unchanged.',
      inputSchema: z.object({ text: z.string() }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

const mcp = createMcpHandler(createServer, { legacy: 'reject' });

/** The app, for the loopback HTTP rows (bench/suites/throughput.ts). */
export const app = new Hono().all('/mcp', (c) => mcp.fetch(c.req.raw));
export const handler = streamHandle(app);
