// Requests whose params fail the SDK's own method schema (`initialize` without params, a numeric
// `uri`, an unknown log level) are answered -32603 with the raw validator dump; they are the
// caller's mistake, so the kit answers -32602 with one line per problem instead. The SDK has no
// hook for this: its handler table's lookup is wrapped on each server instance, so handlers it
// registers later are covered too. A handler's own errors pass through untouched.
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';

type Handler = (request: unknown, ctx: unknown) => Promise<unknown>;
interface Issue {
  path?: unknown[];
  message?: string;
  code?: string;
}

/** The validator's issue list, when `message` is one; undefined for any other error. */
function issuesOf(message: string): Issue[] | undefined {
  if (!message.startsWith('[')) return undefined;
  try {
    const issues = JSON.parse(message) as unknown;
    return Array.isArray(issues) && issues.length > 0 && issues.every((i) => typeof i === 'object' && i !== null && 'code' in i && 'path' in i) ? (issues as Issue[]) : undefined;
  } catch {
    return undefined;
  }
}

const describe = (issue: Issue) => {
  const path = (issue.path ?? []).map(String).join('.') || 'params';
  return `${path}: ${(issue.message ?? issue.code ?? 'invalid').replace(/^Invalid input: /, '')}`;
};

function explain(method: string, handler: Handler): Handler {
  return async (request, ctx) => {
    try {
      return await handler(request, ctx);
    } catch (err) {
      const issues = err instanceof Error && !(err instanceof ProtocolError) ? issuesOf(err.message) : undefined;
      if (!issues) throw err;
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${issues.slice(0, 5).map(describe).join('; ')}`);
    }
  };
}

export function explainParamErrors(server: McpServer): void {
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, Handler> })._requestHandlers;
  const lookup = handlers.get.bind(handlers);
  const wrapped = new WeakMap<Handler, Handler>();
  handlers.get = (method: string) => {
    const handler = lookup(method);
    if (handler === undefined) return undefined;
    let explaining = wrapped.get(handler);
    if (!explaining) wrapped.set(handler, (explaining = explain(method, handler)));
    return explaining;
  };
}
