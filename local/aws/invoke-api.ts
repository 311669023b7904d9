// The Lambda Invoke API of the model, for asynchronous invocations (`InvocationType: Event`), which
// is how a function hands a task to a worker invocation of itself. As Lambda documents it: the
// call is accepted at once (202) and queued; the event then runs in an execution environment like
// any invocation; a run that fails (an error, a timeout, a crash) is retried twice; an event that
// never succeeds goes to the on-failure destination, here the function itself, with Lambda's
// record of the failure. The retry delays are shortened (Lambda waits about 1 and 2 minutes).
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvokeResult, LambdaModel } from './lambda.ts';

export interface InvokeApiOptions {
  lambda: LambdaModel;
  /** Delays before the two retries of a failed event. @default [1000, 2000] */
  retryDelaysMs?: number[];
  /** Send events that never succeeded to the function itself (the construct's destination). @default true */
  onFailureToSelf?: boolean;
  log: (line: string) => void;
}

export interface InvokeApi {
  /** For `AWS_ENDPOINT_URL_LAMBDA`. */
  url: string;
  /** Asynchronous invocations accepted so far (tests wait on it). */
  accepted: number;
  stop(): Promise<void>;
}

/** Waits for an invocation's end: undefined when it succeeded, else the error type. */
async function outcome(result: InvokeResult): Promise<string | undefined> {
  if (result.kind === 'error') return result.errorType;
  if (result.kind === 'stream') {
    result.body.resume();
    return (await result.ended)?.errorType;
  }
  return undefined;
}

export async function startInvokeApi(options: InvokeApiOptions): Promise<InvokeApi> {
  const delays = options.retryDelaysMs ?? [1000, 2000];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  const later = (ms: number, run: () => void) => {
    if (stopped) return;
    const timer = setTimeout(() => (timers.delete(timer), run()), ms);
    timers.add(timer);
  };

  async function run(event: unknown, attempt: number) {
    let failure: string | undefined;
    let detail = '';
    try {
      const result = await options.lambda.invoke(event, 'Event');
      if (result.kind === 'error') detail = result.errorMessage;
      failure = await outcome(result);
    } catch (error) {
      failure = 'Runtime.Unknown';
      detail = String(error);
    }
    if (failure === undefined) return;
    // Lambda keeps a throttled event queued and tries again; that is not a failed attempt.
    if (failure === 'TooManyRequestsException') return later(500, () => void run(event, attempt));
    options.log(`[lambda async] attempt ${attempt + 1} failed: ${failure} ${detail}`);
    if (attempt < delays.length) return later(delays[attempt]!, () => void run(event, attempt + 1));
    if (options.onFailureToSelf === false || stopped) return;
    const record = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: { requestId: crypto.randomUUID(), functionArn: 'arn:aws:lambda:local:000000000000:function:model', condition: 'RetriesExhausted', approximateInvokeCount: attempt + 1 },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: failure, errorMessage: detail || failure },
    };
    void run(record, delays.length);
  }

  const api = { url: '', accepted: 0, stop: async () => {} } as InvokeApi;
  const server: Server = createServer((req, res) => {
    const requestId = crypto.randomUUID();
    const chunks: Buffer[] = [];
    // A caller that goes away mid-upload queues nothing; the API goes on serving.
    req.on('error', () => options.log(`[lambda invoke] ${requestId} 499 client closed the connection before its request was whole`));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['x-amz-invocation-type'];
      if (req.method !== 'POST' || !/\/functions\/[^/]+\/invocations$/.test(req.url ?? '') || type !== 'Event') {
        res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' });
        res.end(JSON.stringify({ message: 'the model serves asynchronous invocations (X-Amz-Invocation-Type: Event) only' }));
        return;
      }
      let event: unknown;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' }).end('{"message":"Could not parse request body into json"}');
        return;
      }
      api.accepted++;
      res.writeHead(202, { 'x-amzn-requestid': requestId }).end();
      void run(event, 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.stop = async () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return api;
}
