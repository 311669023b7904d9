// The JSON-RPC 2.0 envelope of each incoming message, checked as strictly as the SDK will and with
// errors that name what is wrong, and the standard `Mcp-Method` / `Mcp-Name` headers held to the
// messages they describe. Protocol checks only: no session, no transport.
import { HEADER_MISMATCH, HttpProtocolError, invalidRequest as invalid } from './errors.ts';
import { isObject } from './wire.ts';

/** A JSON-RPC message as it arrives off the wire, before the SDK has typed it. */
export type WireMessage = {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
};
type Message = WireMessage;

/** The members each kind of message may have: the SDK refuses any other, so the kit names it first. */
const MEMBERS = {
  request: ['jsonrpc', 'id', 'method', 'params'],
  notification: ['jsonrpc', 'method', 'params'],
  response: ['jsonrpc', 'id', 'result'],
  'error response': ['jsonrpc', 'id', 'error'],
};

/**
 * Checks the JSON-RPC 2.0 envelope of one message as strictly as the SDK will, with an error that
 * names what is wrong (the SDK's own answer only says the body is not a valid message).
 */
export function checkEnvelope(m: unknown): Message {
  if (!isObject(m)) invalid('Invalid Request: each JSON-RPC message must be an object');
  const msg = m as Message;
  const validId = typeof msg.id === 'string' || Number.isSafeInteger(msg.id);
  const id = validId ? msg.id : null;
  if (msg.jsonrpc !== '2.0') invalid('Invalid Request: "jsonrpc" must be "2.0"', id);
  if (msg.id === null) invalid('Invalid Request: "id" must not be null: give a request a string or integer "id", and leave "id" out of a notification');
  if (msg.id !== undefined && !validId) invalid('Invalid Request: "id" must be a string or an integer (a safe one, at most 2^53 - 1 in magnitude)');
  if (msg.method !== undefined && typeof msg.method !== 'string') invalid('Invalid Request: "method" must be a string', id);
  let kind: keyof typeof MEMBERS;
  if (msg.method !== undefined) {
    kind = msg.id === undefined ? 'notification' : 'request';
    if ('params' in msg && !isObject(msg.params)) invalid('Invalid Request: "params" must be an object', id);
    if (msg.params && '_meta' in msg.params && !isObject(msg.params._meta)) invalid('Invalid Request: "params._meta" must be an object', id);
  } else if (msg.id !== undefined && ('result' in msg || 'error' in msg)) {
    kind = 'result' in msg ? 'response' : 'error response';
    if ('result' in msg && !isObject(msg.result)) invalid('Invalid Request: "result" must be an object', id);
    const error = msg.error as { code?: unknown; message?: unknown } | undefined;
    if ('error' in msg && !(isObject(error) && Number.isSafeInteger(error.code) && typeof error.message === 'string')) {
      invalid('Invalid Request: "error" must be an object with an integer "code" and a string "message"', id);
    }
  } else invalid('Invalid Request: a message needs a "method", or a "result" or "error" with an "id"', id);
  const extra = Object.keys(msg).find((k) => !MEMBERS[kind].includes(k));
  if (extra !== undefined)
    invalid(`Invalid Request: unexpected member ${JSON.stringify(extra)} in a JSON-RPC ${kind} (allowed: ${MEMBERS[kind].join(', ')})`, id);
  return msg;
}

/** What a request acts on, as `Mcp-Name` names it: the tool, the prompt, or the resource. */
function targetOf(m: Message): unknown {
  if (m.method === 'tools/call' || m.method === 'prompts/get') return m.params?.name;
  if (m.method === 'resources/read' || m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') return m.params?.uri;
  return undefined;
}

/**
 * 2025-era clients do not send `Mcp-Method` or `Mcp-Name`, but a gateway may route or authorize on
 * them: a header that disagrees with any message of the body must not steer it past such a rule.
 * Checked as the 2026-07-28 era checks them (-32020), every message of a batch included.
 */
export function checkStandardHeaders(request: Request, messages: Message[]): void {
  const method = request.headers.get('mcp-method');
  const name = request.headers.get('mcp-name');
  if (method === null && name === null) return;
  for (const m of messages) {
    if (m.method === undefined) continue;
    if (method !== null && method !== m.method) {
      throw new HttpProtocolError(
        400,
        HEADER_MISMATCH,
        `Bad Request: the Mcp-Method header (${method.slice(0, 100)}) does not match the request's method (${m.method})`,
        undefined,
        m.id ?? null,
      );
    }
    const target = targetOf(m);
    if (name !== null && target !== undefined && name !== target) {
      throw new HttpProtocolError(
        400,
        HEADER_MISMATCH,
        `Bad Request: the Mcp-Name header (${name.slice(0, 100)}) does not match what the request names (${String(target).slice(0, 100)})`,
        undefined,
        m.id ?? null,
      );
    }
  }
}
