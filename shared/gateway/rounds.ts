// An upstream's answer made the gateway's, and a caller's retry made the upstream's. The
// upstream's `requestState` never reaches the caller bare: it is sealed into the gateway's own
// signed requestState (ctx.mintRequestState: HMAC, bound to the caller, session, tool and
// arguments, verified on any instance that shares MCP_REQUEST_STATE_KEY), and unsealed from it on
// the retry. Answers lose what describes the upstream hop (its resultType, its serverInfo) and get
// their resource URIs prefixed.
import { ProtocolError, ProtocolErrorCode, inputRequired, isInputRequiredResult } from '@modelcontextprotocol/server';
import type { RoundParams } from '../client/resilient-client.ts';
import type { ToolContext } from '../server/context.ts';
import { PROTOCOL_META_PREFIX } from '../protocol/wire.ts';
import { rewriteUris } from './names.ts';

/** Sealed into the gateway's requestState: which upstream asked, and its own state. */
interface SealedRound {
  u: string;
  s?: string;
}

/** The round the caller answers, in the upstream's terms: its inputResponses and the upstream's own requestState. */
export function roundFor(kit: ToolContext, upstream: string): RoundParams {
  const sealed = kit.requestState<SealedRound>();
  if (sealed && sealed.u !== upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState belongs to another upstream');
  const inputResponses = kit.mcp.mcpReq.inputResponses;
  return { ...(inputResponses && { inputResponses }), ...(sealed?.s !== undefined && { requestState: sealed.s }) };
}

/** An upstream's answer for the caller: input_required re-sealed, URIs prefixed, the hop's own keys left to the SDK. */
export async function answerFrom(kit: ToolContext, upstream: string, result: unknown) {
  if (isInputRequiredResult(result)) {
    const sealed: SealedRound = { u: upstream, ...(result.requestState !== undefined && { s: result.requestState }) };
    return inputRequired({ ...(result.inputRequests && { inputRequests: result.inputRequests }), requestState: await kit.mintRequestState(sealed) });
  }
  const { resultType: _resultType, _meta, ...rest } = result as Record<string, unknown>;
  const own = Object.entries((_meta ?? {}) as Record<string, unknown>).filter(([key]) => !key.startsWith(PROTOCOL_META_PREFIX));
  return rewriteUris(upstream, own.length > 0 ? { ...rest, _meta: Object.fromEntries(own) } : rest);
}
