// The gateway's upstream transport on Node (shared/client/transport.ts): a raw call as one
// node:http(s) request over a keep-alive agent per scheme, the answer's body streamed as it arrives
// (the client reads it within its limit), no web Request or Response built. Hosts on Node inject it
// (functions/gateway/server.ts); everything else about a call (headers, errors, limits) stays in
// the client, whichever transport carries it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TransportResponse, UpstreamTransport } from '../client/transport.ts';

export interface NodeTransportOptions {
  /** Connections kept open per upstream host. @default Infinity */
  maxSockets?: number;
  /** TLS settings for https upstreams (a private CA, say). @default - Node's trusted CAs */
  tls?: Pick<AgentOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized'>;
  /** How long a new connection may take to open, as `fetch` allows (undici's 10 s); the call's own time limit bounds the rest. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * How long an idle connection is kept, as undici's keepAliveTimeout, or less when the server's
   * Keep-Alive header says so: one kept much longer may have been closed by the server (or while a
   * Lambda environment was frozen) by the time a call is written to it. A call in progress is not
   * cut by it. @default 4000
   */
  idleMs?: number;
}

export interface NodeTransport {
  send: UpstreamTransport;
  /** Ends the kept connections. */
  close(): void;
}

function answerOf(response: IncomingMessage): TransportResponse {
  // Whoever reads the body sees its errors; this keeps one nobody reads yet (an abort racing the read) from being uncaught.
  response.on('error', () => {});
  return {
    status: response.statusCode ?? 0,
    statusText: response.statusMessage ?? '',
    header(name) {
      const value = response.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    stream: () => response,
    cancel: () => void response.destroy(),
  };
}

/** Where a request goes, as node:http takes it without parsing a URL (an IPv6 host without its brackets). */
function targetOf(url: URL, secure: boolean) {
  const host = url.hostname;
  return {
    hostname: host.startsWith('[') ? host.slice(1, -1) : host,
    port: url.port || (secure ? 443 : 80),
    path: url.pathname + url.search,
  };
}

/**
 * The request's headers as node:http's flat list, with Host and Content-Length: the list form is
 * sent as it is (each name and value still checked), without a header map built and read back.
 */
function headerList(url: URL, headers: Record<string, string>, body: string): string[] {
  const list = ['host', url.host, 'content-length', String(Buffer.byteLength(body))];
  for (const name in headers) if (name !== 'host' && name !== 'content-length') list.push(name, headers[name]!);
  return list;
}

/** A connection that did not open in time: coded as one that never carried the request (errors.ts CONNECT_FAILURES). */
const connectTimedOut = (url: URL, ms: number) =>
  Object.assign(new Error(`connect to ${url.host} timed out after ${ms} ms`), { code: 'UPSTREAM_CONNECT_TIMEOUT' });

export function nodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  // An agent's `timeout` ends only the sockets in its free list; Node lowers it to the server's Keep-Alive hint.
  const shared = { keepAlive: true, timeout: options.idleMs ?? 4_000, ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }) };
  const http = new HttpAgent(shared);
  const https = new HttpsAgent({ ...shared, ...options.tls });
  const send: UpstreamTransport = ({ url, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const request = (secure ? httpsRequest : httpRequest)(
        { ...targetOf(url, secure), method: 'POST', headers: headerList(url, headers, body), agent: secure ? https : http, signal },
        (response) => resolve(answerOf(response)),
      );
      // Before the answer: the call fails with it (refused, reset, aborted). After: the body's reader sees it.
      request.on('error', reject);
      // A 101 to a POST that asked for no upgrade: without this listener Node drops the socket and the
      // request settles never, not even on abort. The connection is not kept; the call fails as fetch's does
      // (undici's UND_ERR_SOCKET, read as ECONNRESET: errors.ts).
      request.on('upgrade', (response: IncomingMessage, socket: Socket) => {
        socket.destroy();
        reject(Object.assign(new Error(`the upstream answered HTTP ${response.statusCode} (switching protocols) to a plain POST`), { code: 'ECONNRESET' }));
      });
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => request.destroy(connectTimedOut(url, connectTimeoutMs)), connectTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      request.end(body);
    });
  return {
    send,
    close() {
      http.destroy();
      https.destroy();
    },
  };
}
