// The SDK minimal handler both SDK baselines run (sdk-minimal.ts, sdk-minimal-root-zod.ts): the SDK
// v2's documented stateless endpoint, a fresh McpServer per request through createMcpHandler, with
// the kit's `echo` tool, behind the same Lambda streaming adapter as the kit. `legacy: 'reject'` is
// how the kit configures its own modern leg, so the SDK code a modern call runs is the same in both.
// The baselines differ only in how they import zod, so each passes its own input schema.
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { Hono } from 'hono';
import { streamHandle } from 'hono/aws-lambda';
import type * as z from 'zod/v4';

export function sdkMinimal(inputSchema: z.ZodObject<{ text: z.ZodString }>) {
  const createServer = () => {
    const server = new McpServer({ name: 'echo', version: '1.0.0' });
    server.registerTool(
      'echo',
      {
        description: 'Returns its text argument unchanged.',
        inputSchema,
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    return server;
  };
  const mcp = createMcpHandler(createServer, { legacy: 'reject' });
  /** The app, for the loopback HTTP rows (bench/suites/throughput.ts). */
  const app = new Hono().all('/mcp', (c) => mcp.fetch(c.req.raw));
  return { app, handler: streamHandle(app) };
}
