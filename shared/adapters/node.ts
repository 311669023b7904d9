// The Node adapter: serves a kit app over HTTP with @hono/node-server. Nothing else in the kit
// knows it runs on Node's http module.
import { createAdaptorServer } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';

export interface Served {
  url: string;
  close(): Promise<void>;
  /**
   * Stops accepting connections, waits at most `maxMs` for the requests in flight to be answered
   * whole, then closes what is left; resolves to how many were cut.
   */
  drain(maxMs: number): Promise<number>;
}

export interface ServeOptions {
  port: number;
  host: string;
  /** Share the port with the process this one replaces (SO_REUSEPORT, Linux; Node ≥ 22.12), as `npm run dev` does. */
  reusePort?: boolean;
}

export function serveApp(app: Hono, options: ServeOptions): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = createAdaptorServer({ fetch: app.fetch });
    const inFlight = new Set<object>();
    server.on('request', (_req, res) => {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
    });
    server.listen({ port: options.port, host: options.host, reusePort: options.reusePort ?? false }, () => {
      const info = server.address() as AddressInfo;
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Open SSE streams would hold close() forever.
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
        drain: async (maxMs) => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          const deadline = Date.now() + maxMs;
          while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
          const cut = inFlight.size;
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          await closed;
          return cut;
        },
      });
    });
    server.once('error', reject);
  });
}
