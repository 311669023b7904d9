// One execution environment's Runtime API, as the Lambda service serves it to the managed Node.js
// runtime: the runtime asks for the next event, posts an init error, or posts an invocation's
// response (buffered, or streamed with its HTTP prelude and error trailers) or error. What the
// environment does with each is its own (execution-environment.ts, through the handlers passed in).
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { InvocationType } from './report.ts';

const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

/** A streamed response as the function wrote it: the HTTP prelude and the body after it. */
export interface StreamedResponse {
  kind: 'stream';
  prelude: { statusCode?: number; headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]>; cookies?: string[] };
  /** Ends when the function ends its stream (`end()`), which may be before the invocation ends. */
  body: Readable;
  /** Resolves when the invocation ends: undefined when it succeeded, else the error that ended it. */
  ended: Promise<FunctionError | undefined>;
}

/** What Lambda answers instead of a response: the function failed, timed out, or was throttled. */
export interface FunctionError {
  kind: 'error';
  errorType: string;
  errorMessage: string;
  /** Status the Invoke API answers with (200 for function errors, 429 throttled, 413 payload too large). */
  invokeStatus: number;
}

export type InvokeResult = StreamedResponse | FunctionError | { kind: 'buffered'; payload: unknown };

export interface Invocation {
  id: string;
  type: InvocationType;
  event: string;
  started: number;
  deadline: number;
  /** `Lambda-Runtime-Trace-Id` (the function's `_X_AMZN_TRACE_ID`) when the invocation is traced. @default - a Root only */
  traceHeader?: string;
  /** Called once the invocation is over, however it ended (the traced segments end here). */
  onEnd?: () => void;
  settle(result: InvokeResult): void;
  /** Set once the response body began. */
  body?: PassThrough;
  /** Ends the client's body: at the function's `end()`, or with the error that cut it. */
  endBody?: (error: FunctionError | undefined) => void;
  /** The error the function reported (instead of a response, or in trailers after its stream): the invocation failed. */
  failure?: FunctionError;
  /** Settles `ended` when the invocation is over. */
  endInvocation?: (error: FunctionError | undefined) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export interface RuntimeApiHandlers {
  /** The runtime asks for work (its previous invocation, if any, is over); answer with `deliver`. */
  next(res: ServerResponse): void;
  /** The runtime reported that its init failed. */
  initError(error: FunctionError): void;
  /** The invocation in flight: the only one whose response or error the runtime may post. */
  current(): Invocation | undefined;
  /** The environment's log (its prefix added). */
  log(line: string): void;
}

export class RuntimeApi {
  private readonly server: Server;

  constructor(private readonly handlers: RuntimeApiHandlers) {
    this.server = createServer((req, res) => this.route(req, res));
  }

  /** Starts serving on loopback; resolves to the `AWS_LAMBDA_RUNTIME_API` address. */
  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close() {
    this.server.closeAllConnections();
    this.server.close();
  }

  /** Answers the runtime's pending /next with an event. */
  static deliver(res: ServerResponse, invocation: Invocation, functionName: string) {
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': invocation.id,
      'lambda-runtime-deadline-ms': String(invocation.deadline),
      'lambda-runtime-invoked-function-arn': `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
      'lambda-runtime-trace-id':
        invocation.traceHeader ?? `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${invocation.id.replace(/-/g, '').slice(0, 24)}`,
    });
    res.end(invocation.event);
  }

  private route(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '';
    if (req.method === 'GET' && path.endsWith('/runtime/invocation/next')) return this.handlers.next(res);
    if (req.method === 'POST' && path.endsWith('/runtime/init/error')) {
      return readAll(req).then((body) => {
        res.writeHead(202).end();
        this.handlers.initError(parseError(body, 'Runtime.InitError'));
      });
    }
    const match = /\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    const invocation = this.handlers.current();
    if (req.method === 'POST' && match && invocation && match[1] === invocation.id) {
      return match[2] === 'response' ? this.response(req, res, invocation) : this.error(req, res, invocation);
    }
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errorMessage: `unexpected ${req.method} ${path}` }));
  }

  private response(req: IncomingMessage, res: ServerResponse, invocation: Invocation) {
    const type = req.headers['content-type'] ?? '';
    if (req.headers['lambda-runtime-function-response-mode'] !== 'streaming') {
      return readAll(req).then((body) => {
        res.writeHead(202).end();
        invocation.settle({ kind: 'buffered', payload: body ? JSON.parse(body) : null });
      });
    }
    // A consumer hears a failure through `ended`; one that has stopped listening (an asynchronous
    // invoke, a cut client) must not turn the destroyed body into an uncaught error.
    const body = new PassThrough().on('error', () => {});
    invocation.body = body;
    const ended = new Promise<FunctionError | undefined>((resolve) => (invocation.endInvocation = resolve));
    invocation.endBody = (error) => {
      invocation.endBody = undefined;
      if (error) body.destroy(new Error(`${error.errorType}: ${error.errorMessage}`));
      else body.end();
    };
    if (!type.startsWith(HTTP_INTEGRATION)) {
      // A stream without the HTTP prelude: API Gateway relays it as a 200 of that type.
      invocation.settle({ kind: 'stream', prelude: { statusCode: 200, headers: { 'content-type': String(type) } }, body, ended });
      req.pipe(body, { end: false });
    } else {
      readPrelude(req, body).then(
        (prelude) => {
          if (!prelude)
            this.handlers.log(
              `${invocation.id} the stream ended with no write(): no prelude went out, so the client gets 200 without the handler's status and headers (the Node.js runtime writes the prelude at the first write())`,
            );
          invocation.settle({ kind: 'stream', prelude: prelude ?? {}, body, ended });
        },
        (error: Error) => {
          this.handlers.log(`${invocation.id} ${error.message}`);
          // Lambda answered the invoke; API Gateway cannot read what it answered (a malformed proxy response, 502).
          invocation.settle({ kind: 'error', errorType: 'Runtime.MalformedResponse', errorMessage: error.message, invokeStatus: 200 });
        },
      );
    }
    // The client's response ends when the function ends its stream, though the invocation (and
    // the environment) may go on working until the handler returns.
    req.on('end', () => {
      res.writeHead(202).end();
      const errorType = req.trailers['lambda-runtime-function-error-type'];
      const detail = errorType && parseError(Buffer.from(req.trailers['lambda-runtime-function-error-body'] ?? '', 'base64').toString('utf8'), errorType);
      if (detail) invocation.failure = { ...detail, errorType: errorType! };
      invocation.endBody?.(invocation.failure);
    });
  }

  private error(req: IncomingMessage, res: ServerResponse, invocation: Invocation) {
    return readAll(req).then((body) => {
      res.writeHead(202).end();
      invocation.failure = parseError(body, String(req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.UnhandledError'));
      invocation.settle(invocation.failure);
    });
  }
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function parseError(body: string, errorType: string): FunctionError {
  try {
    const parsed = JSON.parse(body) as { errorType?: string; errorMessage?: string };
    return { kind: 'error', errorType: parsed.errorType ?? errorType, errorMessage: parsed.errorMessage ?? body, invokeStatus: 200 };
  } catch {
    return { kind: 'error', errorType, errorMessage: body, invokeStatus: 200 };
  }
}

/**
 * Reads the JSON prelude up to the eight NUL bytes, then passes the rest of the stream on.
 * Undefined for a stream that ended empty (no write(), so no prelude); a body without the
 * delimiter (`end(chunk)` alone) is malformed.
 */
function readPrelude(req: IncomingMessage, body: PassThrough): Promise<StreamedResponse['prelude'] | undefined> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(Buffer.alloc(8));
      if (at < 0) return;
      req.off('data', onData);
      req.off('end', onEnd);
      try {
        resolve(JSON.parse(head.subarray(0, at).toString('utf8')));
      } catch (error) {
        reject(new Error(`malformed response prelude: ${(error as Error).message}`));
        return;
      }
      const rest = head.subarray(at + 8);
      if (rest.length) body.write(rest);
      req.pipe(body, { end: false });
    };
    const onEnd = () => {
      if (head.length === 0) return resolve(undefined);
      reject(new Error('malformed response: the body has no prelude (the Node.js runtime writes it at the first write(), and end(chunk) alone makes none)'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
  });
}
