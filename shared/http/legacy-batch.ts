// 2025-03-26 JSON-RPC batches (2024-11-05 has them too; later revisions do not): refused when they
// cannot be served, else answered in order as one JSON array (no streaming inside a batch). Every
// message counts against the rate limits on its own; one over the limit is answered with its own
// error in the array, and the messages before it are served.
import type { JSONRPCRequest } from '@modelcontextprotocol/server';
import type { WireMessage as Message } from '../protocol/envelope.ts';
import { HttpProtocolError, invalidRequest as invalid } from '../protocol/errors.ts';
import type { Relay } from '../relay/relay.ts';
import type { SessionRecord } from '../store/sessions.ts';
import { deliverCancellation, deliverReply } from './legacy-exchange.ts';

/** Most messages in one batch: each is served in turn, and without rate limiting nothing else bounds the work. */
export const MAX_BATCH_MESSAGES = 500;

export const isRequest = (m: Message): m is JSONRPCRequest & Message => typeof m.method === 'string' && m.id !== undefined && m.id !== null;
export const isResponse = (m: Message) => m.method === undefined && m.id !== undefined && ('result' in m || 'error' in m);

/** Refuses, before its session is loaded, a batch no session could take. */
export function checkBatch(messages: Message[]): void {
  if (messages.length === 0) invalid('Invalid Request: empty batch');
  if (messages.length > MAX_BATCH_MESSAGES)
    invalid(`Invalid Request: a batch holds at most ${MAX_BATCH_MESSAGES} messages (got ${messages.length}); send the rest in another request`);
  const init = messages.find((m) => m.method === 'initialize');
  if (init) invalid('Invalid Request: initialize must not be part of a batch; send it alone to start a session', init.id);
}

/** Refuses a batch on a session whose revision has none. */
export function checkBatchRevision(session: SessionRecord): void {
  if (session.protocolVersion !== '2025-03-26' && session.protocolVersion !== '2024-11-05') {
    invalid(`Invalid Request: JSON-RPC batches are not part of protocol ${session.protocolVersion}; send one message per POST`);
  }
}

export interface BatchServing {
  relay: Relay;
  /** Counts one message against the rate limits; absent when rate limiting is off. */
  limit?: (message: Message) => Promise<void>;
  /** Serves one request of the batch to its answer. */
  serve(message: JSONRPCRequest & Message): Promise<Message>;
}

export async function serveBatch(session: SessionRecord, messages: Message[], { relay, limit, serve }: BatchServing): Promise<Response> {
  const answers: unknown[] = [];
  const verdicts = limit
    ? await Promise.all(
        messages.map((m) =>
          limit(m).then(
            () => undefined,
            (error: unknown) => error,
          ),
        ),
      )
    : [];
  for (const [i, m] of messages.entries()) {
    const refused = verdicts[i];
    if (refused !== undefined) {
      if (!(refused instanceof HttpProtocolError)) throw refused;
      if (isRequest(m)) answers.push({ jsonrpc: '2.0', id: m.id, error: { code: refused.code, message: refused.message } });
    } else if (isResponse(m)) await deliverReply(relay, session.id, m);
    else if (!isRequest(m)) {
      if (m.method === 'notifications/cancelled') await deliverCancellation(relay, session.id, m);
    } else answers.push(await serve(m));
  }
  return answers.length ? Response.json(answers) : new Response(null, { status: 202 });
}
