// Load probe: keeps a fixed number of modern `tools/call`s in flight against one URL over
// keep-alive connections (node:http, the cheapest client Node has, so the server gets most of the
// CPU), for as long as the runner asks, and reports how many correct answers came back.
import { Agent, request } from 'node:http';
import { ECHO, assertResult, modernCall } from '../request.ts';
import type { LoadRequest, ProbeMessage } from './protocol.ts';

function post(agent: Agent, url: URL, id: number): Promise<void> {
  const call = modernCall(id);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...call.headers, 'content-length': Buffer.byteLength(call.body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          assertResult(url.href, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), ECHO);
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end(call.body);
  });
}

async function load({ url, seconds, concurrency }: LoadRequest): Promise<ProbeMessage> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const started = performance.now();
  const until = started + seconds * 1000;
  let requests = 0;
  let id = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await post(agent, target, ++id);
      requests++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { kind: 'load', requests, seconds: (performance.now() - started) / 1000 };
}

process.on('message', (message: LoadRequest) => {
  load(message).then(
    (reply) => process.send!(reply),
    (error: unknown) => process.send!({ kind: 'failed', error: String((error as Error).stack ?? error) } satisfies ProbeMessage),
  );
});
process.send!({ kind: 'ready' } satisfies ProbeMessage);
