// The kit's ResilientClient under the official conformance suite's client scenarios. The suite runs
// `tsx test/conformance/client.ts <server-url>` with MCP_CONFORMANCE_SCENARIO (what to do),
// MCP_CONFORMANCE_PROTOCOL_VERSION (which lifecycle: a 2025 session through 2025-11-25, stateless
// `_meta` from 2026-07-28) and, for some scenarios, MCP_CONFORMANCE_CONTEXT (credentials, calls).
// Every scenario goes through ResilientClient; this file only plays the caller (and, for
// authorization-code grants, the user agent of a user who has already consented). Scenarios that do
// not apply are listed with the reason in client-expected.json, and refused here.
import { readFileSync } from 'node:fs';
import {
  ClientCredentialsProvider,
  CrossAppAccessProvider,
  PrivateKeyJwtProvider,
  requestJwtAuthorizationGrant,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthTokens,
} from '@modelcontextprotocol/client';
import { ResilientClient, type ResilientClientOptions } from '../../shared/client/resilient-client.ts';
import { ConsentedUserAgent, REDIRECT_URL } from '../helpers/consented-user-agent.ts';

type Context = Record<string, unknown> & { name?: string };
type Scenario = (url: string, context: Context) => Promise<void>;

const CLIENT_INFO = { name: 'serverless-mcp-kit-conformance', version: '0.1.0' };
/** Offered as a URL client id (SEP-991) where the authorization server supports metadata documents. */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The lifecycle of the asked revision: stateless from 2026-07-28, a 2025 session before. */
function protocolOf(version: string | undefined): 'modern' | 'legacy' {
  return version !== undefined && version >= '2026-07-28' ? 'modern' : 'legacy';
}

function client(url: string, options: Pick<ResilientClientOptions, 'auth' | 'capabilities' | 'onElicitation'> = {}) {
  return new ResilientClient({
    name: 'conformance',
    url,
    protocol: protocolOf(process.env.MCP_CONFORMANCE_PROTOCOL_VERSION),
    clientInfo: CLIENT_INFO,
    // The suite runs many scenarios at once: a slow machine is not what is tested.
    timeouts: { connectMs: 20_000, requestMs: 20_000, callMs: 20_000 },
    // One attempt: the suite counts requests, and a retry would hide what failed.
    retry: { attempts: 1 },
    ...options,
  });
}

/** Runs `body` and ends the client's session either way. */
async function using(c: ResilientClient, body: (c: ResilientClient) => Promise<void>) {
  try {
    await body(c);
  } finally {
    await c.close();
  }
}

/** List the tools, then call the scenario's tool. */
async function listAndCall(c: ResilientClient, name: string, args: Record<string, unknown> = {}) {
  const { tools } = await c.listTools();
  if (!tools.some((t) => t.name === name)) throw new Error(`the server lists no tool ${name}`);
  await c.callTool({ name, arguments: args });
}

/** The well-behaved OAuth client: authorize as the server asks, then list and call. */
function authorizationCode(options: { metadataUrl?: string; dpop?: boolean } = {}): Scenario {
  return (url) => using(client(url, { auth: new ConsentedUserAgent(options).auth() }), (c) => listAndCall(c, 'test-tool'));
}

function withContext<T>(context: Context, ...fields: string[]): T {
  for (const f of fields) if (typeof context[f] !== 'string') throw new Error(`MCP_CONFORMANCE_CONTEXT has no ${f}`);
  return context as T;
}

/** A machine-to-machine grant: connect and list (the scenarios' servers have nothing to call). */
function machine(provider: (context: Context) => OAuthClientProvider): Scenario {
  return (url, context) => using(client(url, { auth: { oauth: provider(context) } }), async (c) => void (await c.listTools()));
}

const SCENARIOS: Record<string, Scenario> = {
  initialize: (url) => using(client(url), async (c) => void (await c.listTools())),
  tools_call: (url) => using(client(url), (c) => listAndCall(c, 'add_numbers', { a: 5, b: 3 })),
  // The server ends the call's stream early with a `retry` hint; the answer comes on the resumed stream.
  'sse-retry': (url) => using(client(url), (c) => listAndCall(c, 'test_reconnection')),
  'request-metadata': (url) =>
    using(client(url, { capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: {} } }), async (c) => void (await c.listTools())),
  // The caller accepts with nothing filled in: the SDK applies the schema's defaults.
  'elicitation-sep1034-client-defaults': (url) =>
    using(
      client(url, { capabilities: { elicitation: { form: { applyDefaults: true } } }, onElicitation: async () => ({ action: 'accept', content: {} }) }),
      (c) => listAndCall(c, 'test_client_elicitation_defaults'),
    ),
  'json-schema-ref-no-deref': (url) => using(client(url), async (c) => void (await c.listTools())),
  'json-schema-2020-12-preservation': (url) =>
    using(client(url), async (c) => {
      const focal = (await c.listTools()).tools.find((t) => t.name === 'json_schema_2020_12_tool');
      if (!focal) throw new Error('the server lists no json_schema_2020_12_tool');
      await c.callTool({ name: 'json_schema_echo', arguments: { schema: focal.inputSchema } });
    }),
  'http-standard-headers': (url) =>
    using(client(url), async (c) => {
      const [tool] = (await c.listTools()).tools;
      if (tool) await c.callTool({ name: tool.name, arguments: {} });
      const [resource] = (await c.listResources()).resources;
      if (resource) await c.readResource({ uri: resource.uri });
      const [prompt] = (await c.listPrompts()).prompts;
      if (prompt) await c.getPrompt({ name: prompt.name, arguments: {} });
    }),
  'http-custom-headers': (url, context) =>
    using(client(url), async (c) => {
      await c.listTools();
      for (const call of (context.toolCalls ?? []) as { name: string; arguments: Record<string, unknown> }[]) await c.callTool(call);
    }),
  // Tools whose headers the client cannot send are left out of the list: what is left is callable.
  'http-invalid-tool-headers': (url) =>
    using(client(url), async (c) => {
      for (const tool of (await c.listTools()).tools) await c.callTool({ name: tool.name, arguments: { region: 'us-west1' } });
    }),
  'sep-2322-client-request-state': (url) => using(client(url, { capabilities: { elicitation: {} } }), answerInputRequests),

  ...Object.fromEntries(
    [
      'auth/metadata-default',
      'auth/metadata-var1',
      'auth/metadata-var2',
      'auth/metadata-var3',
      'auth/2025-03-26-oauth-metadata-backcompat',
      'auth/2025-03-26-oauth-endpoint-fallback',
      'auth/scope-from-www-authenticate',
      'auth/scope-from-scopes-supported',
      'auth/scope-omitted-when-undefined',
      'auth/scope-step-up',
      'auth/scope-retry-limit',
      'auth/token-endpoint-auth-basic',
      'auth/token-endpoint-auth-post',
      'auth/token-endpoint-auth-none',
      'auth/resource-mismatch',
      'auth/offline-access-scope',
      'auth/offline-access-not-supported',
      'auth/authorization-server-migration',
      'auth/iss-supported',
      'auth/iss-not-advertised',
      'auth/iss-supported-missing',
      'auth/iss-wrong-issuer',
      'auth/iss-unexpected',
      'auth/iss-normalized',
      'auth/metadata-issuer-mismatch',
    ].map((name) => [name, authorizationCode()]),
  ),
  'auth/basic-cimd': authorizationCode({ metadataUrl: CLIENT_METADATA_URL }),
  'auth/dpop': authorizationCode({ dpop: true }),
  'auth/dpop-nonce': authorizationCode({ dpop: true }),
  'auth/pre-registration': (url, context) => {
    const { client_id, client_secret } = withContext<{ client_id: string; client_secret: string }>(context, 'client_id', 'client_secret');
    const agent = new ConsentedUserAgent({ registered: { client_id, client_secret, redirect_uris: [REDIRECT_URL] } });
    return using(client(url, { auth: agent.auth() }), (c) => listAndCall(c, 'test-tool'));
  },
  'auth/client-credentials-basic': machine((context) => {
    const { client_id, client_secret } = withContext<{ client_id: string; client_secret: string }>(context, 'client_id', 'client_secret');
    return new ClientCredentialsProvider({ clientId: client_id, clientSecret: client_secret });
  }),
  'auth/client-credentials-jwt': machine((context) => {
    const { client_id, private_key_pem, signing_algorithm } = withContext<{ client_id: string; private_key_pem: string; signing_algorithm?: string }>(
      context,
      'client_id',
      'private_key_pem',
    );
    return new PrivateKeyJwtProvider({ clientId: client_id, privateKey: private_key_pem, algorithm: signing_algorithm ?? 'ES256' });
  }),
  'auth/enterprise-managed-authorization': machine(enterpriseManaged),
  'auth/wif-jwt-bearer': machine((context) => {
    const { client_id, valid_jwt } = withContext<{ client_id: string; valid_jwt: string }>(context, 'client_id', 'valid_jwt');
    return new WorkloadIdentity(client_id, valid_jwt);
  }),
  'auth/cross-app-access-complete-flow': machine(enterpriseManaged),
};

/**
 * A workload's own identity token as the grant (RFC 7523 JWT bearer, SEP-1933): no client secret,
 * no user. A refused assertion is not sent twice.
 */
class WorkloadIdentity implements OAuthClientProvider {
  private saved?: OAuthTokens;
  private sent = false;
  private info: OAuthClientInformationMixed;
  readonly redirectUrl = undefined;
  readonly clientMetadata: OAuthClientMetadata = {
    client_name: CLIENT_INFO.name,
    redirect_uris: [],
    grant_types: [JWT_BEARER],
    token_endpoint_auth_method: 'none',
  };

  constructor(
    clientId: string,
    private readonly assertion: string,
  ) {
    this.info = { client_id: clientId };
  }

  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(): never {
    throw new Error('a JWT bearer grant has no authorization request');
  }
  saveCodeVerifier() {}
  codeVerifier(): never {
    throw new Error('a JWT bearer grant has no PKCE verifier');
  }
  prepareTokenRequest(scope?: string) {
    if (this.sent) throw new Error('the workload assertion was refused; it is not sent again');
    this.sent = true;
    return new URLSearchParams({ grant_type: JWT_BEARER, assertion: this.assertion, ...(scope && { scope }) });
  }
}

/** SEP-990: the IdP's ID token exchanged for an authorization grant, then for an access token. */
function enterpriseManaged(context: Context): OAuthClientProvider {
  const ctx = withContext<Record<'client_id' | 'client_secret' | 'idp_client_id' | 'idp_id_token' | 'idp_token_endpoint', string>>(
    context,
    'client_id',
    'client_secret',
    'idp_client_id',
    'idp_id_token',
    'idp_token_endpoint',
  );
  return new CrossAppAccessProvider({
    clientId: ctx.client_id,
    clientSecret: ctx.client_secret,
    assertion: async (auth) =>
      (
        await requestJwtAuthorizationGrant({
          tokenEndpoint: ctx.idp_token_endpoint,
          audience: auth.authorizationServerUrl,
          resource: auth.resourceUrl,
          idToken: ctx.idp_id_token,
          clientId: ctx.idp_client_id,
          fetchFn: auth.fetchFn,
        })
      ).jwtAuthGrant,
  });
}

/**
 * SEP-2322 as the client's caller does it: an `input_required` answer comes back from
 * ResilientClient as it is; the caller answers its elicitations and calls again with
 * `inputResponses` and the `requestState` the server sent, byte for byte (none when it sent none).
 */
async function answerInputRequests(c: ResilientClient) {
  const answered = async (name: string, between?: () => Promise<unknown>) => {
    const first = (await c.callTool({ name, arguments: {} })) as {
      resultType?: string;
      inputRequests?: Record<string, { method: string }>;
      requestState?: string;
    };
    if (first.resultType !== 'input_required') return;
    const inputResponses = Object.fromEntries(
      Object.entries(first.inputRequests ?? {}).map(([key, request]) => {
        if (request.method !== 'elicitation/create') throw new Error(`cannot answer ${request.method}`);
        return [key, { action: 'accept', content: { confirmed: true } }];
      }),
    );
    await between?.();
    await c.callTool({ name, arguments: {}, inputResponses, ...(first.requestState !== undefined && { requestState: first.requestState }) });
  };
  await c.listTools();
  // An unrelated call between the rounds carries nothing of them.
  await answered('test_mrtr_echo_state', () => c.callTool({ name: 'test_mrtr_unrelated', arguments: {} }));
  await answered('test_mrtr_no_state');
  // A result without `resultType` is complete: it is not sent again, whether the client accepts or refuses it.
  await c.callTool({ name: 'test_mrtr_no_result_type', arguments: {} }).catch(() => {});
}

/** Scenarios listed as not applying: refused with their reason, so a run that reaches one says why. */
const NOT_APPLICABLE = (JSON.parse(readFileSync(new URL('./client-expected.json', import.meta.url), 'utf8')) as { notApplicable: Record<string, string> })
  .notApplicable;

async function main() {
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  const url = process.argv[2];
  if (!url) throw new Error('usage: MCP_CONFORMANCE_SCENARIO=<scenario> tsx test/conformance/client.ts <server-url>');
  const reason = NOT_APPLICABLE[scenario];
  if (reason) throw new Error(`${scenario} does not apply to the kit's client: ${reason}`);
  const run = SCENARIOS[scenario];
  if (!run) throw new Error(`unknown scenario "${scenario}"; known: ${Object.keys(SCENARIOS).sort().join(', ')}`);
  await run(url, JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Context);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
