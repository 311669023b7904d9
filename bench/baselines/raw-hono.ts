// Baseline "raw Hono": no MCP at all, only what any handler must do for this call (route, parse
// the JSON body, serialize the answer) behind the same Lambda streaming adapter. The floor the
// kit and the SDK are measured against; it answers with the same bytes the kit answers.
import { Hono } from 'hono';
import { streamHandle } from 'hono/aws-lambda';

const SERVER_INFO = { name: 'echo', version: '1.0.0' };

interface EchoCall {
  id: string | number;
  params: { arguments: { text: string } };
}

/** The app, for the loopback HTTP rows (bench/suites/throughput.ts). */
export const app = new Hono().post('/mcp', async (c) => {
  const call = await c.req.json<EchoCall>();
  return c.json({
    result: {
      content: [{ type: 'text', text: call.params.arguments.text }],
      resultType: 'complete',
      _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
    },
    jsonrpc: '2.0',
    id: call.id,
  });
});

export const handler = streamHandle(app);
