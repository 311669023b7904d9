// A 2025-era-only MCP server on loopback, built on the SDK 1.x that most deployed servers run:
// sessions over Streamable HTTP, no `server/discover`. Tools: `echo` (read-only), `bump` (counts
// its calls: not safe to repeat), `slow` (reports progress, honours cancellation) and `ask` (asks
// the client with elicitation/create, a field with a default, and says what came back).
// `toolsChanged()` sends tools/list_changed to every session's GET stream.
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export interface LegacyServer {
  url: string;
  /** Calls `bump` has run. */
  readonly bumps: number;
  /** Sessions started with initialize. */
  readonly sessions: number;
  /** Set when a `slow` call saw its cancellation. */
  readonly cancelled: number;
  toolsChanged(): void;
  stop(): Promise<void>;
}

export async function startLegacyServer(name = 'legacy'): Promise<LegacyServer> {
  const transports = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }>();
  const state = { bumps: 0, sessions: 0, cancelled: 0 };

  function build(): McpServer {
    const server = new McpServer({ name, version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    server.registerTool('echo', { description: 'Echoes its text', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    server.registerTool('bump', { description: 'Counts its calls', annotations: { readOnlyHint: false } }, () => ({
      content: [{ type: 'text', text: `bump ${++state.bumps}` }],
    }));
    server.registerTool('slow', { description: 'Reports progress until cancelled', inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
      for (let i = 1; i <= steps; i++) {
        if (extra.signal.aborted) {
          state.cancelled++;
          return { content: [{ type: 'text', text: 'cancelled' }], isError: true };
        }
        const token = extra._meta?.progressToken;
        if (token !== undefined)
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
        await new Promise((r) => setTimeout(r, 20));
      }
      if (extra.signal.aborted) state.cancelled++;
      return { content: [{ type: 'text', text: `done ${steps}` }] };
    });
    server.registerTool('ask', { description: 'Asks the client for a city' }, async (extra) => {
      const answer = await extra.sendRequest(
        {
          method: 'elicitation/create',
          params: { mode: 'form', message: 'Which city?', requestedSchema: { type: 'object', properties: { city: { type: 'string', default: 'Oslo' } } } },
        },
        ElicitResultSchema,
      );
      return { content: [{ type: 'text' as const, text: `${answer.action} ${JSON.stringify(answer.content ?? {})}` }] };
    });
    return server;
  }

  async function fetchHandler(request: Request): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id) {
      const session = transports.get(id);
      if (!session) return Response.json({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }, { status: 404 });
      const response = await session.transport.handleRequest(request);
      if (request.method === 'DELETE') transports.delete(id);
      return response;
    }
    const server = build();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (sessionId) => {
        state.sessions++;
        transports.set(sessionId, { transport, server });
      },
    });
    await server.connect(transport);
    return transport.handleRequest(request);
  }

  const served = await new Promise<{ url: string; close(): Promise<void> }>((resolve) => {
    const http = serve({ fetch: fetchHandler, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      resolve({
        url: `http://127.0.0.1:${info.port}/mcp`,
        close: () =>
          new Promise<void>((done) => {
            http.close(() => done());
            (http as unknown as { closeAllConnections(): void }).closeAllConnections();
          }),
      }),
    );
  });

  return {
    url: served.url,
    get bumps() {
      return state.bumps;
    },
    get sessions() {
      return state.sessions;
    },
    get cancelled() {
      return state.cancelled;
    },
    toolsChanged() {
      for (const { server } of transports.values()) server.sendToolListChanged();
    },
    async stop() {
      for (const { server } of transports.values()) await server.close().catch(() => {});
      await served.close();
    },
  };
}
