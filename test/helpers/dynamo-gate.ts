// A loopback proxy in front of a DynamoDB emulator that holds back the requests a test picks, so a
// race between two writers happens in the order the test says, every time, instead of by luck.
// Everything else passes through untouched.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One DynamoDB call as the proxy sees it: `PutItem`, `GetItem`, … and its JSON body. */
export interface DynamoCall {
  operation: string;
  body: Record<string, any>;
}

export interface DynamoGate {
  endpoint: string;
  /** Holds the next call `matches` picks until `release()`; resolves once such a call has arrived. */
  hold(matches: (call: DynamoCall) => boolean): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startDynamoGate(target: string): Promise<DynamoGate> {
  const holds: { matches(call: DynamoCall): boolean; arrive(): void; released: Promise<void> }[] = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    const call = { operation, body: body.length ? JSON.parse(body.toString()) : {} };
    const held = holds.findIndex((h) => h.matches(call));
    if (held >= 0) {
      const [h] = holds.splice(held, 1);
      h!.arrive();
      await h!.released;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && name !== 'host' && name !== 'connection') headers.set(name, String(value));
    const answer = await fetch(new URL(req.url!, target), { method: req.method!, headers, ...(body.length && { body: new Uint8Array(body) }) });
    // fetch has decoded the body: its length and encoding are no longer the upstream's.
    const { 'content-length': _length, 'content-encoding': _encoding, ...answered } = Object.fromEntries(answer.headers);
    res.writeHead(answer.status, answered);
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold(matches) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holds.push({ matches, arrive, released });
      return { arrived, release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
