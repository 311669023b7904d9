// The Lambda Invoke API of the model, for asynchronous invocations (`InvocationType: Event`), which
// is how a function hands a task to a worker invocation of itself. As Lambda documents it: the
// call is accepted at once (202) and the event queued; a throttled event goes back to the queue
// and is tried again after a wait that doubles from 1 second up to 5 minutes, without counting as
// an attempt; a run that fails (an error, a timeout, a crash) is retried twice, 1 and then 2
// minutes later; an event older than its maximum age, or whose retries are spent, goes to the
// on-failure destination (here the function itself, as the construct configures it) with
// Lambda's record of the failure. The queue delivers at least once: a share of the events runs
// twice. Every wait runs `timeScale` times faster than on AWS (the factor is logged).
// Not modelled: Lambda reading the queue more slowly when it holds many events, and events
// deleted unseen when a function cannot keep up (AWS gives no numbers for either).
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AWS_LIMITS, PATH_DEFAULTS } from '../../infra/deployed-path.ts';
import type { FunctionInvoker } from './alias.ts';
import type { InvokeResult } from './lambda.ts';

/** A scaled wait, as the log gives it. */
const ms = (value: number) => `${Number(value.toFixed(2))} ms`;

/** Lambda's waits before the retries of a failed event, and the bounds of its throttling back-off. */
const RETRY_DELAYS_MS = [60_000, 120_000];
const THROTTLE_FIRST_MS = 1_000;
const THROTTLE_MAX_MS = 300_000;

export interface InvokeApiOptions {
  /** The function, or its alias when two versions run (local/aws/alias.ts). */
  lambda: FunctionInvoker;
  /** Lambda's waits (retries, back-off, event age) run this many times faster. @default 60 */
  timeScale?: number;
  /** How long an event may wait to run, on AWS's clock. @default PATH_DEFAULTS.taskEventMaxAgeSeconds */
  maxEventAgeSeconds?: number;
  /** Share of events the queue delivers twice. @default 0.1 */
  duplicateShare?: number;
  /** Attempts of each event that find no concurrency, as in an account busy elsewhere (for tests). @default 0 */
  throttledAttempts?: number;
  /** Send events that never succeeded to the function itself (the construct's destination). @default true */
  onFailureToSelf?: boolean;
  /** Draws duplicates (the Lambda model's seeded generator, so a run repeats). */
  random: () => number;
  log: (line: string) => void;
}

export interface InvokeApi {
  /** For `AWS_ENDPOINT_URL_LAMBDA`. */
  url: string;
  /** Asynchronous invocations accepted so far (tests wait on it). */
  accepted: number;
  /** Events delivered a second time so far. */
  duplicated: number;
  stop(): Promise<void>;
}

interface QueuedEvent {
  id: string;
  event: unknown;
  /** When the queue took it, in ms on the model's clock. */
  queuedAt: number;
  /** Runs that failed so far. */
  failures: number;
  throttles: number;
  /** Lambda's record of an event that never succeeded: not reported again if it fails too. */
  record: boolean;
  /** The version invoked (`Qualifier`); its failures go to the same version. */
  qualifier?: string;
  /** The Invoke's X-Amzn-Trace-Id: the worker's invocation continues the caller's trace. */
  trace?: string;
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
  const scale = options.timeScale ?? 60;
  const maxAgeMs = ((options.maxEventAgeSeconds ?? PATH_DEFAULTS.taskEventMaxAgeSeconds) * 1000) / scale;
  const duplicateShare = options.duplicateShare ?? 0.1;
  const retries = AWS_LIMITS.lambdaAsyncRetries;
  const { log } = options;
  log(
    `[lambda async] waits run ${scale}x faster than on AWS: retries after ${RETRY_DELAYS_MS.map((delay) => ms(delay / scale)).join(' and ')}, ` +
      `throttled events back off from ${ms(THROTTLE_FIRST_MS / scale)} to ${ms(THROTTLE_MAX_MS / scale)}, events expire after ${ms(maxAgeMs)}; ` +
      `${Math.round(duplicateShare * 100)}% of events are delivered twice`,
  );
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  const later = (ms: number, run: () => void) => {
    if (stopped) return;
    const timer = setTimeout(() => (timers.delete(timer), run()), ms);
    timers.add(timer);
  };

  /** The event leaves the queue unrun: Lambda reports it to the on-failure destination. */
  function expire(queued: QueuedEvent, condition: 'RetriesExhausted' | 'EventAgeExceeded', failure?: { errorType: string; errorMessage: string }) {
    log(`[lambda async] ${queued.id} ${condition} after ${queued.failures + queued.throttles} attempts${queued.record ? ': a failure record, dropped' : ''}`);
    if (queued.record || options.onFailureToSelf === false || stopped) return;
    const record = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: queued.id,
        functionArn: 'arn:aws:lambda:local:000000000000:function:model',
        condition,
        approximateInvokeCount: queued.failures,
      },
      requestPayload: queued.event,
      responseContext: { statusCode: 200, executedVersion: queued.qualifier ?? '$LATEST', ...(failure && { functionError: 'Unhandled' }) },
      ...(failure && { responsePayload: failure }),
    };
    enqueue(record, true, queued.qualifier);
  }

  async function attempt(queued: QueuedEvent) {
    if (stopped) return;
    if (Date.now() - queued.queuedAt > maxAgeMs) return expire(queued, 'EventAgeExceeded');
    let failure: string | undefined;
    let detail = '';
    const throttled = queued.throttles < (options.throttledAttempts ?? 0);
    try {
      const result = throttled
        ? ({ kind: 'error', errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.', invokeStatus: 429 } as const)
        : await options.lambda.invoke(queued.event, 'Event', queued.qualifier, queued.trace);
      if (result.kind === 'error') detail = result.errorMessage;
      failure = await outcome(result);
    } catch (error) {
      failure = 'Runtime.Unknown';
      detail = String(error);
    }
    if (failure === undefined) return;
    // A throttled event goes back to the queue: not a failed attempt, and no retry spent.
    if (failure === 'TooManyRequestsException') {
      const wait = Math.min(THROTTLE_FIRST_MS * 2 ** queued.throttles, THROTTLE_MAX_MS) / scale;
      queued.throttles++;
      log(`[lambda async] ${queued.id} throttled (${queued.throttles}), tried again in ${ms(wait)}`);
      return later(wait, () => void attempt(queued));
    }
    queued.failures++;
    log(`[lambda async] ${queued.id} attempt ${queued.failures} failed: ${failure} ${detail}`);
    if (queued.failures <= retries) return later(RETRY_DELAYS_MS[queued.failures - 1]! / scale, () => void attempt(queued));
    expire(queued, 'RetriesExhausted', { errorType: failure, errorMessage: detail || failure });
  }

  function enqueue(event: unknown, record = false, qualifier?: string, trace?: string): string {
    const id = crypto.randomUUID();
    const delivery = () => void attempt({ id, event, queuedAt: Date.now(), failures: 0, throttles: 0, record, qualifier, ...(trace && { trace }) });
    delivery();
    if (options.random() < duplicateShare) {
      api.duplicated++;
      log(`[lambda async] ${id} delivered twice (the queue delivers at least once)`);
      delivery();
    }
    return id;
  }

  const api = { url: '', accepted: 0, duplicated: 0, stop: async () => {} } as InvokeApi;
  const server: Server = createServer((req, res) => {
    const requestId = crypto.randomUUID();
    const chunks: Buffer[] = [];
    // A caller that goes away mid-upload queues nothing; the API goes on serving.
    req.on('error', () => log(`[lambda invoke] ${requestId} 499 client closed the connection before its request was whole`));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['x-amz-invocation-type'];
      const url = new URL(req.url ?? '/', 'http://invoke');
      if (req.method !== 'POST' || !/\/functions\/[^/]+\/invocations$/.test(url.pathname) || type !== 'Event') {
        res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' });
        res.end(JSON.stringify({ message: 'the model serves asynchronous invocations (X-Amz-Invocation-Type: Event) only' }));
        return;
      }
      let event: unknown;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      } catch {
        res
          .writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' })
          .end('{"message":"Could not parse request body into json"}');
        return;
      }
      api.accepted++;
      res.writeHead(202, { 'x-amzn-requestid': requestId }).end();
      const trace = req.headers['x-amzn-trace-id'];
      enqueue(event, false, url.searchParams.get('Qualifier') ?? undefined, typeof trace === 'string' ? trace : undefined);
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
