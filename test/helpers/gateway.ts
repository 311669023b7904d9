// The gateway for tests and benchmarks: real kit upstreams (notes, echo) on one data plane, and a
// gateway in this process in front of whatever upstreams a test names, configured the way
// MCP_GATEWAY_CONFIG configures it. Callers are the SDK's clients of both eras.
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { nodeTransport } from '../../shared/adapters/upstream-http.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../shared/gateway/gateway.ts';
import type { ServerDefinition } from '../../shared/server/define.ts';
import { startInProcess, startTestDynamo, startTestS3 } from './server.ts';

export const STATE_KEY = 'test-request-state-key-0123456789abcdef';

export interface DataPlane {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startDataPlane(): Promise<DataPlane> {
  const [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
  return {
    env: { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, MCP_REQUEST_STATE_KEY: STATE_KEY, MCP_SSE_KEEPALIVE_MS: '0' },
    stop: () => Promise.all([dynamo.stop(), s3.stop()]).then(() => {}),
  };
}

/** A kit server in this process on the data plane. */
export const startUpstream = (definition: ServerDefinition, plane: DataPlane, env: Record<string, string> = {}) =>
  startInProcess(definition, { ...plane.env, ...env });

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  kit: Awaited<ReturnType<typeof startInProcess>>['kit'];
  stop(): Promise<void>;
}

/**
 * A gateway in this process. `config` is what MCP_GATEWAY_CONFIG would hold; `env` adds the
 * gateway's own variables (auth, credentials the config names). Its upstream calls go over
 * node:http, as functions/gateway/server.ts sends them, unless `options` names another transport.
 */
export async function startGateway(config: object, plane: DataPlane, env: Record<string, string> = {}, options: GatewayOptions = {}): Promise<RunningGateway> {
  const transport = options.transport ? undefined : nodeTransport();
  const gateway = createGateway(
    await loadGatewayConfig({ ...plane.env, MCP_GATEWAY_CONFIG: JSON.stringify(config), ...env }, () => Promise.reject(new Error('no files'))),
    { ...(transport && { transport: transport.send }), ...options },
  );
  const server = await startInProcess(gateway.definition, { ...plane.env, ...env });
  return {
    url: server.url,
    gateway,
    kit: server.kit,
    async stop() {
      await server.stop();
      await gateway.close();
      transport?.close();
    },
  };
}

/** A 2026-07-28 caller (the SDK v2 client pinned to it) that answers elicitations with `confirm`. */
export async function modernCaller(url: string, options: { confirm?: boolean; headers?: Record<string, string> } = {}) {
  const client = new ModernClient(
    { name: 'modern-caller', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: {} } },
  );
  const asked: string[] = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push((request.params as { message: string }).message);
    return { action: 'accept', content: { confirm: options.confirm ?? true } };
  });
  await client.connect(new ModernTransport(new URL(url), { ...(options.headers && { requestInit: { headers: options.headers } }) }));
  return Object.assign(client, { asked });
}

/** A 2025-era caller (the SDK 1.x client, with a session) that answers elicitations with `confirm`. */
export async function legacyCaller(url: string, options: { confirm?: boolean; headers?: Record<string, string> } = {}) {
  const { ElicitRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const client = new LegacyClient({ name: 'legacy-caller', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: 'accept', content: { confirm: options.confirm ?? true } };
  });
  await client.connect(new LegacyTransport(new URL(url), { ...(options.headers && { requestInit: { headers: options.headers } }) }));
  return Object.assign(client, { asked });
}

export const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

/** What the two-caller suites use of a caller, whichever its era. */
export type PlainCaller = {
  callTool(p: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
  readResource(p: { uri: string }): Promise<unknown>;
  close(): Promise<void>;
};

/** A caller of either era that cannot elicit, so confirmations come back as a token to pass in `confirm`. */
export async function plainCaller(era: 'modern' | 'legacy', url: string, headers: Record<string, string>): Promise<PlainCaller> {
  const requestInit = { headers };
  if (era === 'modern') {
    const client = new ModernClient({ name: 'caller', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(url), { requestInit }));
    return client as unknown as PlainCaller;
  }
  const client = new LegacyClient({ name: 'caller', version: '1.0.0' });
  await client.connect(new LegacyTransport(new URL(url), { requestInit }));
  return client as unknown as PlainCaller;
}
