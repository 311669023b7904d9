// The long-lived server process the stream measurement (cost/container-streams.ts) holds streams
// on: one server definition's kit app served by the Node adapter on PORT, many requests at once,
// as a container serves it. Stands in for the container bundle; answers an IPC 'memory' with its heap.
// Usage: node --expose-gc --import tsx cost/stream-server.ts [path/to/server.ts [streams per instance]]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveApp } from '../shared/adapters/node.ts';
import { loadConfig } from '../shared/config.ts';
import { createKit } from '../shared/kit.ts';
import { resolveDefinition, type ServerModule } from '../shared/server/define.ts';

const entry = process.argv[2] ?? 'functions/notes/server.ts';
const module = (await import(pathToFileURL(resolve(entry)).href)) as { default: ServerModule };
const definition = await resolveDefinition(module.default, process.env);
// The per-process stream limit is MCP_CONTAINER_STREAMS, as in a container.
if (process.argv[3]) process.env.MCP_CONTAINER_STREAMS = process.argv[3];
const kit = createKit(definition, loadConfig(process.env));
const served = await serveApp(kit.app, { port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' });
console.log(`serving at ${served.url}`);

process.on('message', (message) => {
  if (message !== 'memory') return;
  (globalThis as { gc?: () => void }).gc?.();
  process.send!({ memory: process.memoryUsage() });
});
process.once('SIGTERM', () => {
  void served
    .close()
    .then(() => kit.close())
    .then(() => process.exit(0));
});
