// `npm run verify`: after `cdk deploy`, checks against the real deployment what the local model
// (`npm run start:aws`) assumes but AWS does not document, each PASS, FAIL (with what to do) or
// SKIPPED (with why), and writes a report file. Talks plain HTTP to the echo server's tools (`wait`,
// `announce`; functions/echo/server.ts) so every byte's timing is its own; exits 1 on any FAIL.
//
//   npm run verify -- --url https://<distribution>.cloudfront.net/mcp [--api-url <ApiUrl output>]
//                     [--api-key mcpk_…] [--log-group <FunctionLogGroup output>] [--region <region>]
//                     [--silence 20] [--timeout 60000] [--report verify-report.json]
// The API key may come from MCP_API_KEY instead. REPORT lines are read from CloudWatch Logs with
// the AWS credentials of the environment, when there are any.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ORIGIN_VERIFY_HEADER } from '../shared/http/origin-verify.ts';
import { reportLines, summarizeReports } from './verify-logs.ts';

const USAGE = `usage: npm run verify -- --url <CloudFront MCP URL> [--api-url <API Gateway MCP URL>] [--api-key <key>]
                      [--log-group <function log group>] [--region <region>] [--silence <s>] [--timeout <ms>] [--report <file>]`;

type Status = 'PASS' | 'FAIL' | 'SKIPPED';
interface CheckResult {
  check: string;
  status: Status;
  detail: string;
  /** What to do about a FAIL. */
  fix?: string;
  ms: number;
}

interface Options {
  url: URL;
  apiUrl?: URL;
  apiKey?: string;
  logGroup?: string;
  region?: string;
  silenceSeconds: number;
  timeoutMs: number;
  report: string;
}

class UsageError extends Error {}

const META = (extensions: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { extensions },
  'io.modelcontextprotocol/clientInfo': { name: 'mcp-kit-verify', version: '1' },
});
const TASKS = 'io.modelcontextprotocol/tasks';

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'api-url': { type: 'string' },
      'api-key': { type: 'string' },
      'log-group': { type: 'string' },
      region: { type: 'string' },
      silence: { type: 'string', default: '20' },
      timeout: { type: 'string', default: '60000' },
      report: { type: 'string', default: 'verify-report.json' },
    },
  });
  const url = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    try {
      return new URL(raw);
    } catch {
      throw new UsageError(`--${name}: not a URL: ${raw}`);
    }
  };
  const target = url('url', values.url);
  if (!target) throw new UsageError('missing --url');
  const silenceSeconds = Number(values.silence);
  const timeoutMs = Number(values.timeout);
  if (!(silenceSeconds > 0 && silenceSeconds <= 50)) throw new UsageError(`--silence: seconds from 0 to 50, got ${values.silence}`);
  if (!(timeoutMs > 0)) throw new UsageError(`--timeout: milliseconds, got ${values.timeout}`);
  return {
    url: target,
    apiUrl: url('api-url', values['api-url']),
    apiKey: values['api-key'] ?? (env.MCP_API_KEY?.trim() || undefined),
    logGroup: values['log-group'],
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    silenceSeconds,
    timeoutMs,
    report: values.report,
  };
}

/** A JSON-RPC POST of the 2026-07-28 era; `auth` false sends no credentials. */
function post(
  options: Options,
  method: string,
  params: Record<string, unknown>,
  init: { url?: URL; auth?: boolean; name?: string; signal?: AbortSignal } = {},
) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(init.name !== undefined && { 'mcp-name': init.name }),
    ...(init.auth !== false && options.apiKey && { authorization: `Bearer ${options.apiKey}` }),
  };
  const body = JSON.stringify({ jsonrpc: '2.0', id: randomUUID(), method, params: { ...params, _meta: params._meta ?? META() } });
  return fetch(init.url ?? options.url, { method: 'POST', headers, body, signal: init.signal ?? AbortSignal.timeout(options.timeoutMs) });
}

/** The JSON-RPC message of a JSON answer or the last of an SSE stream. */
async function message(response: Response): Promise<{ result?: any; error?: { message: string } }> {
  const text = await response.text();
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text);
  const frames = text.split('\n\n').filter((f) => f.includes('data: '));
  return JSON.parse(frames.at(-1)!.slice(frames.at(-1)!.indexOf('data: ') + 6));
}

const refusedByOrigin = async (response: Response) => response.status === 403 && (await response.clone().text()).includes('origin header');

type Check = (options: Options) => Promise<Omit<CheckResult, 'check' | 'ms'>>;

const pass = (detail: string) => ({ status: 'PASS' as const, detail });
const fail = (detail: string, fix: string) => ({ status: 'FAIL' as const, detail, fix });
const skip = (detail: string) => ({ status: 'SKIPPED' as const, detail });

/** CloudFront reaches the function: the origin header it adds is accepted, and so is the key. */
const reach: Check = async (options) => {
  const response = await post(options, 'tools/list', {});
  if (await refusedByOrigin(response)) {
    return fail(
      "the function refused CloudFront's request for lacking the origin header",
      'CloudFront does not send the origin secret the function accepts: deploy again (the distribution reads MCP_ORIGIN_SECRET at deploy); mid-rotation, keep the old value in MCP_ORIGIN_SECRET_PREVIOUS (docs/deploy.md, "Rotating secrets")',
    );
  }
  if (response.status === 401)
    return fail('401: the API key was refused', 'pass a key of this deployment with --api-key or MCP_API_KEY (npm run keys -- create)');
  if (response.status !== 200)
    return fail(
      `tools/list answered ${response.status}: ${(await response.text()).slice(0, 200)}`,
      "see the function's log and the API access log for the request",
    );
  const tools = ((await message(response)).result?.tools ?? []) as { name: string }[];
  const missing = ['wait', 'announce'].filter((name) => !tools.some((t) => t.name === name));
  if (missing.length)
    return fail(`the server has no ${missing.join(', ')} tool`, 'point --url at the echo server (functions/echo), whose tools the checks use');
  return pass(`${tools.length} tools listed through CloudFront`);
};

/** API Gateway renames WWW-Authenticate; the origin-response Lambda@Edge function restores it, on a 401 too. */
const challenge: Check = async (options) => {
  const response = await post(options, 'tools/list', {}, { auth: false });
  await response.arrayBuffer();
  if (response.status !== 401) return skip(`the endpoint answered ${response.status} without credentials: it takes none, so there is no challenge`);
  const header = response.headers.get('www-authenticate');
  if (header?.startsWith('Bearer')) return pass(`401 with WWW-Authenticate: ${header.slice(0, 60)}`);
  const renamed = response.headers.get('x-amzn-remapped-www-authenticate');
  return fail(
    renamed ? 'the 401 carries x-amzn-Remapped-WWW-Authenticate instead of WWW-Authenticate' : 'the 401 carries no WWW-Authenticate',
    "the origin-response Lambda@Edge function (McpRestoreWwwAuthenticate) must be associated with the MCP behavior: check the distribution's function associations and the function's logs in the edge regions",
  );
};

/** A tool silent for --silence seconds: its keep-alives must reach the client through CloudFront and the edge function. */
const keepAlive: Check = async (options) => {
  const silenceMs = options.silenceSeconds * 1000;
  const started = performance.now();
  const response = await post(options, 'tools/call', { name: 'wait', arguments: { seconds: options.silenceSeconds } }, { name: 'wait' });
  const reader = response.body!.getReader();
  const first = await reader.read();
  const firstByteMs = Math.round(performance.now() - started);
  let text = first.value ? Buffer.from(first.value).toString() : '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += Buffer.from(chunk.value).toString();
  if (response.status === 504)
    return fail(
      `CloudFront answered 504 after ${firstByteMs} ms`,
      'no byte reached CloudFront within its origin timeout: keep MCP_SSE_KEEPALIVE_MS below originReadTimeout and the answer streamed (no compression, no response buffering)',
    );
  if (!text.includes(`waited ${options.silenceSeconds} s`))
    return fail(`the call answered ${response.status}: ${text.slice(0, 200)}`, "see the function's log for the call");
  if (firstByteMs >= silenceMs) {
    return fail(
      `the first byte arrived after ${firstByteMs} ms, once the ${silenceMs} ms silence was over: the answer was held back on the way`,
      "something between the function and the client buffers streamed answers (compression on the behavior, a viewer-response function, an edge function that reads the body): CloudFront would cut a longer silence at its origin timeout. (--silence must exceed the server's keep-alive interval, MCP_SSE_KEEPALIVE_MS: 15 s deployed.)",
    );
  }
  return pass(`first byte (a keep-alive) after ${firstByteMs} ms of a ${silenceMs} ms silence; answer after ${Math.round(performance.now() - started)} ms`);
};

/** Reads SSE frames from a stream until `wanted` matches one, or `signal` ends it. */
async function frameMatching(response: Response, wanted: RegExp): Promise<boolean> {
  const reader = response.body!.getReader();
  let text = '';
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += Buffer.from(chunk.value).toString();
      if (wanted.test(text)) return true;
    }
  } catch {
    // aborted: not found in time
  }
  return false;
}

/** An event one call publishes reaches a listen stream held by another execution environment. */
const events: Check = async (options) => {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), options.timeoutMs);
  try {
    const listen = await post(options, 'subscriptions/listen', { notifications: { toolsListChanged: true } }, { signal: stop.signal });
    if (listen.status !== 200)
      return fail(`subscriptions/listen answered ${listen.status}`, "see the function's log; a 503 means the cap on open streams (maxOpenStreams) is reached");
    const arrived = frameMatching(listen, /notifications\/tools\/list_changed/);
    // Announced again until it arrives: a poller that started after an announcement does not replay it.
    const started = performance.now();
    for (let got = false; !got && !stop.signal.aborted; ) {
      await (await post(options, 'tools/call', { name: 'announce', arguments: {} }, { name: 'announce' })).arrayBuffer();
      got = await Promise.race([arrived, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))]);
      if (got) return pass(`the announcement reached the listen stream after ${Math.round(performance.now() - started)} ms`);
    }
    return fail(
      `no tools/list_changed notification within ${options.timeoutMs} ms`,
      'events cross execution environments through Redis: put UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN into the data plane\'s secret (docs/deploy.md, "Deploy")',
    );
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
};

const WORKER_FIX =
  "the worker is an asynchronous invocation of the function: check its self-invoke policy, the FailedTasks alarm and the function's log for the task id";

/** A task runs in an asynchronous invocation of the function and completes. */
const task: Check = async (options) => {
  const created = await message(await post(options, 'tools/call', { name: 'wait', arguments: { seconds: 1 }, _meta: META({ [TASKS]: {} }) }, { name: 'wait' }));
  if (created.result?.isError) return fail(`the task could not be started: ${created.result.content?.[0]?.text ?? ''}`, WORKER_FIX);
  if (created.result?.resultType !== 'task')
    return fail(
      `tools/call did not create a task: ${JSON.stringify(created).slice(0, 200)}`,
      "the echo server's wait tool runs as a task for clients that take tasks; deploy the current functions/echo",
    );
  const deadline = Date.now() + options.timeoutMs;
  const taskId = String(created.result.taskId);
  for (;;) {
    const got = (await message(await post(options, 'tasks/get', { taskId, _meta: META({ [TASKS]: {} }) }, { name: taskId }))).result ?? {};
    if (got.status === 'completed') return pass(`task ${taskId} completed`);
    if (got.status === 'failed' || got.status === 'cancelled') {
      return fail(`task ${got.status}: ${got.statusMessage ?? ''}`, WORKER_FIX);
    }
    if (Date.now() > deadline)
      return fail(
        `task still ${got.status} after ${options.timeoutMs} ms`,
        "the worker never ran: check the function's async invocation metrics (AsyncEventsDropped, throttles) and its log",
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
};

/** The raw API Gateway URL refuses a request without CloudFront's origin header. */
const originLock: Check = async (options) => {
  if (!options.apiUrl) return skip('pass --api-url (the ApiUrl output) to check that the API refuses requests around CloudFront');
  const response = await post(options, 'tools/list', {}, { url: options.apiUrl });
  if (await refusedByOrigin(response)) return pass('the API Gateway URL answers 403 without the origin header');
  await response.arrayBuffer();
  return fail(
    `the API Gateway URL answered ${response.status} to a request without CloudFront's origin header`,
    `callers can go around CloudFront and its WAF: deploy with originVerify on (the default behind CloudFront; MCP_ORIGIN_VERIFY=true) and MCP_ORIGIN_SECRET in the origin secret; the header is ${ORIGIN_VERIFY_HEADER}`,
  );
};

/** An error answer to a GET is not kept by CloudFront for the next caller. */
const errorCache: Check = async (options) => {
  const url = new URL(`/.well-known/mcp-verify-${randomUUID()}`, options.url);
  const first = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  await first.arrayBuffer();
  const second = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  await second.arrayBuffer();
  if (first.status < 400)
    return fail(`GET ${url.pathname} answered ${first.status}, not an error`, 'the check needs a path the server does not serve; report this');
  const age = second.headers.get('age');
  if (age !== null) {
    return fail(
      `the second GET of a ${first.status} came from CloudFront's cache (Age: ${age})`,
      'set ErrorCachingMinTTL to 0 for every error code on the distribution (McpServerEndpoint does; a hand-made distribution must too)',
    );
  }
  return pass(`two GETs of a ${first.status} both reached the origin`);
};

/** Init durations and memory from the function's REPORT lines (CloudWatch Logs). */
const reports: Check = async (options) => {
  if (!options.logGroup) return skip('pass --log-group (the FunctionLogGroup output) to read REPORT lines');
  const found = await reportLines(options.logGroup, options.region);
  if (typeof found === 'string') return skip(found);
  if (found.length === 0) return skip(`no REPORT lines in ${options.logGroup} in the last hour`);
  const { detail, nearLimit } = summarizeReports(found);
  return nearLimit ? fail(detail, 'the function runs close to its memory size: raise memorySize') : pass(detail);
};

const CHECKS: [string, Check][] = [
  ['CloudFront reaches the function', reach],
  ['401 carries WWW-Authenticate', challenge],
  ['keep-alives of a silent call stream', keepAlive],
  ['events reach a listen stream', events],
  ['a task completes', task],
  ['the API URL refuses requests around CloudFront', originLock],
  ['error answers are not cached', errorCache],
  ['REPORT lines: init and memory', reports],
];

async function run(options: Options): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [check, fn] of CHECKS) {
    const started = performance.now();
    const outcome = await fn(options).catch((error: Error) =>
      fail(
        `${error.message}${error.cause ? `: ${(error.cause as Error).message}` : ''}`,
        'the endpoint could not be reached as expected; check --url and the network',
      ),
    );
    const result = { check, ...outcome, ms: Math.round(performance.now() - started) };
    results.push(result);
    console.log(`  ${result.status.padEnd(7)} ${check.padEnd(48)} ${result.detail}${result.fix ? `\n          what to do: ${result.fix}` : ''}`);
    // Nothing else can be checked through CloudFront when it cannot reach the function.
    if (fn === reach && result.status === 'FAIL') break;
  }
  return results;
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv, process.env);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  console.log(`MCP deployment check: ${options.url.href}`);
  const results = await run(options);
  writeFileSync(options.report, `${JSON.stringify({ url: options.url.href, apiUrl: options.apiUrl?.href, at: new Date().toISOString(), results }, null, 2)}\n`);
  const failed = results.filter((r) => r.status === 'FAIL');
  console.log(`${failed.length ? `FAILED: ${failed.map((r) => r.check).join('; ')}` : 'passed'}; report written to ${options.report}`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
