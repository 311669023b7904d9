// The gateway's configuration: which upstream MCP servers it fronts and how it reaches each one,
// parsed once from the environment into a frozen typed object; a bad value throws a ConfigError
// naming the variable (and the upstream). Upstreams come from MCP_GATEWAY_UPSTREAMS
// (`name=url,name=url`, defaults for everything else) or MCP_GATEWAY_CONFIG (a JSON file, or the
// JSON itself, for per-upstream settings). Credentials are never written in the configuration: it
// names the variables that hold them, which on Lambda the data plane's secret fills. Each upstream
// sees the gateway's callers as themselves (on-behalf-of, the default: a signed assertion per
// caller, its key derived from MCP_REQUEST_STATE_KEY) or as the gateway (its own credential), and
// a gateway that admits more than one caller shares its identity only where the config says so.
import * as z from 'zod/v4';
import { ConfigError, GATEWAY_NAME } from '../config.ts';
import { ORIGIN_VERIFY_HEADER } from '../http/origin-verify.ts';
import type { BreakerOptions } from '../client/breaker.ts';
import type { Protocol } from '../client/connection.ts';
import type { TimeoutOptions } from '../client/resilient-client.ts';
import type { RetryOptions } from '../client/retry.ts';
import { DEFAULT_MAX_ANSWER_BYTES } from '../client/answer-limit.ts';
import { VARIABLES } from '../config/variables.ts';

type Env = Record<string, string | undefined>;

/** Lowercase letters, digits and hyphens: valid in tool names, and as a URI scheme prefix. */
export const UPSTREAM_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export type UpstreamCredentials =
  | { kind: 'apikey'; apiKey: string; header: string }
  | { kind: 'oauth'; clientId: string; clientSecret: string; issuer: string; scope?: string };

export interface UpstreamConfig {
  name: string;
  url: string;
  protocol: Protocol;
  credentials?: UpstreamCredentials;
  timeouts: TimeoutOptions;
  retry: RetryOptions;
  breaker: BreakerOptions;
  /** TTL of list results without a `ttlMs` hint (2025-era upstreams). */
  listTtlMs: number;
  /** The most of one answer (a JSON body, one SSE event) read from it; past it the call fails (ResilientClientOptions.maxAnswerBytes). */
  maxAnswerBytes: number;
  /** Who may reach this upstream through the gateway: listed principals (any when absent), holding every listed scope. */
  access: { principals?: readonly string[]; scopes: readonly string[] };
  /** Sent with every request: the origin header of a kit upstream reached on its API Gateway URL. */
  headers: Readonly<Record<string, string>>;
  /**
   * Who the upstream sees: each caller as itself, vouched for by the gateway's signed assertion
   * (`on-behalf-of`, for kit servers that list the gateway in MCP_TRUSTED_GATEWAYS), or the gateway,
   * with its own credential (`gateway`: every caller is one principal there).
   */
  identity: 'on-behalf-of' | 'gateway';
  /** On-behalf-of: the caller's scopes the upstream may see (the assertion carries the caller's scopes among these). */
  forwardScopes: readonly string[];
}

export interface GatewayConfig {
  /** The gateway's name toward upstreams: its assertions' `iss` and `act.sub`. `MCP_GATEWAY_NAME` or `name`, default `gateway`. */
  name: string;
  /** The key on-behalf-of assertions are signed with (derived from it): `MCP_REQUEST_STATE_KEY`. Absent when no upstream is on-behalf-of. */
  signingSecret?: string;
  /** Callers holding this scope see each upstream's state in `GET /health?ready`; others see counts. `MCP_GATEWAY_ADMIN_SCOPE` or `adminScope`, default `gateway:admin`. */
  adminScope: string;
  upstreams: readonly UpstreamConfig[];
  /** How long a list waits for each upstream before answering without it. `MCP_GATEWAY_LIST_TIMEOUT_MS`, default 5000. */
  listTimeoutMs: number;
}

const ms = z.number().int().min(0);
/** At least 64 KiB: less would refuse ordinary lists. */
const answerBytes = z.number().int().min(65_536);
const upstreamSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    protocol: z.enum(['auto', 'modern', 'legacy']).default('auto'),
    auth: z
      .union([
        z.object({ apiKeyVariable: z.string().min(1), header: z.string().min(1).default('authorization') }).strict(),
        z.object({ clientId: z.string().min(1), clientSecretVariable: z.string().min(1), issuer: z.url(), scope: z.string().optional() }).strict(),
      ])
      .optional(),
    timeouts: z.object({ connectMs: ms, requestMs: ms, callMs: ms }).partial().strict().default({}),
    retry: z
      .object({ attempts: z.number().int().min(1).max(10), baseDelayMs: ms, maxDelayMs: ms, maxRetryAfterMs: ms })
      .partial()
      .strict()
      .default({}),
    breaker: z
      .object({ failureThreshold: z.number().int().min(1), cooldownMs: ms })
      .partial()
      .strict()
      .default({}),
    listTtlMs: ms.default(0),
    maxAnswerBytes: answerBytes.optional(),
    access: z
      .object({ principals: z.array(z.string().min(1)).optional(), scopes: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ scopes: [] }),
    originVerifyVariable: z.string().min(1).optional(),
    identity: z.enum(['on-behalf-of', 'gateway']).default('on-behalf-of'),
    shareIdentity: z.boolean().default(false),
    forwardScopes: z.array(z.string().min(1)).default([]),
  })
  .strict();
const fileSchema = z
  .object({
    upstreams: z.record(z.string(), upstreamSchema),
    listTimeoutMs: ms.optional(),
    maxAnswerBytes: answerBytes.optional(),
    name: z.string().regex(GATEWAY_NAME).optional(),
    adminScope: z.string().min(1).optional(),
  })
  .strict();

type UpstreamInput = z.output<typeof upstreamSchema>;

function secret(env: Env, variable: string, upstream: string): string {
  const value = env[variable]?.trim();
  if (!value)
    throw new ConfigError(
      variable,
      `is not set: upstream "${upstream}" reads its credential from it (on Lambda, put it in the data plane's secret under that key)`,
    );
  return value;
}

function credentials(env: Env, name: string, auth: UpstreamInput['auth']): UpstreamCredentials | undefined {
  if (!auth) return undefined;
  if ('apiKeyVariable' in auth) return { kind: 'apikey', apiKey: secret(env, auth.apiKeyVariable, name), header: auth.header };
  return {
    kind: 'oauth',
    clientId: auth.clientId,
    clientSecret: secret(env, auth.clientSecretVariable, name),
    issuer: auth.issuer,
    ...(auth.scope && { scope: auth.scope }),
  };
}

/** The identity settings that would be wrong: a credential beside an assertion, or callers merged unasked. */
function checkIdentity(variable: string, name: string, input: UpstreamInput, manyCallers: boolean) {
  if (input.identity === 'on-behalf-of' && input.auth) {
    throw new ConfigError(
      variable,
      `upstream "${name}": "auth" is the gateway's own credential, sent only with "identity": "gateway"; on-behalf-of, the gateway's signed assertion is its credential (the upstream lists this gateway in MCP_TRUSTED_GATEWAYS). Drop "auth", or set "identity": "gateway" for a server that is not a kit server`,
    );
  }
  if (input.identity === 'gateway' && manyCallers && !input.shareIdentity) {
    throw new ConfigError(
      variable,
      `upstream "${name}": "identity": "gateway" makes every caller of this gateway one principal upstream, sharing its state, handles, quotas and confirmations. ` +
        'Use "identity": "on-behalf-of" for a kit server (it lists this gateway in MCP_TRUSTED_GATEWAYS), or set "shareIdentity": true to accept that (for a server that keeps nothing per caller)',
    );
  }
  if (input.identity === 'gateway' && input.forwardScopes.length > 0)
    throw new ConfigError(
      variable,
      `upstream "${name}": forwardScopes applies to on-behalf-of only; with "identity": "gateway" no caller scope reaches the upstream`,
    );
}

function upstream(env: Env, name: string, input: UpstreamInput, maxAnswerBytes: number): UpstreamConfig {
  const creds = credentials(env, name, input.auth);
  return Object.freeze({
    name,
    url: input.url,
    protocol: input.protocol,
    ...(creds && { credentials: Object.freeze(creds) }),
    timeouts: input.timeouts,
    retry: input.retry,
    breaker: input.breaker,
    listTtlMs: input.listTtlMs,
    maxAnswerBytes: input.maxAnswerBytes ?? maxAnswerBytes,
    access: Object.freeze({
      ...(input.access.principals && { principals: Object.freeze(input.access.principals) }),
      scopes: Object.freeze(input.access.scopes),
    }),
    headers: Object.freeze<Record<string, string>>(input.originVerifyVariable ? { [ORIGIN_VERIFY_HEADER]: secret(env, input.originVerifyVariable, name) } : {}),
    identity: input.identity,
    forwardScopes: Object.freeze(input.forwardScopes),
  });
}

/** `name=url,name=url`. */
function fromList(raw: string): Record<string, unknown> {
  const upstreams: Record<string, unknown> = {};
  for (const pair of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError('MCP_GATEWAY_UPSTREAMS', `expected name=url pairs separated by commas, got "${pair}"`);
    const name = pair.slice(0, at).trim();
    if (name in upstreams) throw new ConfigError('MCP_GATEWAY_UPSTREAMS', `upstream "${name}" is named twice`);
    upstreams[name] = { url: pair.slice(at + 1).trim() };
  }
  return { upstreams };
}

async function fromConfig(raw: string, readFile: (path: string) => Promise<string>): Promise<unknown> {
  const text = raw.startsWith('{')
    ? raw
    : await readFile(raw).catch((err: Error) => {
        throw new ConfigError('MCP_GATEWAY_CONFIG', `cannot read ${raw}: ${err.message}`);
      });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError('MCP_GATEWAY_CONFIG', `is not valid JSON: ${(err as Error).message}`);
  }
}

/** `readFile` is how MCP_GATEWAY_CONFIG is read when it names a file (the adapters pass node:fs). */
export async function loadGatewayConfig(env: Env, readFile: (path: string) => Promise<string>): Promise<Readonly<GatewayConfig>> {
  const list = env.MCP_GATEWAY_UPSTREAMS?.trim();
  const file = env.MCP_GATEWAY_CONFIG?.trim();
  if (list && file) throw new ConfigError('MCP_GATEWAY_CONFIG', 'set MCP_GATEWAY_UPSTREAMS or MCP_GATEWAY_CONFIG, not both');
  if (!list && !file) {
    throw new ConfigError(
      'MCP_GATEWAY_UPSTREAMS',
      'no upstreams: set MCP_GATEWAY_UPSTREAMS=notes=https://…/mcp,echo=https://…/mcp, or MCP_GATEWAY_CONFIG to a JSON file with per-upstream settings',
    );
  }
  const variable = list ? 'MCP_GATEWAY_UPSTREAMS' : 'MCP_GATEWAY_CONFIG';
  const parsed = fileSchema.safeParse(list ? fromList(list) : await fromConfig(file!, readFile));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(variable, problems);
  }
  const entries = Object.entries(parsed.data.upstreams);
  if (entries.length === 0) throw new ConfigError(variable, 'names no upstream');
  for (const [name] of entries) {
    if (!UPSTREAM_NAME.test(name))
      throw new ConfigError(
        variable,
        `upstream name "${name}" must be lowercase letters, digits and hyphens, starting with a letter, at most 32 characters (it prefixes tool names and resource URIs)`,
      );
  }
  // Without authentication every caller is `anonymous`: one principal, nothing to keep apart.
  const manyCallers = (env.MCP_AUTH_MODE?.trim().toLowerCase() || 'none') !== 'none';
  for (const [name, input] of entries) checkIdentity(variable, name, input, manyCallers);
  const rawTimeout = env.MCP_GATEWAY_LIST_TIMEOUT_MS?.trim();
  if (rawTimeout !== undefined && rawTimeout !== '' && !/^\d+$/.test(rawTimeout))
    throw new ConfigError('MCP_GATEWAY_LIST_TIMEOUT_MS', `expected a whole number, got "${rawTimeout}"`);
  const name = env.MCP_GATEWAY_NAME?.trim() || parsed.data.name || VARIABLES.MCP_GATEWAY_NAME.default;
  if (!GATEWAY_NAME.test(name))
    throw new ConfigError(
      'MCP_GATEWAY_NAME',
      `"${name}" must be lowercase letters, digits and hyphens, starting with a letter, at most 64 characters (upstreams name callers gateway:${name}#…)`,
    );
  const signingSecret = env.MCP_REQUEST_STATE_KEY?.trim();
  if (!signingSecret && entries.some(([, input]) => input.identity === 'on-behalf-of')) {
    throw new ConfigError(
      'MCP_REQUEST_STATE_KEY',
      "is not set: the gateway derives the key that signs its on-behalf-of assertions from it (on Lambda it is in the data plane's secret; `npm run gateway` sets one)",
    );
  }
  return Object.freeze({
    name,
    ...(signingSecret && { signingSecret }),
    adminScope: env.MCP_GATEWAY_ADMIN_SCOPE?.trim() || parsed.data.adminScope || VARIABLES.MCP_GATEWAY_ADMIN_SCOPE.default,
    upstreams: Object.freeze(entries.map(([name, input]) => upstream(env, name, input, parsed.data.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES))),
    listTimeoutMs: rawTimeout ? Number(rawTimeout) : (parsed.data.listTimeoutMs ?? VARIABLES.MCP_GATEWAY_LIST_TIMEOUT_MS.default),
  });
}
