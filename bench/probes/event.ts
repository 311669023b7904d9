// The API Gateway REST proxy event a probe invokes its handler with: the benchmark's HTTP call,
// plus the Content-Length header that a client sends with a body and API Gateway forwards.
import { restEvent } from '../in-process-lambda.ts';
import { MCP_PATH, type HttpCall } from '../request.ts';

export function restEventFor(call: HttpCall) {
  return restEvent({ method: 'POST', path: MCP_PATH, headers: { ...call.headers, 'content-length': String(Buffer.byteLength(call.body)) }, body: call.body });
}
