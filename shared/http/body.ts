// Reads and parses a POST body once, under a size limit, with errors that say what to fix.
// The parsed value is handed to both protocol legs so nothing parses the body twice.
// An adapter that built the Request from a body it holds as text (Lambda's event) hands that text
// over (`bodyTextGiven`), and it is read instead of the Request's body stream.
import { ClientGoneError, HttpProtocolError, INVALID_REQUEST, PARSE_ERROR, SERVER_ERROR } from '../protocol/errors.ts';

const JSON_TYPE = /^application\/json\s*(;|$)/i;
/**
 * Far deeper than any MCP message, far shallower than what overflows the stack of the recursive
 * code that walks a parsed body later (JSON.stringify of stored session fields, schema checks).
 */
export const MAX_JSON_DEPTH = 128;

/**
 * How many `{` and `[` the text holds, counting no further than `limit` + 1. Far fewer than the
 * limit (every ordinary message) proves the depth is fine without the character walk below.
 */
function openings(text: string, limit: number): number {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1 && count <= limit; i = text.indexOf(bracket, i + 1)) count++;
  }
  return count;
}

/** Whether JSON text (already known to be valid) nests arrays and objects deeper than MAX_JSON_DEPTH. */
function tooDeep(text: string): boolean {
  if (text.length <= MAX_JSON_DEPTH || openings(text, MAX_JSON_DEPTH) <= MAX_JSON_DEPTH) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** A body stream that fails has lost its client (the connection closed mid-body). */
const gone = (err: unknown): never => {
  throw new ClientGoneError(`the client closed the connection before its request body arrived (${(err as Error)?.message ?? err})`);
};

const LONE_SURROGATE = /\p{Cs}/u;
/** Body texts adapters handed over, by the Request built from them. */
const givenTexts = new WeakMap<Request, string>();

/**
 * Hands over the text `request`'s body was encoded from, as UTF-8. Only a text decoding gives back
 * as it is: no leading BOM (decoding drops one), no lone surrogate (encoding replaced it).
 */
export function bodyTextGiven(request: Request, text: string): void {
  if (text.charCodeAt(0) !== 0xfeff && !LONE_SURROGATE.test(text)) givenTexts.set(request, text);
}

async function readLimited(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const given = givenTexts.get(request);
  if (given !== undefined) {
    if (given.length > maxBytes) throw tooLarge(maxBytes);
    return given;
  }
  // With a declared length in bounds the framing already caps the body: read it in one go.
  if (declared !== null) {
    const text = await request.text().catch(gone);
    if (text.length > maxBytes) throw tooLarge(maxBytes);
    return text;
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read().catch(gone);
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return new TextDecoder().decode(chunks[0]);
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function tooLarge(maxBytes: number) {
  return new HttpProtocolError(413, SERVER_ERROR, `Payload Too Large: request body must not exceed ${maxBytes} bytes`);
}

export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const type = request.headers.get('content-type');
  if (!type || !JSON_TYPE.test(type)) {
    throw new HttpProtocolError(415, SERVER_ERROR, `Unsupported Media Type: Content-Type must be application/json (got ${type ?? 'none'})`);
  }
  const text = await readLimited(request, maxBytes);
  if (text.trim() === '') throw new HttpProtocolError(400, PARSE_ERROR, 'Parse error: the request body is empty; send a JSON-RPC message');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpProtocolError(400, PARSE_ERROR, `Parse error: the request body is not valid JSON (${(err as Error).message})`);
  }
  if (tooDeep(text))
    throw new HttpProtocolError(400, INVALID_REQUEST, `Invalid Request: JSON nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
  return body;
}
