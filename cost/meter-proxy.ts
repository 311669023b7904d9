// A counting reverse proxy on loopback: put it between a client and an emulator (or the modelled
// CloudFront) and it reports every exchange it relays, with the bytes each way. Responses stream
// through as they arrive (an SSE stream is counted while it is open); a request body is buffered
// only when the caller wants to see or rewrite it. Local measurement only, never in a deployment.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
  /** Request line, headers and body, as sent on the wire (HTTP/1.1 framing aside). */
  requestBytes: number;
  /** Status line, headers and body. */
  responseBytes: number;
  /** The request body, when `inspectRequest` or `rewriteRequest` asked for it. */
  requestBody?: Buffer;
  /** The response body, when `keepResponseBody` is set. */
  responseBody?: Buffer;
}

export interface MeterProxyOptions {
  /** Where to relay to, e.g. `http://127.0.0.1:4567`. */
  target: string;
  /** Buffer request bodies and hand them to `record`. */
  inspectRequest?: boolean;
  /** Replace a (buffered) request body before it is relayed; the content length follows. */
  rewriteRequest?: (body: Buffer, req: IncomingMessage) => Buffer;
  /** Keep whole response bodies for `record` (only for short answers: DynamoDB, Redis). */
  keepResponseBody?: boolean;
  /** Called once per exchange, when its response has ended (or broke off). */
  record(exchange: Exchange): void;
}

export interface MeterProxy {
  url: string;
  stop(): Promise<void>;
}

const headerBytes = (headers: IncomingHttpHeaders | Record<string, string | string[] | number | undefined>) =>
  Object.entries(headers).reduce((sum, [name, value]) => {
    const values = Array.isArray(value) ? value : value === undefined ? [] : [String(value)];
    return sum + values.reduce((s, v) => s + name.length + 2 + Buffer.byteLength(v) + 2, 0);
  }, 0);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startMeterProxy(options: MeterProxyOptions): Promise<MeterProxy> {
  const target = new URL(options.target);
  const buffered = Boolean(options.inspectRequest || options.rewriteRequest);
  const server: Server = createServer(async (req, res) => {
    const requestLine = `${req.method} ${req.url} HTTP/1.1\r\n`.length + 2;
    let body: Buffer | undefined;
    const headers = { ...req.headers };
    if (buffered) {
      body = await readBody(req);
      if (options.rewriteRequest) body = options.rewriteRequest(body, req);
      if (headers['content-length'] !== undefined || body.length > 0) headers['content-length'] = String(body.length);
      delete headers['transfer-encoding'];
    }
    let uploaded = 0;
    const exchange: Exchange = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      status: 0,
      requestBytes: 0,
      responseBytes: 0,
      ...(body && { requestBody: body }),
    };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      exchange.requestBytes = requestLine + headerBytes(req.headers) + (body ? body.length : uploaded);
      options.record(exchange);
    };
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      exchange.status = answer.statusCode ?? 0;
      exchange.responseBytes = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`.length + 2 + headerBytes(answer.headers);
      const kept: Buffer[] = [];
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.on('data', (chunk: Buffer) => {
        exchange.responseBytes += chunk.length;
        if (options.keepResponseBody) kept.push(chunk);
        res.write(chunk);
      });
      answer.on('end', () => {
        if (options.keepResponseBody) exchange.responseBody = Buffer.concat(kept);
        res.end();
        finish();
      });
      answer.on('error', () => {
        res.destroy();
        finish();
      });
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
      finish();
    });
    // A client that leaves mid-stream ends the relay, as a viewer leaving CloudFront does.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      finish();
    });
    if (body) upstream.end(body);
    else {
      req.on('data', (chunk: Buffer) => (uploaded += chunk.length));
      req.pipe(upstream);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
