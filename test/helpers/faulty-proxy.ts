// A real HTTP proxy on loopback in front of a real MCP server, for injecting faults the way they
// happen: stopped (the port refuses connections), slow, 5xx, 429 with Retry-After, a 2025-era
// session forgotten (404). It counts the JSON-RPC methods it was sent, faulted or not.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'none' }
  | { kind: 'slow'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string; times?: number }
  /** The next POST carrying a session id gets 404, as from a server that lost the session. */
  | { kind: 'forget-session' }
  /** JSON answers to `method` pass through `edit` (a server that lists odd things). */
  | { kind: 'rewrite'; method: string; edit(result: Record<string, unknown>): Record<string, unknown> };

export interface FaultyProxy {
  url: string;
  fault: Fault;
  /** Methods of the POSTs received, in order, with the fault they met. */
  readonly seen: { method: string; faulted: boolean }[];
  /** Authorization and x-api-key headers of every request received. */
  readonly credentials: string[];
  count(method: string): number;
  /** Stops listening: new connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function methodOf(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString()) as { method?: string } | { method?: string }[];
    return (Array.isArray(parsed) ? parsed[0]?.method : parsed.method) ?? 'response';
  } catch {
    return '-';
  }
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const upstream = new URL(target);
  let server: Server | undefined;
  let port = 0;
  const proxy: FaultyProxy = {
    url: '',
    fault: { kind: 'none' },
    seen: [],
    credentials: [],
    count: (method) => proxy.seen.filter((s) => s.method === method).length,
    async stop() {
      if (!server) return;
      const closing = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
      // Stopped means refusing: by the time a connection is refused, clients have seen their
      // pooled connections close, as they would have long before calling a server that stopped.
      await new Promise<void>((resolve) =>
        connect(port, '127.0.0.1')
          .once('error', () => resolve())
          .once('connect', function (this: { destroy(): void }) {
            this.destroy();
            resolve();
          }),
      );
    },
    start: () => listen(),
    close: () => proxy.stop(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const method = req.method === 'POST' ? methodOf(body) : req.method!;
    const fault = proxy.fault;
    const faulted =
      (fault.kind === 'status' && req.method === 'POST' && (fault.times === undefined || fault.times > 0)) ||
      (fault.kind === 'forget-session' && req.method === 'POST' && req.headers['mcp-session-id'] !== undefined);
    if (req.method === 'POST') proxy.seen.push({ method, faulted });
    for (const name of ['authorization', 'x-api-key']) if (req.headers[name]) proxy.credentials.push(String(req.headers[name]));
    if (fault.kind === 'status' && faulted) {
      if (fault.times !== undefined) fault.times--;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter && { 'retry-after': fault.retryAfter }) });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `injected ${fault.status}` } }));
      return;
    }
    if (fault.kind === 'forget-session' && faulted) {
      proxy.fault = { kind: 'none' };
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      return;
    }
    if (fault.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && name !== 'host' && name !== 'connection') headers.set(name, String(value));
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    try {
      const answer = await fetch(new URL(req.url!, upstream), {
        method: req.method!,
        headers,
        ...(body.length && { body: new Uint8Array(body) }),
        signal: controller.signal,
      });
      const answered = Object.fromEntries(answer.headers);
      if (fault.kind === 'rewrite' && fault.method === method && answer.headers.get('content-type')?.includes('application/json')) {
        const message = (await answer.json()) as { result?: Record<string, unknown> };
        if (message.result) message.result = fault.edit(message.result);
        const text = JSON.stringify(message);
        res.writeHead(answer.status, { ...answered, 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
        return;
      }
      res.writeHead(answer.status, answered);
      if (answer.body) for await (const chunk of answer.body) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    }
  }

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createServer((req, res) => void handle(req, res));
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        port = (s.address() as AddressInfo).port;
        proxy.url = `http://127.0.0.1:${port}${upstream.pathname}`;
        resolve();
      });
    });
  }

  await listen();
  return proxy;
}
