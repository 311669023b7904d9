// Runs a streaming Lambda handler in this process with a minimal `awslambda` global and synthetic
// API Gateway REST events: what the warm per-call benchmark measures, with nothing but the
// handler on the clock. Behaviour is tested on the faithful model (local/aws, npm run start:aws).
import { Writable } from 'node:stream';

interface StreamMetadata {
  statusCode?: number;
  headers?: Record<string, string>;
}

export interface LambdaResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** performance.now() when the handler ended the response stream: what the caller waits for (the handler may run on, billed). */
  respondedAt: number;
}

type StreamingHandler = (event: unknown, stream: Writable, context: unknown) => Promise<void>;

class ResponseStream extends Writable {
  metadata: StreamMetadata = {};
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.chunks.push(Buffer.from(chunk));
    done();
  }
}

/**
 * Installs the runtime's streaming API on the `awslambda` global before a handler module is
 * imported. Other libraries (Powertools' invoke store) may already have created the global.
 */
export function installLambdaRuntime(): void {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  g.awslambda ??= {};
  g.awslambda.streamifyResponse ??= (fn: StreamingHandler) => fn;
  g.awslambda.HttpResponseStream ??= {
    from(stream: ResponseStream, metadata: StreamMetadata) {
      stream.metadata = metadata;
      return stream;
    },
  };
}

let counter = 0;

/** An API Gateway REST (v1) proxy event, as the MCP route receives it. */
export function restEvent(init: { method: string; path: string; headers?: Record<string, string>; body?: string }) {
  const id = `req-${++counter}`;
  return {
    resource: '/{proxy+}',
    path: init.path,
    httpMethod: init.method,
    headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com', ...init.headers },
    multiValueHeaders: Object.fromEntries(Object.entries({ host: 'abc123.execute-api.us-east-1.amazonaws.com', ...init.headers }).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: id,
      stage: 'prod',
      httpMethod: init.method,
      path: `/prod${init.path}`,
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      identity: { sourceIp: '127.0.0.1' },
    },
    body: init.body ?? null,
    isBase64Encoded: false,
  };
}

/** Invokes a streaming handler with an event and collects the streamed response. */
export async function invoke(handler: unknown, event: unknown): Promise<LambdaResult> {
  const stream = new ResponseStream();
  let respondedAt = 0;
  stream.once('finish', () => (respondedAt = performance.now()));
  const context = { awsRequestId: `ctx-${++counter}`, functionName: 'local', getRemainingTimeInMillis: () => 900_000 };
  await (handler as StreamingHandler)(event, stream, context);
  return {
    statusCode: stream.metadata.statusCode ?? 200,
    headers: stream.metadata.headers ?? {},
    body: Buffer.concat(stream.chunks).toString('utf8'),
    respondedAt: respondedAt || performance.now(),
  };
}
