// The gateway's MCP methods, installed on each SDK server instance the kit builds: lists
// aggregated by the catalog; calls, prompts, reads and completions routed (routing.ts) to one
// upstream, with the caller's progress, cancellation and multi round-trip rounds (rounds.ts)
// carried through. For a 2025-era caller the SDK turns an `input_required` answer into a real
// elicitation request. The caller's token never goes upstream; its interactive capabilities do.
// A call is one function (toolCaller) that both lanes run: the kit's direct lane as the
// definition's `directCall` (the fast lane, no SDK server), and the SDK lane's handler, which
// answers a call the fast lane handed over from its outcome instead of calling again.
import { ProtocolError, type ProtocolErrorCode, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { UpstreamError, UpstreamProtocolError } from '../client/errors.ts';
import type { ToolContext } from '../server/context.ts';
import { requestScopeOf } from '../request-scope.ts';
import { GATEWAY_META_KEY, type Aggregate, type Caller, type Catalog, type ListKind } from './catalog.ts';
import type { OnBehalfOf } from './assertions.ts';
import { answerFrom, roundFor } from './rounds.ts';
import { CLIENT_CAPABILITIES_META } from '../protocol/wire.ts';
import { createRouter } from './routing.ts';
import type { Upstream } from './upstreams.ts';

export interface GatewayParts {
  upstreams: Map<string, Upstream>;
  catalog: Catalog;
  /** Who each call is made for: its partition upstream, and the assertion that names it there. */
  callers: OnBehalfOf;
  /** An upstream could not serve a request (not a JSON-RPC error: it answered those). */
  failed(upstream: string): void;
}

type Context = (ctx: ServerContext, target: string) => ToolContext;
type CallParams = { name: string; arguments?: Record<string, unknown> };
/** A `tools/call` routed upstream: the result for the caller, or a thrown JSON-RPC error. */
export type ToolCaller = (params: CallParams, ctx: ServerContext, context: Context) => Promise<unknown>;

/** What the caller may be asked through MRTR rounds; declared upstream on the caller's behalf. */
const INTERACTIVE = ['elicitation', 'sampling', 'roots'] as const;
/** -32000: a JSON-RPC server error, for an upstream that could not serve a read, prompt or completion. */
const UPSTREAM_FAILED = -32000 as ProtocolErrorCode;
const LIST_METHODS = { tools: 'tools/list', prompts: 'prompts/list', resources: 'resources/list', resourceTemplates: 'resources/templates/list' } as const;

function listResult(kind: ListKind, aggregate: Aggregate) {
  const { items, ttlMs, missing, skipped } = aggregate;
  const report = { ...(missing.length > 0 && { missing }), ...(skipped.length > 0 && { skipped }) };
  return { [kind]: items, ttlMs, cacheScope: 'private', ...(Object.keys(report).length > 0 && { _meta: { [GATEWAY_META_KEY]: report } }) };
}

/** The caller's interactive capabilities, so an upstream asks it (through the gateway) what it can answer. */
function callerMeta(ctx: ServerContext): Record<string, unknown> {
  const declared = requestScopeOf(ctx).clientCapabilities ?? {};
  const capabilities = Object.fromEntries(INTERACTIVE.filter((k) => declared[k] !== undefined).map((k) => [k, declared[k]]));
  return { [CLIENT_CAPABILITIES_META]: capabilities };
}

/** A read, prompt or completion an upstream could not serve: a JSON-RPC error naming it. */
function upstreamFailed(err: UpstreamError): never {
  throw new ProtocolError(UPSTREAM_FAILED, err.message, {
    upstream: err.server,
    ...('retryAfterMs' in err && err.retryAfterMs !== undefined && { retryAfterMs: err.retryAfterMs }),
  });
}

/** Who a request is made for: its principal, the partition its upstream calls run in, its signal. */
function callerFor(callers: OnBehalfOf) {
  return (ctx: ServerContext): Caller => {
    const { principal } = requestScopeOf(ctx);
    return { principal, partition: callers.partition(principal), signal: ctx.mcpReq.signal };
  };
}

/** Runs one routed request; an upstream failure becomes `onFailure`'s answer, a JSON-RPC error from it stays one. */
async function forward<T>(parts: GatewayParts, kit: ToolContext, upstream: Upstream, send: () => Promise<unknown>, onFailure: (err: UpstreamError) => T) {
  try {
    return await answerFrom(kit, upstream.config.name, await send());
  } catch (err) {
    if (err instanceof UpstreamProtocolError) throw new ProtocolError(err.code as ProtocolErrorCode, err.message, err.data);
    if (!(err instanceof UpstreamError)) throw err;
    kit.log.warn('upstream failed', { upstream: upstream.config.name, error: err.detail });
    parts.failed(upstream.config.name);
    return onFailure(err);
  }
}

/** The gateway's `tools/call`, for both lanes. */
export function toolCaller(parts: GatewayParts): ToolCaller {
  const router = createRouter(parts.upstreams, parts.catalog);
  const callerOf = callerFor(parts.callers);
  return async (params, ctx, context) => {
    const { upstream, name } = router.name('tools', params.name, requestScopeOf(ctx).principal);
    const kit = context(ctx, params.name);
    // A tool that failed upstream is a tool execution error: the model sees it and can react.
    return forward(
      parts,
      kit,
      upstream,
      () =>
        upstream.client.callTool(
          { name, ...(params.arguments && { arguments: params.arguments }), ...roundFor(kit, upstream.config.name), _meta: callerMeta(ctx) },
          // The request's own signal: nothing expires a routed call's kit context (kit.signal would only
          // combine it with a timer never set, at the price of an AbortSignal.any per call).
          {
            partition: callerOf(ctx).partition,
            signal: ctx.mcpReq.signal,
            onprogress: (p) => void kit.progress(p.progress, p.total, p.message).catch(() => {}),
          },
        ),
      (err) => ({ isError: true, content: [{ type: 'text', text: err.message }] }),
    );
  };
}

/** What every routed handler needs: the router, who the caller is, and the kit's per-request context. */
interface Routing {
  parts: GatewayParts;
  router: ReturnType<typeof createRouter>;
  callerOf: (ctx: ServerContext) => Caller;
  context: Context;
}

const principalOf = (ctx: ServerContext) => requestScopeOf(ctx).principal;

export function installHandlers(server: McpServer, context: Context, parts: GatewayParts, callTool: ToolCaller): void {
  const s = server.server;
  s.registerCapabilities({ prompts: { listChanged: true }, resources: { listChanged: true }, completions: {} });
  const routing: Routing = { parts, router: createRouter(parts.upstreams, parts.catalog), callerOf: callerFor(parts.callers), context };
  installLists(s, parts.catalog, routing.callerOf);
  installCall(s, context, callTool);
  installPromptsAndReads(s, routing);
  installCompletion(s, routing);
}

/** Lists: each aggregated by the catalog for the caller. */
function installLists(s: McpServer['server'], catalog: Catalog, callerOf: Routing['callerOf']) {
  for (const kind of Object.keys(LIST_METHODS) as ListKind[]) {
    s.setRequestHandler(
      LIST_METHODS[kind] as 'tools/list',
      (async (_request: unknown, ctx: ServerContext) => listResult(kind, await catalog.list(kind, callerOf(ctx)))) as never,
    );
  }
}

/** `tools/call` on the SDK lane: the fast lane's outcome when it handed the call over, else the call itself. */
function installCall(s: McpServer['server'], context: Context, callTool: ToolCaller) {
  s.setRequestHandler('tools/call', (async (request: { params: CallParams }, ctx: ServerContext) => {
    // A call the fast lane made and handed over: its outcome, not a second call upstream.
    const replay = requestScopeOf(ctx).replay;
    if (replay) {
      if ('error' in replay) throw replay.error;
      return replay.result;
    }
    return callTool(request.params, ctx, context);
  }) as never);
}

/** `prompts/get` and `resources/read`: routed by name or URI, rounds and the caller's capabilities carried through. */
function installPromptsAndReads(s: McpServer['server'], { parts, router, callerOf, context }: Routing) {
  s.setRequestHandler('prompts/get', (async (request: { params: { name: string; arguments?: Record<string, string> } }, ctx: ServerContext) => {
    const { upstream, name } = router.name('prompts', request.params.name, principalOf(ctx));
    const kit = context(ctx, request.params.name);
    return forward(
      parts,
      kit,
      upstream,
      () =>
        upstream.client.getPrompt(
          { name, ...(request.params.arguments && { arguments: request.params.arguments }), ...roundFor(kit, upstream.config.name), _meta: callerMeta(ctx) },
          { partition: callerOf(ctx).partition, signal: kit.signal },
        ),
      upstreamFailed,
    );
  }) as never);

  s.setRequestHandler('resources/read', (async (request: { params: { uri: string } }, ctx: ServerContext) => {
    const { upstream, uri } = router.uri(request.params.uri, principalOf(ctx));
    const kit = context(ctx, request.params.uri);
    return forward(
      parts,
      kit,
      upstream,
      () =>
        upstream.client.readResource(
          { uri, ...roundFor(kit, upstream.config.name), _meta: callerMeta(ctx) },
          { partition: callerOf(ctx).partition, signal: kit.signal },
        ),
      upstreamFailed,
    );
  }) as never);
}

/** `completion/complete`: routed by the prompt or resource it completes for. */
function installCompletion(s: McpServer['server'], { parts, router, callerOf }: Routing) {
  s.setRequestHandler('completion/complete', (async (
    request: { params: { ref: { type: string; name?: string; uri?: string }; [key: string]: unknown } },
    ctx: ServerContext,
  ) => {
    const { ref } = request.params;
    const target = ref.type === 'ref/prompt' ? router.name('prompts', String(ref.name), principalOf(ctx)) : router.uri(String(ref.uri), principalOf(ctx));
    const upstreamRef = 'name' in target ? { ...ref, name: target.name } : { ...ref, uri: target.uri };
    try {
      const { resultType: _r, ...result } = (await target.upstream.client.complete(
        { ...request.params, ref: upstreamRef },
        { partition: callerOf(ctx).partition, signal: ctx.mcpReq.signal },
      )) as Record<string, unknown>;
      return result;
    } catch (err) {
      if (err instanceof UpstreamProtocolError) throw new ProtocolError(err.code as ProtocolErrorCode, err.message, err.data);
      if (!(err instanceof UpstreamError)) throw err;
      parts.failed(target.upstream.config.name);
      return upstreamFailed(err);
    }
  }) as never);
}
