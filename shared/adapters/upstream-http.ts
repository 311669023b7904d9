// The gateway's upstream transport on Node (shared/client/transport.ts): a raw call as one
// node:http(s) request over a keep-alive agent per scheme, the answer's body read as a string or
// streamed as it arrives, no web Request or Response built. Hosts on Node inject it
// (functions/gateway/server.ts); everything else about a call (headers, errors, limits) stays in
// the client, whichever transport carries it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import type { UpstreamResponse, UpstreamTransport } from '../client/transport.ts';

export interface NodeTransportOptions {
  /** Connections kept open per upstream host. @default Infinity */
  maxSockets?: number;
  /** TLS settings for https upstreams (a private CA, say). @default - Node's trusted CAs */
  tls?: Pick<AgentOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized'>;
  /** How long a new connection may take to open, as `fetch` allows (undici's 10 s); the call's own time limit bounds the rest. @default 10000 */
  connectTimeoutMs?: number;
}

export interface NodeTransport {
  send: UpstreamTransport;
  /** Ends the kept connections. */
  close(): void;
}

/** The answer's body as one string. An answer cut short (the call aborted, the connection reset) rejects. */
function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('end', () => resolve(text));
    response.on('error', reject);
    // Closed without an end and without an error: the server went away mid-body.
    response.on('close', () => !response.complete && reject(Object.assign(new Error('the upstream closed the connection mid-answer'), { code: 'ECONNRESET' })));
  });
}

function answerOf(response: IncomingMessage): UpstreamResponse {
  // Whoever reads the body sees its errors; this keeps one nobody reads yet (an abort racing the read) from being uncaught.
  response.on('error', () => {});
  return {
    status: response.statusCode ?? 0,
    statusText: response.statusMessage ?? '',
    header(name) {
      const value = response.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    text: () => readText(response),
    stream: () => response,
    cancel: () => void response.destroy(),
  };
}

/** A connection that did not open in time: coded as one that never carried the request (errors.ts CONNECT_FAILURES). */
const connectTimedOut = (url: URL, ms: number) =>
  Object.assign(new Error(`connect to ${url.host} timed out after ${ms} ms`), { code: 'UPSTREAM_CONNECT_TIMEOUT' });

export function nodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const shared = { keepAlive: true, ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }) };
  const http = new HttpAgent(shared);
  const https = new HttpsAgent({ ...shared, ...options.tls });
  const send: UpstreamTransport = ({ url, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent: secure ? https : http, signal },
        (response) => resolve(answerOf(response)),
      );
      // Before the answer: the call fails with it (refused, reset, aborted). After: the body's reader sees it.
      request.on('error', reject);
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
