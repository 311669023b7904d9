// Upstream answers no well-behaved MCP server gives, through both raw-call transports (fetch and
// node:http, shared/client/transport.ts and shared/adapters/upstream-http.ts): each call must end
// within its time limit, fail as an unavailable upstream, and leave the next call its own answer.
// A real kit server answers discovery; a front server answers chosen tools/call by writing raw bytes.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import { nodeTransport, type NodeTransport } from '../../shared/adapters/upstream-http.ts';
import { ResilientClient } from '../../shared/client/resilient-client.ts';
import { fetchTransport, type UpstreamTransport } from '../../shared/client/transport.ts';
import { startInProcess } from '../helpers/server.ts';

const ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  MCP_REQUEST_STATE_KEY: 'transport-hostile-request-state-key-0123456789',
};

/** Raw bytes written to the socket of a tools/call of each name (the socket is then left alone). */
const RAW: Record<string, string> = {
  // A protocol switch nobody asked for, then (as a confused proxy might) an ordinary answer.
  switch101: 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
};

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

async function startFront(kitUrl: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const message = body ? (JSON.parse(body) as { method?: string; params?: { name?: string } }) : {};
    const raw = message.method === 'tools/call' && RAW[message.params?.name ?? ''];
    if (raw) return void req.socket.write(raw);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
    const answer = await fetch(kitUrl, { method: req.method!, headers, ...(body && { body }) });
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server };
}

/** The call's outcome, or 'still pending' if it outlived `deadlineMs` (its own limit is far shorter). */
async function settled(work: Promise<unknown>, deadlineMs: number): Promise<{ value?: unknown; error?: Error & Record<string, unknown> } | 'still pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'still pending'>((resolve) => (timer = setTimeout(() => resolve('still pending'), deadlineMs)));
  try {
    return await Promise.race([
      work.then(
        (value) => ({ value }),
        (error: Error & Record<string, unknown>) => ({ error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('raw calls against a hostile upstream end, whatever carries them', () => {
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  let front: Awaited<ReturnType<typeof startFront>>;
  let node: NodeTransport;
  const clients: ResilientClient[] = [];
  const client = (transport: UpstreamTransport) => {
    const c = new ResilientClient({ name: 'up', url: front.url, protocol: 'modern', retry: { attempts: 1 }, breaker: { failureThreshold: 1_000 }, transport });
    clients.push(c);
    return c;
  };

  before(async () => {
    kit = await startInProcess(echo, ENV);
    front = await startFront(kit.url);
    node = nodeTransport();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    node.close();
    front.server.closeAllConnections();
    await new Promise((resolve) => front.server.close(resolve));
    await kit.stop();
  });

  it('a 101 answer to the POST fails the call as a reset, alike over fetch and node:http, and the next call is answered', async () => {
    for (const [name, transport] of [
      ['fetch', fetchTransport()],
      ['node:http', node.send],
    ] as const) {
      const c = client(transport);
      const outcome = await settled(c.callTool({ name: 'switch101', arguments: {} }, { timeoutMs: 1_000 }), 5_000);
      assert.notEqual(outcome, 'still pending', `${name}: the call outlived its 1 s limit by 4 s`);
      const { error } = outcome as { error?: Error & Record<string, unknown> };
      assert.equal(error?.name, 'UpstreamUnavailableError', `${name}: ${error?.message}`);
      assert.match(error!.message, /unavailable: ECONNRESET/, name);
      const next = await c.callTool({ name: 'echo', arguments: { text: `after ${name}` } }, { timeoutMs: 5_000 });
      assert.match(JSON.stringify(next), new RegExp(`after ${name}`));
    }
  });

  it("a transport that never settles, nor heeds the abort, still ends at the call's time limit (control: a prompt one answers)", async () => {
    const stuck: UpstreamTransport = () => new Promise(() => {});
    const outcome = await settled(client(stuck).callTool({ name: 'echo', arguments: { text: 'x' } }, { timeoutMs: 300 }), 5_000);
    assert.notEqual(outcome, 'still pending', 'the time limit did not bound the send');
    assert.equal((outcome as { error?: Error }).error?.name, 'UpstreamTimeoutError');
    const answered = await settled(client(node.send).callTool({ name: 'echo', arguments: { text: 'prompt' } }, { timeoutMs: 5_000 }), 5_000);
    assert.match(JSON.stringify(answered), /prompt/);
  });
});
