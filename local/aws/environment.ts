// The environment a function gets on the modelled path: what McpServerEndpoint would set
// (infra/endpoint/settings.ts, the same code), then the local data plane's endpoints and
// secrets, then any MCP_* variable of the caller's own, so a setting can be tried locally.
import { kitEnvironment, resolveEndpointSettings } from '../../infra/endpoint/settings.ts';

type Env = Record<string, string | undefined>;

/** Variables of the caller's environment that reach the function; the model's own knobs stay out. */
const PASSED = /^(MCP_|AWS_|UPSTASH_|LOG_LEVEL$|POWERTOOLS_)/;

/**
 * Streams may hold half the modelled environments (the most the construct allows): the model has
 * ten where an account has a thousand, and a tenth of ten would let one client listen at a time.
 */
const MODEL_STREAM_SHARE = 0.5;

/**
 * `timeoutSeconds`: the modelled function's timeout, which the construct derives limits from;
 * `concurrency`: its environments (MCP_AWS_CONCURRENCY), the concurrency the construct sizes the
 * stream caps from, as an account's with nothing reserved.
 */
export function modelledEnvironment(serverName: string, local: Env, timeoutSeconds?: number, concurrency?: number): Record<string, string> {
  const settings = resolveEndpointSettings({
    serverName,
    ...(timeoutSeconds !== undefined && { timeoutSeconds }),
    ...(concurrency !== undefined && { accountQuotas: { lambdaConcurrency: concurrency }, streamShare: MODEL_STREAM_SHARE }),
  });
  const construct = kitEnvironment(settings, {
    tableName: local.MCP_TABLE_NAME ?? 'mcp-kit',
    bucketName: local.MCP_BUCKET_NAME ?? 'mcp-kit-artifacts',
    // Auth comes from the caller; an open endpoint is allowed only because the model serves loopback.
    authEnvironment: { MCP_AUTH_MODE: 'none', MCP_ALLOW_UNAUTHENTICATED: 'true' },
  });
  const out: Record<string, string> = { ...construct };
  for (const [name, value] of Object.entries(local)) {
    if (value !== undefined && PASSED.test(name) && !name.startsWith('MCP_AWS_')) out[name] = value;
  }
  return out;
}
