// HTTP handler speaking the Upstash Redis REST protocol, as @upstash/redis and @upstash/ratelimit
// use it, over a RESP connection pool. Local only: one token, POST JSON bodies, no pub/sub (SSE).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { RedisReplyError, type Reply, type RespPool } from './resp.ts';
import { ScriptDialect } from './upstash-scripts.ts';

/** Commands that would change or hijack a pooled connection's state; REST has no connection. */
const CONNECTION_COMMANDS = new Set([
  'auth',
  'hello',
  'select',
  'reset',
  'quit',
  'monitor',
  'multi',
  'exec',
  'discard',
  'watch',
  'unwatch',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'unsubscribe',
  'punsubscribe',
  'sunsubscribe',
]);

class BadRequest extends Error {}

type Json = string | number | null | Json[];

/**
 * With `Upstash-Encoding: base64` every string in a result is base64 of its bytes, at any depth,
 * except the status reply `OK`, which the client expects verbatim.
 */
function toJson(reply: Reply, base64: boolean): Json {
  if (Buffer.isBuffer(reply)) return reply.toString(base64 ? 'base64' : 'utf8');
  if (reply instanceof RedisReplyError) return toJson(reply.message, base64);
  if (typeof reply === 'string') return base64 && reply !== 'OK' ? Buffer.from(reply).toString('base64') : reply;
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64));
  return reply;
}

function parseCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest('ERR command must be a non-empty JSON array');
  const args = value.map((arg) => {
    if (typeof arg === 'string') return arg;
    if (typeof arg === 'number' || typeof arg === 'boolean') return String(arg);
    throw new BadRequest('ERR command arguments must be strings, numbers or booleans');
  });
  const name = args[0]!.toLowerCase();
  if (CONNECTION_COMMANDS.has(name)) {
    throw new BadRequest(`ERR '${name}' is not supported over REST${name === 'multi' || name === 'exec' ? '; use /multi-exec' : ''}`);
  }
  return args;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('ERR request body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const outcome = (reply: Reply, base64: boolean) => (reply instanceof RedisReplyError ? { error: reply.message } : { result: toJson(reply, base64) });

export interface UpstashRestOptions {
  /** Bearer token every request must carry. */
  token: string;
  redis: Pick<RespPool, 'send'>;
}

/**
 * Routes: `POST /` one command → `{result}` (or 400 `{error}`); `POST /pipeline` commands →
 * `[{result}|{error}]`; `POST /multi-exec` the same inside MULTI/EXEC (400 if Redis discards it).
 */
export function createUpstashRestHandler({ token, redis }: UpstashRestOptions): RequestListener {
  const expected = Buffer.from(`Bearer ${token}`);
  const scripts = new ScriptDialect();

  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  /**
   * Sends the commands (wrapped in MULTI/EXEC for a transaction) and answers SCRIPT LOAD with the
   * SHA the client computed. A transaction Redis discards is a 400 naming the first bad command.
   */
  async function run(commands: string[][], transaction = false): Promise<Reply[]> {
    const prepared = commands.map((args) => scripts.prepare(args));
    const sent = prepared.map((p) => p.args);
    let replies = await redis.send(transaction ? [['MULTI'], ...sent, ['EXEC']] : sent);
    if (transaction) {
      const exec = replies.at(-1);
      if (!Array.isArray(exec)) {
        const first = replies.find((r) => r instanceof RedisReplyError) ?? exec;
        throw new BadRequest(first instanceof RedisReplyError ? first.message : 'ERR transaction aborted');
      }
      replies = exec;
    }
    return replies.map((reply, i) => {
      const sha = prepared[i]?.sha;
      return sha && !(reply instanceof RedisReplyError) ? sha : reply;
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) return send(res, 401, { error: 'Unauthorized' });
    if (req.method !== 'POST') return send(res, 405, { error: 'ERR only POST with a JSON body is supported' });
    const path = new URL(req.url ?? '/', 'http://local').pathname.replace(/\/+$/, '');
    const base64 = String(req.headers['upstash-encoding']).toLowerCase() === 'base64';
    if (path !== '' && path !== '/pipeline' && path !== '/multi-exec') {
      return send(res, 404, { error: `ERR ${path} is not served locally: only /, /pipeline and /multi-exec (no SUBSCRIBE)` });
    }
    const body = await readJson(req);
    if (path === '') {
      const [reply] = await run([parseCommand(body)]);
      const single = outcome(reply!, base64);
      return send(res, 'error' in single ? 400 : 200, single);
    }
    if (!Array.isArray(body) || body.length === 0) throw new BadRequest('ERR body must be a non-empty array of commands');
    const replies = await run(body.map(parseCommand), path === '/multi-exec');
    return send(
      res,
      200,
      replies.map((r) => outcome(r, base64)),
    );
  }

  return (req, res) => {
    handle(req, res).catch((error: Error) => {
      if (error instanceof BadRequest) send(res, 400, { error: error.message });
      else send(res, 502, { error: `ERR local redis-server unavailable: ${error.message}` });
    });
  };
}
