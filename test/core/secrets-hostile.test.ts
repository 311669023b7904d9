// The signed GetSecretValue (shared/adapters/secrets.ts) against a Secrets Manager endpoint that
// answers what AWS never would (a mis-configured AWS_ENDPOINT_URL, a proxy, a hostile host): the
// start must fail in bounded time and memory, naming the secret, and with no secret value in the
// error; a secret that is JSON but not an object is refused as one that is not JSON.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { resolveSecrets } from '../../shared/adapters/secrets.ts';

const DATA = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:data-AbCdEf';
const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'] as const;
const SECRET_VALUE = 'do-not-log-me-0123456789';

/** What the endpoint writes to each request's socket (raw HTTP/1.1), and how many requests came. */
type Script = (socket: import('node:net').Socket) => void;

async function rawEndpoint(): Promise<{
  server: Server;
  url: string;
  counted: { requests: number };
  answer: { with: Script };
  sockets: Set<import('node:net').Socket>;
  /** Each request's path, as it came. */
  paths: string[];
}> {
  const counted = { requests: 0 };
  const paths: string[] = [];
  const answer: { with: Script } = { with: (s) => s.end() };
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      // The request's body is small and follows its head at once; answer once both are in.
      const end = head.indexOf('\r\n\r\n');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (end < 0 || head.length < end + 4 + length) return;
      const request = head;
      head = '';
      counted.requests++;
      paths.push(/^POST (\S+) HTTP/.exec(request)?.[1] ?? request.slice(0, 40));
      answer.with(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, counted, answer, sockets, paths, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const http = (status: string, body: string, headers = 'content-type: application/x-amz-json-1.1\r\n') =>
  `HTTP/1.1 ${status}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** resolveSecrets' outcome, or 'still pending' past `deadlineMs` (three tries of 5 s each would end by 15 s). */
async function settled(work: Promise<unknown>, deadlineMs: number): Promise<{ value?: unknown; error?: Error } | 'still pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'still pending'>((resolve) => (timer = setTimeout(() => resolve('still pending'), deadlineMs)));
  try {
    return await Promise.race([
      work.then(
        (value) => ({ value }),
        (error: Error) => ({ error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('MCP_SECRETS_ARN against an endpoint that is not Secrets Manager', () => {
  let endpoint: Awaited<ReturnType<typeof rawEndpoint>>;
  const saved = Object.fromEntries(CREDENTIAL_VARIABLES.map((name) => [name, process.env[name]]));
  const env = () => ({ MCP_SECRETS_ARN: DATA, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url });

  before(async () => {
    endpoint = await rawEndpoint();
    for (const name of CREDENTIAL_VARIABLES) delete process.env[name];
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDLAMBDA', AWS_SECRET_ACCESS_KEY: 'lambda-secret-key' });
  });
  afterEach(() => {
    endpoint.counted.requests = 0;
    // Each case on connections of its own: a kept connection would carry one case's leftovers into the next.
    for (const socket of endpoint.sockets) socket.destroy();
  });
  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await new Promise((r) => endpoint.server.close(r));
  });

  it('the control: a well-formed answer is read', async () => {
    endpoint.answer.with = (s) => s.write(http('200 OK', JSON.stringify({ SecretString: JSON.stringify({ MCP_REQUEST_STATE_KEY: SECRET_VALUE }) })));
    assert.equal((await resolveSecrets(env())).MCP_REQUEST_STATE_KEY, SECRET_VALUE);
  });

  it("posts to the endpoint's path as the SDK's client does, a slash added (a proxy's /prefix: /prefix/)", async () => {
    endpoint.answer.with = (s) => s.write(http('200 OK', JSON.stringify({ SecretString: '{}' })));
    for (const [path, expected] of [
      ['', '/'],
      ['/prefix', '/prefix/'],
      ['/prefix/', '/prefix/'],
      ['/a b/x', '/a%20b/x/'],
    ]) {
      await resolveSecrets({ ...env(), AWS_ENDPOINT_URL_SECRETS_MANAGER: `${endpoint.url}${path}` });
      assert.equal(endpoint.paths.at(-1), expected, JSON.stringify(path));
    }
  });

  it('a 101 answer fails the start in bounded time, naming the secret', async () => {
    endpoint.answer.with = (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    const outcome = await settled(resolveSecrets(env()), 20_000);
    assert.notEqual(outcome, 'still pending', 'the start never ended');
    assert.match(String((outcome as { error?: Error }).error?.message), /MCP_SECRETS_ARN: could not read secret .*data-AbCdEf .*101/);
  });

  it('an answer larger than any secret is cut off, not buffered whole, and not tried again', async () => {
    // 64 MB announced, sent as fast as the socket takes it: an endpoint that never stops.
    endpoint.answer.with = (s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 67108864\r\n\r\n{"SecretString":"');
      const chunk = Buffer.alloc(1 << 16, 'a');
      const pump = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    };
    const outcome = await settled(resolveSecrets(env()), 20_000);
    assert.notEqual(outcome, 'still pending');
    assert.match(String((outcome as { error?: Error }).error?.message), /could not read secret .*data-AbCdEf .*larger than/);
    assert.equal(endpoint.counted.requests, 1);
  });

  it('a 200 answer that is not JSON fails naming the secret, with none of the answer in the message', async () => {
    endpoint.answer.with = (s) => s.write(http('200 OK', `{"SecretString":"{\\"MCP_REQUEST_STATE_KEY\\":\\"${SECRET_VALUE}\\"}"`));
    const outcome = await settled(resolveSecrets(env()), 20_000);
    const message = String((outcome as { error?: Error }).error?.message);
    assert.match(message, /MCP_SECRETS_ARN: could not read secret .*data-AbCdEf .*not JSON/);
    assert.doesNotMatch(message, new RegExp(SECRET_VALUE));
  });

  it('a secret that is JSON but not an object (a string, an array, null, a number) is refused as not a JSON object', async () => {
    for (const value of [JSON.stringify(SECRET_VALUE), '["a","b"]', 'null', '42']) {
      endpoint.answer.with = (s) => s.write(http('200 OK', JSON.stringify({ SecretString: value })));
      await assert.rejects(resolveSecrets(env()), (err: Error) => {
        assert.match(err.message, /MCP_SECRETS_ARN: secret .*data-AbCdEf is not a JSON object/, value);
        assert.doesNotMatch(err.message, new RegExp(SECRET_VALUE));
        return true;
      });
    }
  });
});
