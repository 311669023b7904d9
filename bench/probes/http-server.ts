// HTTP server probe: serves one of the compared apps on loopback with @hono/node-server, as
// `npm start` serves the kit, and reports its URL. argv: `kit`, `sdk` or `hono`. The kit is the
// echo server with the benchmark's environment (no Redis, logs at INFO to the ignored stdout).
// Only the chosen app is loaded; the baselines also export Lambda handlers, so the runtime's
// streaming global is installed first.
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import { installLambdaRuntime } from '../in-process-lambda.ts';
import type { ProbeMessage } from './protocol.ts';

const apps: Record<string, () => Promise<Hono>> = {
  kit: async () => {
    const [{ default: echo }, { loadConfig }, { createKit }] = await Promise.all([
      import('../../functions/echo/server.ts'),
      import('../../shared/config.ts'),
      import('../../shared/kit.ts'),
    ]);
    return createKit(echo, loadConfig(process.env)).app;
  },
  sdk: async () => (await import('../baselines/sdk-minimal.ts')).app,
  hono: async () => (await import('../baselines/raw-hono.ts')).app,
};

const target = process.argv[2] ?? '';
if (!apps[target]) throw new Error(`http-server probe: unknown target ${target}`);
installLambdaRuntime();
const app = await apps[target]();
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  process.send!({ kind: 'listening', url: `http://127.0.0.1:${info.port}/mcp` } satisfies ProbeMessage);
});
