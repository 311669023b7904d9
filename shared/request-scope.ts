// What the HTTP layer knows about one request, carried to handlers inside the SDK's
// `authInfo.extra`: below http, server and tasks, which all read it, and above nothing but types.
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { ToolOutcome } from './metrics.ts';
import type { Principal } from './principal.ts';

/** What the HTTP layer knows about one request, carried to handlers inside `authInfo.extra`. */
export interface RequestScope {
  readonly requestId: string;
  readonly principal: Principal;
  readonly era: 'legacy' | 'modern';
  /** The protocol revision the request is served under: the session's, or 2026-07-28. */
  readonly revision?: string;
  /** Legacy session id, when the request belongs to one. */
  readonly sessionId?: string;
  /** True when the client asked for log notifications (legacy `logging/setLevel`, or a modern log level). */
  readonly forwardLogs: boolean;
  /** What the client said it can do: the session's, or the 2026-07-28 request's `_meta`. */
  readonly clientCapabilities?: { elicitation?: object; [key: string]: unknown };
  /** The request being served, for binding MRTR state and confirmations to it. */
  readonly request?: { method?: string; params?: Record<string, unknown> };
  /** Set in a task's worker run: its id, and where its progress goes. */
  readonly task?: {
    readonly id: string;
    report(message: string): void;
    /** The run's time limit, when not the configured task timeout. */
    readonly timeoutMs?: number;
    /** What an earlier attempt at this run saved, and how to save for a later one. */
    readonly resumeFrom?: unknown;
    checkpoint?(value: unknown): Promise<void>;
  };
  /** Tells the access line how a tool call ended (its per-tool metrics). */
  readonly report?: (outcome: ToolOutcome) => void;
  /** A call the direct lane ran and handed to the SDK lane: its outcome, to answer from (build.ts). */
  readonly replay?: { result: unknown } | { error: unknown };
}

export function requestScopeOf(ctx: { http?: { authInfo?: AuthInfo } }): RequestScope {
  const scope = ctx.http?.authInfo?.extra?.kit as RequestScope | undefined;
  if (!scope) throw new Error('request reached a handler without a kit request scope');
  return scope;
}
