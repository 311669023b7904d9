// What the SDK would answer with an error's own text, answered by the kit instead:
// - Requests whose params fail the SDK's own method schema (`initialize` without params, a numeric
//   `uri`, an unknown log level) are answered -32603 with the raw validator dump; they are the
//   caller's mistake, so the kit answers -32602 with one line per problem instead.
// - A store's failure in a method the SDK serves (tasks/*, resources/read, prompts/get) would be
//   -32603 with the error's message; it becomes dependency.ts's caller message, the detail logged.
// - A call of a tool the server does not have ("Tool x not found") names the tools it has.
// The SDK has no hook for this: its handler table's lookup is wrapped on each server instance, so
// handlers it registers later are covered too. A handler's other errors pass through untouched.
import { ProtocolError, ProtocolErrorCode, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { callerMessage, failureFields, isDependencyError } from '../dependency.ts';
import type { KitLogger } from '../log.ts';
import { requestScopeOf } from '../request-scope.ts';

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
    return Array.isArray(issues) && issues.length > 0 && issues.every((i) => typeof i === 'object' && i !== null && 'code' in i && 'path' in i)
      ? (issues as Issue[])
      : undefined;
  } catch {
    return undefined;
  }
}

const describe = (issue: Issue) => {
  const path = (issue.path ?? []).map(String).join('.') || 'params';
  return `${path}: ${(issue.message ?? issue.code ?? 'invalid').replace(/^Invalid input: /, '')}`;
};

const UNKNOWN_TOOL = /^Tool .* not found$/s;
/** Names at most this many tools in an unknown tool's error; tools/list has the rest. */
const NAMED_TOOLS = 20;

/** The SDK's "Tool x not found", with what the caller may call instead (tools/list shows the same names). */
function unknownTool(message: string, tools: readonly string[]): ProtocolError {
  const named = tools.slice(0, NAMED_TOOLS).join(', ') + (tools.length > NAMED_TOOLS ? `, … (${tools.length} in all)` : '');
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `${message}: this server's tools are ${named}; tools/list describes them`);
}

function explain(method: string, handler: Handler, log: KitLogger, tools: readonly string[]): Handler {
  return async (request, ctx) => {
    try {
      return await handler(request, ctx);
    } catch (err) {
      if (method === 'tools/call' && tools.length && err instanceof ProtocolError && UNKNOWN_TOOL.test(err.message)) throw unknownTool(err.message, tools);
      if (isDependencyError(err)) {
        const { requestId } = requestScopeOf(ctx as ServerContext);
        log.warn('dependency failed', { ...failureFields(err, requestId), method });
        throw new ProtocolError(ProtocolErrorCode.InternalError, callerMessage(err, requestId));
      }
      const issues = err instanceof Error && !(err instanceof ProtocolError) ? issuesOf(err.message) : undefined;
      if (!issues) throw err;
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${issues.slice(0, 5).map(describe).join('; ')}`);
    }
  };
}

/** `tools`: the names the server's tools/list shows, for an unknown tool's error. */
export function explainHandlerErrors(server: McpServer, log: KitLogger, tools: readonly string[] = []): void {
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, Handler> })._requestHandlers;
  const lookup = handlers.get.bind(handlers);
  const wrapped = new WeakMap<Handler, Handler>();
  handlers.get = (method: string) => {
    const handler = lookup(method);
    if (handler === undefined) return undefined;
    let explaining = wrapped.get(handler);
    if (!explaining) wrapped.set(handler, (explaining = explain(method, handler, log, tools)));
    return explaining;
  };
}
