// Reads and parses a POST body once, under a size limit, with errors that say what to fix.
// The parsed value is handed to both protocol legs so nothing parses the body twice.
import { HttpProtocolError, PARSE_ERROR, SERVER_ERROR } from './errors.ts';

const JSON_TYPE = /^application\/json\s*(;|$)/i;

async function readLimited(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  // With a declared length in bounds the framing already caps the body: read it in one go.
  if (declared !== null) {
    const text = await request.text();
    if (text.length > maxBytes) throw tooLarge(maxBytes);
    return text;
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpProtocolError(400, PARSE_ERROR, `Parse error: the request body is not valid JSON (${(err as Error).message})`);
  }
}
