// The gateway's MCP methods, installed on each SDK server instance the kit builds: lists
// aggregated by the catalog, and calls, prompts, reads and completions routed by their prefixed
// name or URI to one upstream, with the caller's progress, cancellation and multi round-trip
// rounds carried through. An upstream's `input_required` answer goes to the caller with the
// upstream's `requestState` sealed inside the gateway's own signed state (ctx.mintRequestState),
// so a retry may reach any gateway instance and cannot be moved to another call; for a 2025-era
// caller the SDK turns it into a real elicitation request. The caller's token never goes upstream.
import { ProtocolError, ProtocolErrorCode, inputRequired, isInputRequiredResult, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { UpstreamError, UpstreamProtocolError } from '../client/errors.ts';
import type { RoundParams } from '../client/resilient-client.ts';
import { requestScopeOf, type ToolContext } from '../server/context.ts';
import { GATEWAY_META_KEY, type Aggregate, type Caller, type Catalog, type ListKind } from './catalog.ts';
import { rewriteUris, splitName, splitUri } from './names.ts';
import { accessRefusal, type Upstream } from './upstreams.ts';

export interface GatewayParts {
  upstreams: Map<string, Upstream>;
  catalog: Catalog;
  /** An upstream could not serve a request (not a JSON-RPC error: it answered those). */
  failed(upstream: string): void;
}

type Context = (ctx: ServerContext, target: string) => ToolContext;

const PROTOCOL_META_PREFIX = 'io.modelcontextprotocol/';
const CAPABILITIES_META_KEY = `${PROTOCOL_META_PREFIX}clientCapabilities`;
/** What the caller may be asked through MRTR rounds; declared upstream on the caller's behalf. */
const INTERACTIVE = ['elicitation', 'sampling', 'roots'] as const;
/** -32000: a JSON-RPC server error, for an upstream that could not serve a read, prompt or completion. */
const UPSTREAM_FAILED = -32000 as ProtocolErrorCode;

/** Sealed into the gateway's requestState: which upstream asked, and its own state. */
interface SealedRound {
  u: string;
  s?: string;
}

function callerOf(ctx: ServerContext): Caller {
  const scope = requestScopeOf(ctx);
  return { principal: scope.principal, partition: scope.principal.id, signal: ctx.mcpReq.signal };
}

function listResult(kind: ListKind, aggregate: Aggregate) {
  const { items, ttlMs, missing, skipped } = aggregate;
  const report = { ...(missing.length > 0 && { missing }), ...(skipped.length > 0 && { skipped }) };
  return { [kind]: items, ttlMs, cacheScope: 'private', ...(Object.keys(report).length > 0 && { _meta: { [GATEWAY_META_KEY]: report } }) };
}

/** The caller's interactive capabilities, so an upstream asks it (through the gateway) what it can answer. */
function callerMeta(ctx: ServerContext): Record<string, unknown> {
  const declared = requestScopeOf(ctx).clientCapabilities ?? {};
  const capabilities = Object.fromEntries(INTERACTIVE.filter((k) => declared[k] !== undefined).map((k) => [k, declared[k]]));
  return { [CAPABILITIES_META_KEY]: capabilities };
}

export function installHandlers(server: McpServer, context: Context, parts: GatewayParts): void {
  const { upstreams, catalog } = parts;
  const names = () => [...upstreams.keys()].join(', ');
  const s = server.server;
  s.registerCapabilities({ prompts: { listChanged: true }, resources: { listChanged: true }, completions: {} });

  /** The upstream a prefixed tool or prompt name goes to; a clear InvalidParams error otherwise. */
  function route(kind: 'tools' | 'prompts', prefixed: string, ctx: ServerContext): { upstream: Upstream; name: string } {
    const noun = kind === 'tools' ? 'tool' : 'prompt';
    const split = splitName(prefixed);
    if (!split) {
      const suggestions = catalog.suggest(kind, prefixed);
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Unknown ${noun} "${prefixed}": ${noun}s behind this gateway are named <upstream>__<${noun}>${suggestions.length ? `; did you mean ${suggestions.join(' or ')}?` : ` (upstreams: ${names()})`}`,
      );
    }
    const upstream = upstreams.get(split.upstream);
    if (!upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown ${noun} "${prefixed}": no upstream is named "${split.upstream}" (upstreams: ${names()})`);
    const refusal = accessRefusal(upstream, requestScopeOf(ctx).principal);
    if (refusal) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${noun[0]!.toUpperCase()}${noun.slice(1)} "${prefixed}" is not available to ${requestScopeOf(ctx).principal.id}: ${refusal}`);
    const known = catalog.lookup(kind, split.upstream, prefixed);
    if (known.kind === 'left out') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${noun[0]!.toUpperCase()}${noun.slice(1)} "${prefixed}" is left out: ${known.reason}`);
    if (known.kind === 'absent') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown ${noun} "${prefixed}": upstream "${split.upstream}" lists no ${noun} "${split.name}"`);
    return { upstream, name: split.name };
  }

  /** The upstream a prefixed resource URI goes to. */
  function routeUri(prefixed: string, ctx: ServerContext): { upstream: Upstream; uri: string } {
    const split = splitUri(prefixed);
    const upstream = split && upstreams.get(split.upstream);
    if (!split || !upstream) throw new ProtocolError(ProtocolErrorCode.ResourceNotFound, `Resource not found: ${prefixed} (resources behind this gateway are <upstream>+<uri>; upstreams: ${names()})`, { uri: prefixed });
    const refusal = accessRefusal(upstream, requestScopeOf(ctx).principal);
    if (refusal) throw new ProtocolError(ProtocolErrorCode.ResourceNotFound, `Resource not found: ${prefixed} (${refusal})`, { uri: prefixed });
    return { upstream, uri: split.uri };
  }

  /** The round the caller answers, in the upstream's terms: its inputResponses and the upstream's own requestState. */
  function roundOf(kit: ToolContext, upstream: string): RoundParams {
    const sealed = kit.requestState<SealedRound>();
    if (sealed && sealed.u !== upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState belongs to another upstream');
    const inputResponses = kit.mcp.mcpReq.inputResponses;
    return { ...(inputResponses && { inputResponses }), ...(sealed?.s !== undefined && { requestState: sealed.s }) };
  }

  /** An upstream answer for the caller: input_required re-sealed, URIs prefixed, the upstream's resultType and protocol `_meta` left to the SDK. */
  async function answer(kit: ToolContext, upstream: string, result: unknown) {
    if (isInputRequiredResult(result)) {
      const sealed: SealedRound = { u: upstream, ...(result.requestState !== undefined && { s: result.requestState }) };
      return inputRequired({ ...(result.inputRequests && { inputRequests: result.inputRequests }), requestState: await kit.mintRequestState(sealed) });
    }
    const { resultType: _resultType, _meta, ...rest } = result as Record<string, unknown>;
    // Protocol-level keys describe the upstream hop (its serverInfo): the gateway answers as itself.
    const own = Object.entries((_meta ?? {}) as Record<string, unknown>).filter(([key]) => !key.startsWith(PROTOCOL_META_PREFIX));
    return rewriteUris(upstream, own.length > 0 ? { ...rest, _meta: Object.fromEntries(own) } : rest);
  }

  /** Runs one routed request; an upstream failure becomes `onFailure`'s answer, a JSON-RPC error from it stays one. */
  async function forward<T>(kit: ToolContext, upstream: Upstream, send: () => Promise<unknown>, onFailure: (err: UpstreamError) => T) {
    try {
      return await answer(kit, upstream.config.name, await send());
    } catch (err) {
      if (err instanceof UpstreamProtocolError) throw new ProtocolError(err.code as ProtocolErrorCode, err.message, err.data);
      if (!(err instanceof UpstreamError)) throw err;
      kit.log.warn('upstream failed', { upstream: upstream.config.name, error: err.detail });
      parts.failed(upstream.config.name);
      return onFailure(err);
    }
  }

  const failed = (err: UpstreamError): never => {
    throw new ProtocolError(UPSTREAM_FAILED, err.message, { upstream: err.server, ...('retryAfterMs' in err && err.retryAfterMs !== undefined && { retryAfterMs: err.retryAfterMs }) });
  };

  for (const kind of ['tools', 'prompts', 'resources', 'resourceTemplates'] as const) {
    const method = { tools: 'tools/list', prompts: 'prompts/list', resources: 'resources/list', resourceTemplates: 'resources/templates/list' }[kind];
    s.setRequestHandler(method as 'tools/list', (async (_request: unknown, ctx: ServerContext) => listResult(kind, await catalog.list(kind, callerOf(ctx)))) as never);
  }

  s.setRequestHandler('tools/call', (async (request: { params: { name: string; arguments?: Record<string, unknown> } }, ctx: ServerContext) => {
    const { upstream, name } = route('tools', request.params.name, ctx);
    const kit = context(ctx, request.params.name);
    // A tool that failed upstream is a tool execution error: the model sees it and can react.
    return forward(kit, upstream, () => upstream.client.callTool(
      { name, ...(request.params.arguments && { arguments: request.params.arguments }), ...roundOf(kit, upstream.config.name), _meta: callerMeta(ctx) },
      { partition: callerOf(ctx).partition, signal: kit.signal, onprogress: (p) => void kit.progress(p.progress, p.total, p.message).catch(() => {}) },
    ), (err) => ({ isError: true, content: [{ type: 'text', text: err.message }] }));
  }) as never);

  s.setRequestHandler('prompts/get', (async (request: { params: { name: string; arguments?: Record<string, string> } }, ctx: ServerContext) => {
    const { upstream, name } = route('prompts', request.params.name, ctx);
    const kit = context(ctx, request.params.name);
    return forward(kit, upstream, () => upstream.client.getPrompt(
      { name, ...(request.params.arguments && { arguments: request.params.arguments }), ...roundOf(kit, upstream.config.name), _meta: callerMeta(ctx) },
      { partition: callerOf(ctx).partition, signal: kit.signal },
    ), failed);
  }) as never);

  s.setRequestHandler('resources/read', (async (request: { params: { uri: string } }, ctx: ServerContext) => {
    const { upstream, uri } = routeUri(request.params.uri, ctx);
    const kit = context(ctx, request.params.uri);
    return forward(kit, upstream, () => upstream.client.readResource(
      { uri, ...roundOf(kit, upstream.config.name), _meta: callerMeta(ctx) },
      { partition: callerOf(ctx).partition, signal: kit.signal },
    ), failed);
  }) as never);

  s.setRequestHandler('completion/complete', (async (request: { params: { ref: { type: string; name?: string; uri?: string }; [key: string]: unknown } }, ctx: ServerContext) => {
    const { ref } = request.params;
    const target = ref.type === 'ref/prompt' ? route('prompts', String(ref.name), ctx) : routeUri(String(ref.uri), ctx);
    const upstreamRef = 'name' in target ? { ...ref, name: target.name } : { ...ref, uri: target.uri };
    try {
      const { resultType: _r, ...result } = (await target.upstream.client.complete({ ...request.params, ref: upstreamRef }, { partition: callerOf(ctx).partition, signal: ctx.mcpReq.signal })) as Record<string, unknown>;
      return result;
    } catch (err) {
      if (err instanceof UpstreamProtocolError) throw new ProtocolError(err.code as ProtocolErrorCode, err.message, err.data);
      if (!(err instanceof UpstreamError)) throw err;
      parts.failed(target.upstream.config.name);
      return failed(err);
    }
  }) as never);
}
