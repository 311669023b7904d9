// The context a task's tool runs in inside its worker, where no request is being served: what
// the kit's tool context reads of the SDK's (`ServerContext`), rebuilt from the task record, so
// the handler sees the same caller, session, arguments, answers and MRTR state as in the request
// that created it. Progress goes to the task's status message; a task asks for input by returning
// `inputRequired(...)`, so server-to-client requests are refused here.
import type { ServerContext } from '@modelcontextprotocol/server';
import type { RequestScope } from '../request-scope.ts';
import type { TaskRecord } from './store.ts';
import { MODERN_REVISION } from '../protocol/wire.ts';

export interface WorkerContextOptions {
  record: TaskRecord;
  signal: AbortSignal;
  report(message: string): void;
  /** The run's time limit, when not the configured task timeout (a queued task: the rest of its TTL). */
  timeoutMs?: number;
  resumeFrom?: unknown;
  checkpoint?(value: unknown): Promise<void>;
  /** Verifies the record's MRTR state for this context (the kit's requestState codec). */
  verify(state: string, ctx: ServerContext): Promise<unknown>;
}

const noRequests = async (): Promise<never> => {
  throw new Error('a task asks the client by returning inputRequired(...), which puts it in input_required; it cannot send requests of its own');
};

export async function workerContext({ record, signal, report, timeoutMs, resumeFrom, checkpoint, verify }: WorkerContextOptions): Promise<ServerContext> {
  const { request } = record;
  const scope: RequestScope = {
    requestId: `task:${record.id}:${record.run}`,
    principal: { id: record.principalId, scopes: request.scopes },
    era: record.wire === '2026' ? 'modern' : 'legacy',
    revision: record.wire === '2026' ? MODERN_REVISION : '2025-11-25',
    ...(record.sessionId && { sessionId: record.sessionId }),
    forwardLogs: false,
    ...(request.clientCapabilities && { clientCapabilities: request.clientCapabilities }),
    request: { method: 'tools/call', params: { name: request.tool, arguments: request.arguments } },
    task: {
      id: record.id,
      report,
      ...(timeoutMs !== undefined && { timeoutMs }),
      ...(resumeFrom !== undefined && { resumeFrom }),
      ...(checkpoint && { checkpoint }),
    },
  };
  let state: unknown;
  const ctx = {
    mcpReq: {
      id: scope.requestId,
      method: 'tools/call',
      _meta: request.meta,
      ...(request.inputResponses && { inputResponses: request.inputResponses }),
      requestState: <T>() => state as T | undefined,
      signal,
      notify: async () => {},
      log: async () => {},
      send: noRequests,
      elicitInput: noRequests,
      requestSampling: noRequests,
    },
    http: { authInfo: { token: '', clientId: record.principalId, scopes: request.scopes, extra: { kit: scope } } },
  } as unknown as ServerContext;
  if (request.requestState !== undefined) state = await verify(request.requestState, ctx);
  return ctx;
}
