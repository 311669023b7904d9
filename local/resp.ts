// Minimal RESP2 client for the local Upstash endpoint: pipelined connections to one redis-server
// and a pool of them. No pub/sub, no RESP3, no reconnect logic; a broken connection is dropped.
import { connect, type Socket } from 'node:net';

/** Redis error reply (`-ERR …`), kept as a value so one failed command does not fail a batch. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

/** Simple strings are `string`, bulk strings stay raw `Buffer`s (values may be binary). */
export type Reply = string | Buffer | number | null | RedisReplyError | Reply[];

const CR = 13;

/** Parses one reply at `at`: `[reply, end]`, or the buffer length needed before it can finish. */
function parseReply(buf: Buffer, at: number): [Reply, number] | number {
  const eol = buf.indexOf(CR, at);
  if (eol < 0 || eol + 1 >= buf.length) return buf.length + 1;
  const next = eol + 2;
  switch (buf[at]) {
    case 0x2b: // +
      return [buf.toString('utf8', at + 1, eol), next];
    case 0x2d: // -
      return [new RedisReplyError(buf.toString('utf8', at + 1, eol)), next];
    case 0x3a: // :
      return [Number(buf.toString('latin1', at + 1, eol)), next];
    case 0x24: {
      // $
      const len = Number(buf.toString('latin1', at + 1, eol));
      if (len < 0) return [null, next];
      const end = next + len;
      return buf.length < end + 2 ? end + 2 : [buf.subarray(next, end), end + 2];
    }
    case 0x2a: {
      // *
      const count = Number(buf.toString('latin1', at + 1, eol));
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const parsed = parseReply(buf, pos);
        if (typeof parsed === 'number') return parsed;
        items.push(parsed[0]);
        pos = parsed[1];
      }
      return [items, pos];
    }
    default:
      throw new Error(`RESP protocol error: unexpected byte 0x${buf[at]?.toString(16)}`);
  }
}

function encodeCommands(commands: readonly (readonly string[])[]): Buffer {
  const parts: Buffer[] = [];
  for (const args of commands) {
    parts.push(Buffer.from(`*${args.length}\r\n`));
    for (const arg of args) {
      const bytes = Buffer.from(arg);
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

interface Pending {
  count: number;
  replies: Reply[];
  resolve(replies: Reply[]): void;
  reject(error: Error): void;
}

/** One loopback socket; batches are written whole and answered in order (pipelining). */
export class RespConnection {
  #pending: Pending[] = [];
  #chunks: Buffer[] = [];
  #size = 0;
  #need = 0;
  #failure: Error | undefined;
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('redis connection closed')));
  }

  static open(port: number): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RespConnection(socket));
      });
    });
  }

  get alive(): boolean {
    return this.#failure === undefined;
  }

  send(commands: readonly (readonly string[])[]): Promise<Reply[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (commands.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#pending.push({ count: commands.length, replies: [], resolve, reject });
      this.#socket.write(encodeCommands(commands));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size < this.#need) return;
    const buf = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#size);
    let pos = 0;
    try {
      for (;;) {
        const parsed = pos < buf.length ? parseReply(buf, pos) : pos + 1;
        if (typeof parsed === 'number') {
          this.#need = parsed - pos;
          break;
        }
        pos = parsed[1];
        this.#deliver(parsed[0]);
      }
    } catch (error) {
      this.#socket.destroy(error as Error);
      return;
    }
    const rest = buf.subarray(pos);
    this.#chunks = rest.length ? [rest] : [];
    this.#size = rest.length;
  }

  #deliver(reply: Reply): void {
    const head = this.#pending[0];
    if (!head) throw new Error('RESP protocol error: reply without a request');
    head.replies.push(reply);
    if (head.replies.length === head.count) {
      this.#pending.shift();
      head.resolve(head.replies);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}

/**
 * Connections to one server, each lent to one batch at a time, so a blocking command
 * (XREAD BLOCK, BLPOP) stalls only its own request.
 */
export class RespPool {
  #idle: RespConnection[] = [];
  #closed = false;
  readonly #port: number;
  readonly #maxIdle: number;

  constructor(port: number, maxIdle = 8) {
    this.#port = port;
    this.#maxIdle = maxIdle;
  }

  async send(commands: readonly (readonly string[])[]): Promise<Reply[]> {
    if (this.#closed) throw new Error('redis pool closed');
    let connection = this.#idle.pop();
    while (connection && !connection.alive) connection = this.#idle.pop();
    connection ??= await RespConnection.open(this.#port);
    try {
      return await connection.send(commands);
    } finally {
      if (connection.alive && !this.#closed && this.#idle.length < this.#maxIdle) this.#idle.push(connection);
      else connection.close();
    }
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.close();
  }
}
