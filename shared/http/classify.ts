// What serves a POST to the MCP endpoint, decided once: the legacy session handler, the SDK lane's
// `subscriptions/listen`, the direct lane with the tool it takes, or the SDK lane. The era follows
// the SDK's classification, with shortcuts for the common requests that need neither the SDK nor
// its schema checks (test/core/routing.test.ts holds them to the SDK's verdicts).
import type { ToolDefinition } from '../server/define.ts';
import { LEGACY_REVISIONS, MODERN_REVISION, isProgressToken } from '../protocol/wire.ts';
import type { SdkLanes } from './sdk-lanes.ts';

/** What the HTTP layer reads of a JSON-RPC message before a lane takes it. */
export type Message = { id?: string | number | null; method?: string; params?: { name?: unknown; _meta?: Record<string, unknown> } };

/** `direct` without a tool: a call the definition's `directCall` answers (the gateway's). */
export type Route = { kind: 'legacy' } | { kind: 'listen' } | { kind: 'sdk' } | { kind: 'direct'; tool?: ToolDefinition };

const LEGACY: Route = { kind: 'legacy' };
const LISTEN: Route = { kind: 'listen' };
const SDK: Route = { kind: 'sdk' };
const ROUTED: Route = { kind: 'direct' };
/** What the direct lane answers for a call the definition routes itself (`directCall`). */
export const ROUTED_CALL = 'routed';

const MODERN_VERSIONS = new Set([MODERN_REVISION]);
const LEGACY_VERSIONS = new Set(LEGACY_REVISIONS);

/** A 2026-07-28 `MCP-Protocol-Version` header. */
export const modernHeader = (request: Request) => MODERN_VERSIONS.has(request.headers.get('mcp-protocol-version') ?? '');

/** Names of the tools a POST body calls, for scope checks and rate limits. */
export function toolsCalled(body: unknown): string[] {
  const messages = (Array.isArray(body) ? body : [body]) as Message[];
  const tools: string[] = [];
  for (const m of messages) if (m?.method === 'tools/call') tools.push(String(m.params?.name));
  return tools;
}

/**
 * A `_meta` a 2025-era client sends on a request or notification: none, or only a progress token
 * of the type the SDK's schema takes. It carries no 2026-07-28 envelope claim.
 */
function plainLegacyMeta(params: unknown): boolean {
  const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  if (meta === undefined) return true;
  return Object.keys(meta).every((k) => k === 'progressToken') && isProgressToken(meta.progressToken);
}

/**
 * The SDK's era classification, with shortcuts:
 * - a single message with a method under a 2026-07-28 `MCP-Protocol-Version` header is never
 *   legacy (the SDK sends even envelope-less ones to its modern path to be refused there);
 * - a single request or notification (its envelope already checked, checkEnvelope) under no
 *   version header or a 2025-era one, whose `_meta` is at most a progress token, is legacy.
 */
export function isLegacy(request: Request, body: unknown, lanes: () => Promise<SdkLanes>): Promise<boolean> | boolean {
  const version = request.headers.get('mcp-protocol-version');
  if (!Array.isArray(body) && typeof (body as Message).method === 'string') {
    if (version !== null && MODERN_VERSIONS.has(version)) return false;
    if ((version === null || LEGACY_VERSIONS.has(version)) && plainLegacyMeta((body as Message).params)) return true;
  }
  return lanes().then((l) => l.isLegacyRequest(request, body));
}

/** The tool a modern request calls when the direct lane may serve it, or ROUTED_CALL for the definition's `directCall`. */
type DirectLane = { accepts(request: Request, body: Record<string, unknown>): ToolDefinition | typeof ROUTED_CALL | undefined };

function route(legacy: boolean, request: Request, body: unknown, direct: DirectLane | undefined): Route {
  if (legacy) return LEGACY;
  if ((body as Message).method === 'subscriptions/listen') return LISTEN;
  const tool = direct?.accepts(request, body as Record<string, unknown>);
  return tool === undefined ? SDK : tool === ROUTED_CALL ? ROUTED : { kind: 'direct', tool };
}

/** What serves a POST whose every envelope is checked; synchronous when the era shortcut decides it. */
export function classify(request: Request, body: unknown, lanes: () => Promise<SdkLanes>, direct: DirectLane | undefined): Route | Promise<Route> {
  const legacy = isLegacy(request, body, lanes);
  return typeof legacy === 'boolean' ? route(legacy, request, body, direct) : legacy.then((l) => route(l, request, body, direct));
}
