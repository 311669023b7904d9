// The runtime inside one modelled Lambda execution environment (a child process of the Lambda
// model in lambda.ts): it does what the Node.js managed runtime does, no more. It imports the
// deployed bundle once (the init phase), then loops on the Runtime API: take the next event, run
// the handler, stream its response back. Streaming follows the Lambda response-streaming contract
// as the Node.js runtime (aws-lambda-nodejs-runtime-interface-client) implements it:
// `awslambda.streamifyResponse` marks a handler; `awslambda.HttpResponseStream.from` sets the
// content type and writes the JSON prelude and eight NUL bytes just before the first `write()`
// (not at once, and not for `end(chunk)` alone: that body goes out without a prelude); the body
// goes to the Runtime API as a chunked POST with `Lambda-Runtime-Function-Response-Mode:
// streaming` that ends at `end()`, whatever the handler does after; a handler that returns
// without ending its stream leaves the invocation waiting for it (to the function timeout); an
// error after the first byte travels in trailers. Bundled by esbuild and run on plain `node`, so
// the function's import time is measured without a TypeScript loader in the way.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
// https://docs.aws.amazon.com/lambda/latest/dg/response-streaming-tutorial.html
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const API = process.env.AWS_LAMBDA_RUNTIME_API!;
const BASE = `http://${API}/2018-06-01/runtime`;
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = new Uint8Array(8);

type StreamingHandler = ((event: unknown, stream: ResponseStream, context: unknown) => Promise<unknown>) & { [STREAMING]?: boolean };
type BufferedHandler = (event: unknown, context: unknown) => Promise<unknown>;

function call(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${BASE}${path}`, { method, headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ res, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorBody(err: unknown) {
  const error = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: error.name,
    errorMessage: error.message,
    stackTrace: (error.stack ?? '')
      .split('\n')
      .slice(1)
      .map((l) => l.trim()),
  };
}

/** The stream a streaming handler writes to: a chunked POST to the Runtime API, opened on first write. */
class ResponseStream extends Writable {
  private contentType = 'application/octet-stream';
  private post?: ClientRequest;
  /** Set by HttpResponseStream.from: runs once, just before the first write() (the runtime's _onBeforeFirstWrite). */
  beforeFirstWrite?: (write: (chunk: string | Uint8Array) => void) => void;
  private written = false;
  readonly done: Promise<void>;
  private settle!: (error?: Error) => void;

  constructor(private readonly requestId: string) {
    super();
    this.done = new Promise((resolve, reject) => (this.settle = (error) => (error ? reject(error) : resolve())));
  }

  setContentType(type: string) {
    if (this.written || this.post) throw new Error('Cannot set content-type, too late.');
    this.contentType = type;
  }

  // Only a write() call runs the hook: Writable.end(chunk) writes its chunk without going through
  // write(), and so does the Node.js runtime's response stream.
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    if (!this.written) {
      this.written = true;
      this.beforeFirstWrite?.((c) => super.write(c));
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }

  private open(): ClientRequest {
    this.post ??= request(
      `${BASE}/invocation/${this.requestId}/response`,
      {
        method: 'POST',
        headers: {
          'content-type': this.contentType,
          'lambda-runtime-function-response-mode': 'streaming',
          'transfer-encoding': 'chunked',
          trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => this.settle());
      },
    ).on('error', (error) => this.settle(error));
    return this.post;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.open().write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void) {
    this.open().end(done);
  }

  /** Ends the response with the function's error: in trailers once bytes went out. */
  fail(err: unknown) {
    const body = errorBody(err);
    const post = this.open();
    post.addTrailers({
      'Lambda-Runtime-Function-Error-Type': body.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(body)).toString('base64'),
    });
    if (!this.writableEnded) this.end();
  }

  get started() {
    return this.post !== undefined;
  }
}

function installGlobal() {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  g.awslambda ??= {};
  g.awslambda.streamifyResponse = (handler: StreamingHandler) => {
    handler[STREAMING] = true;
    return handler;
  };
  g.awslambda.HttpResponseStream = {
    from(stream: ResponseStream, prelude: unknown) {
      stream.setContentType(HTTP_INTEGRATION);
      const head = JSON.stringify(prelude);
      stream.beforeFirstWrite = (write) => {
        write(head);
        write(DELIMITER);
      };
      return stream;
    },
  };
}

async function init(): Promise<StreamingHandler | BufferedHandler> {
  const [file, name = 'handler'] = [process.argv[2]!, process.env._HANDLER?.split('.').pop()];
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const handler = module[name];
  if (typeof handler !== 'function') throw new Error(`Runtime.HandlerNotFound: ${file} does not export a function "${name}"`);
  return handler as StreamingHandler;
}

async function invokeOnce(handler: StreamingHandler | BufferedHandler) {
  const { res, text } = await call('GET', '/invocation/next');
  const id = String(res.headers['lambda-runtime-aws-request-id']);
  const deadline = Number(res.headers['lambda-runtime-deadline-ms']);
  // As Lambda's Node.js runtime does: the invocation's trace, for the X-Ray SDKs and the kit.
  const trace = res.headers['lambda-runtime-trace-id'];
  if (typeof trace === 'string') process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  const context = {
    awsRequestId: id,
    invokedFunctionArn: String(res.headers['lambda-runtime-invoked-function-arn']),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const event = JSON.parse(text);
  if ((handler as StreamingHandler)[STREAMING]) {
    const stream = new ResponseStream(id);
    try {
      // The invocation is over when the handler has returned and its stream has ended: a stream
      // left open keeps it waiting (the runtime ends nothing for the handler).
      await (handler as StreamingHandler)(event, stream, context);
    } catch (err) {
      console.error(JSON.stringify({ level: 'ERROR', message: 'Invoke Error', ...errorBody(err) }));
      if (!stream.started) {
        await call('POST', `/invocation/${id}/error`, JSON.stringify(errorBody(err)), { 'lambda-runtime-function-error-type': 'Runtime.UnhandledError' });
        return;
      }
      stream.fail(err);
    }
    await stream.done;
    return;
  }
  try {
    const result = await (handler as BufferedHandler)(event, context);
    await call('POST', `/invocation/${id}/response`, JSON.stringify(result ?? null));
  } catch (err) {
    await call('POST', `/invocation/${id}/error`, JSON.stringify(errorBody(err)), { 'lambda-runtime-function-error-type': 'Runtime.UnhandledError' });
  }
}

async function main() {
  installGlobal();
  let handler;
  try {
    handler = await init();
  } catch (err) {
    console.error(JSON.stringify({ level: 'ERROR', message: 'Init Error', ...errorBody(err) }));
    await call('POST', '/init/error', JSON.stringify(errorBody(err)), { 'lambda-runtime-function-error-type': 'Runtime.InitError' }).catch(() => {});
    process.exit(1);
  }
  for (;;) await invokeOnce(handler);
}

main().catch((err) => {
  // The Runtime API went away: the model stopped this environment.
  console.error(`runtime: ${err?.message ?? err}`);
  process.exit(1);
});
