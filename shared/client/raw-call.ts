// A 2026-07-28 `tools/call` without the SDK's client: one POST (through the connection's transport,
// transport.ts: fetch, or node:http on Node) with the headers the SDK's transport sends, the answer
// read as JSON or as an SSE stream (progress relayed, the time limit restarted by it), decoded as
// the SDK decodes it. Failures are thrown as the SDK would throw them (ProtocolError, SdkHttpError,
// SdkError), so the resilient client's `classify` maps both paths alike. Only for stateless
// servers reached without OAuth; the caller decides when (resilient-client.ts).
import {
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  specTypeSchemas,
  type CallToolResult,
  type InputRequiredResult,
  type Progress,
  type RequestOptions,
} from '@modelcontextprotocol/client';
import type { RawTarget, UpstreamNotification } from './connection.ts';
import type { UpstreamResponse } from './transport.ts';

const VERSION = '2026-07-28';
/** The SDK's own schema (zod) for the result: its parse and its error text are the SDK client's. */
const CALL_RESULT = specTypeSchemas.CallToolResult as unknown as { safeParse(value: unknown): { success: true } | { success: false; error: unknown } };
const NOTIFIED: Record<string, UpstreamNotification['kind']> = {
  'notifications/tools/list_changed': 'tools_list_changed',
  'notifications/prompts/list_changed': 'prompts_list_changed',
  'notifications/resources/list_changed': 'resources_list_changed',
};

/** The server redirected the call: it did not act on it, and the SDK's client, which follows redirects its own way, should send it. */
export class RawCallRedirected extends Error {
  override name = 'RawCallRedirected';
}

type Message = { id?: unknown; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { code: number; message: string; data?: unknown } };
type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } & Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function rawCallTool(target: RawTarget, params: Params, options: RequestOptions): Promise<CallToolResult | InputRequiredResult> {
  const id = target.nextId();
  const meta = { ...target.meta, ...params._meta, ...(options.onprogress && { progressToken: id }) };
  const body = JSON.stringify({ method: 'tools/call', params: { ...params, _meta: meta }, jsonrpc: '2.0', id });
  const limit = new TimeLimit(options);
  try {
    const sent = target.send({
      url: target.url,
      headers: {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-method': 'tools/call',
        'mcp-name': headerValue(params.name),
        'mcp-protocol-version': VERSION,
      },
      body,
      signal: limit.signal,
    });
    // Raced as well: the time limit ends the call even if a transport never settles on the abort; an answer arriving after is dropped unread.
    const response = await limit.race(sent).catch((err: unknown) => {
      sent.then(
        (late) => late.cancel(),
        () => {},
      );
      throw err;
    });
    const answer = await limit.race(
      answerOf(response, id, target, options.onprogress && ((p) => (options.resetTimeoutOnProgress && limit.restart(), options.onprogress!(p)))),
    );
    if (answer.error) throw ProtocolError.fromError(answer.error.code, answer.error.message, answer.error.data);
    return await decode(answer.result);
  } catch (err) {
    throw limit.reason() ?? err;
  } finally {
    limit.clear();
  }
}

const BASE64_SENTINEL = ['=?base64?', '?='] as const;

/**
 * A value as an HTTP field value, as the SDK's client encodes Mcp-Name (SEP-2243): plain when it is
 * printable ASCII without outer spaces, else `=?base64?<UTF-8 as base64>?=`. Sent as it is, a caller's
 * name with a newline or a character past Latin-1 failed in the transport, as an upstream failure.
 */
function headerValue(value: string): string {
  const plain =
    value !== '' && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value) && !(value.startsWith(BASE64_SENTINEL[0]) && value.endsWith(BASE64_SENTINEL[1]));
  if (plain) return value;
  let binary = '';
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return `${BASE64_SENTINEL[0]}${btoa(binary)}${BASE64_SENTINEL[1]}`;
}

/** The call's time limit (restarted by progress, as `resetTimeoutOnProgress` does) and the caller's signal, as one abort. */
class TimeLimit {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expired: SdkError | undefined;
  private readonly onAbort = () => this.controller.abort(this.options.signal?.reason);
  readonly signal = this.controller.signal;

  constructor(private readonly options: RequestOptions) {
    options.signal?.throwIfAborted();
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.restart();
  }

  restart() {
    clearTimeout(this.timer);
    const timeout = this.options.timeout ?? 60_000;
    this.timer = setTimeout(() => {
      this.expired = new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout });
      this.controller.abort(this.expired);
    }, timeout);
  }

  /** Settles when `work` does or the call is aborted, whichever is first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason);
    return new Promise<T>((resolve, reject) => {
      this.signal.addEventListener('abort', () => reject(this.signal.reason), { once: true });
      work.then(resolve, reject);
    });
  }

  /** Why the call was cut short: the time limit, or the caller's own abort reason. */
  reason(): unknown {
    return this.expired ?? (this.options.signal?.aborted ? this.options.signal.reason : undefined);
  }

  clear() {
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The JSON-RPC response to request `id`, from a JSON body or an SSE stream; a refusal as the SDK's transport words it. */
async function answerOf(response: UpstreamResponse, id: number, target: RawTarget, onprogress?: (p: Progress) => void): Promise<Message> {
  if (response.status >= 300 && response.status < 400) {
    response.cancel();
    throw new RawCallRedirected(`HTTP ${response.status}`);
  }
  if (response.status < 200 || response.status > 299) return refusal(response, id);
  const contentType = response.header('content-type');
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const message = JSON.parse(await response.text()) as Message;
    if (!isObject(message) || message.id !== id) throw new SdkError(SdkErrorCode.ConnectionClosed, 'the server answered without a response to the request');
    return message;
  }
  if (type !== 'text/event-stream') {
    response.cancel();
    throw new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${contentType}`, { contentType });
  }
  for await (const message of sseMessages(response)) {
    // Returning ends the for-await, which cancels the body.
    if (message.id === id && ('result' in message || 'error' in message)) return message;
    if (message.method === 'notifications/progress' && message.params?.progressToken === id) {
      const { progressToken: _t, ...progress } = message.params;
      onprogress?.(progress as Progress);
    } else if (message.method && NOTIFIED[message.method]) target.onNotification?.({ kind: NOTIFIED[message.method]! } as UpstreamNotification);
    else if (message.method === 'notifications/resources/updated' && typeof message.params?.uri === 'string')
      target.onNotification?.({ kind: 'resource_updated', uri: message.params.uri });
  }
  throw new SdkError(SdkErrorCode.ConnectionClosed, 'the server closed the stream before answering the request');
}

/** A non-2xx answer: a JSON-RPC error to this request in a 400 is the server's answer; anything else the transport's HTTP error. */
async function refusal(response: UpstreamResponse, id: number): Promise<Message> {
  const text = await response.text().catch(() => null);
  if (response.status === 400 && text) {
    try {
      const message = JSON.parse(text) as Message;
      if (message.id === id && isObject(message.error) && typeof message.error.code === 'number' && typeof message.error.message === 'string') return message;
    } catch {
      // not JSON
    }
  }
  // The SDK's own code and wording for a POST its transport could not use (its name notwithstanding, it
  // marks an unexpected HTTP status, not missing code): classify() maps this path's refusals as it maps the SDK's.
  throw new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
    status: response.status,
    statusText: response.statusText,
    text,
  });
}

/** One SSE event's data as a JSON-RPC message; what is not JSON fails as the SDK's transport fails. */
function parseMessage(data: string): Message {
  try {
    return JSON.parse(data) as Message;
  } catch {
    throw new SdkError(SdkErrorCode.ConnectionClosed, `the server sent an event that is not JSON: ${data.slice(0, 200)}`);
  }
}

/**
 * The JSON messages of an SSE body, as they arrive. The text of an event not yet ended is only
 * appended to (V8 joins such strings lazily) and searched once its end arrives: searching it whole
 * at every chunk cost time in the square of its size (a 10 MB result: seconds of a stalled event loop).
 */
async function* sseMessages(response: UpstreamResponse): AsyncGenerator<Message> {
  const decoder = new TextDecoder();
  let pending = '';
  // Whether `pending` ends with LF, kept aside: reading its last character would join it every time.
  let pendingLf = false;
  let carriedCr = false;
  for await (const chunk of response.stream()) {
    // A CRLF split across two chunks is one line end: a trailing CR waits for the next chunk.
    let text: string = (carriedCr ? '\r' : '') + decoder.decode(chunk, { stream: true });
    carriedCr = text.endsWith('\r');
    if (carriedCr) text = text.slice(0, -1);
    text = text.replace(/\r\n?/g, '\n');
    // No event ends in this chunk, nor where it meets the text before: keep it for later.
    if (!text.includes('\n\n') && !(pendingLf && text[0] === '\n')) {
      pending += text;
      if (text) pendingLf = text[text.length - 1] === '\n';
      continue;
    }
    let buffered = pending + text;
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const data = dataOf(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
      if (data) yield parseMessage(data);
    }
    pending = buffered;
    pendingLf = buffered.endsWith('\n');
  }
  // The body's last CR ends a line (SSE allows CR alone), and may end the last event.
  if (carriedCr && pendingLf) {
    const data = dataOf(pending.slice(0, -1));
    if (data) yield parseMessage(data);
  }
}

/** An event's data: its `data:` lines' values, joined by LF. */
const dataOf = (event: string) =>
  event
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(l[5] === ' ' ? 6 : 5))
    .join('\n');

/** A `tools/call` result as the SDK's 2026-07-28 codec and result schema decode it. */
async function decode(raw: unknown): Promise<CallToolResult | InputRequiredResult> {
  const invalid = (why: string, data?: Record<string, unknown>) =>
    new SdkError(SdkErrorCode.InvalidResult, `Invalid result for tools/call: ${why}`, { method: 'tools/call', ...data });
  if (!isObject(raw)) throw invalid('not an object');
  const { resultType, ...lifted } = raw;
  if (resultType === undefined)
    throw invalid(
      'missing required resultType — servers implementing protocol revision 2026-07-28 MUST include it (the absent-means-complete bridge applies only to earlier-revision servers)',
      { violation: 'missing-resultType' },
    );
  if (typeof resultType !== 'string') throw invalid('non-string resultType', { resultType });
  if (resultType === 'input_required') {
    const inputRequests = isObject(raw.inputRequests) ? raw.inputRequests : {};
    if (Object.keys(inputRequests).length === 0 && typeof raw.requestState !== 'string')
      throw invalid('input_required carries neither inputRequests nor requestState (every input_required result must include at least one of the two)', {
        violation: 'input-required-missing-both',
      });
    return {
      resultType: 'input_required',
      inputRequests,
      ...(typeof raw.requestState === 'string' && { requestState: raw.requestState }),
      ...(isObject(raw._meta) && { _meta: raw._meta }),
    } as InputRequiredResult;
  }
  if (resultType !== 'complete')
    throw new SdkError(SdkErrorCode.UnsupportedResultType, `Unsupported result type '${resultType}' for tools/call`, { resultType, method: 'tools/call' });
  if (!surelyValid(raw)) {
    const checked = CALL_RESULT.safeParse(raw);
    if (!checked.success) throw invalid(String(checked.error));
  }
  return lifted as CallToolResult;
}

const isPlainText = (block: unknown) => isObject(block) && block.type === 'text' && typeof block.text === 'string' && Object.keys(block).length === 2;

/**
 * A complete result the SDK's schema surely accepts, told without it: text blocks of nothing but
 * type and text, `isError` a boolean, `_meta` an object (the schema takes any, and never fails on
 * its serverInfo), `structuredContent` and other keys anything. The schema decides everything else.
 */
function surelyValid(raw: Record<string, unknown>): boolean {
  const { content, isError, _meta } = raw;
  return (
    (content === undefined || (Array.isArray(content) && content.every(isPlainText))) &&
    (isError === undefined || typeof isError === 'boolean') &&
    (_meta === undefined || isObject(_meta))
  );
}
