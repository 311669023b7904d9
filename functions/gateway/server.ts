// Example server "gateway": one MCP endpoint in front of the MCP servers named in
// MCP_GATEWAY_UPSTREAMS or MCP_GATEWAY_CONFIG (shared/gateway/). Built from the environment the
// adapter resolved, because upstream credentials come from it (on Lambda, from the secret). Each
// caller's 2025-era upstream sessions are kept in the kit's table, so every instance resumes them.
// Calls go upstream over node:http(s) with keep-alive (shared/adapters/upstream-http.ts), not fetch.
import { readFile } from 'node:fs/promises';
import { nodeTransport } from '../../shared/adapters/upstream-http.ts';
import { loadConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/log.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway } from '../../shared/gateway/gateway.ts';
import type { ServerModule } from '../../shared/server/define.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { DynamoUpstreamSessions } from '../../shared/store/upstream-sessions.ts';

const gateway: ServerModule = async (env) => {
  const kit = loadConfig(env);
  const config = await loadGatewayConfig(env, (path) => readFile(path, 'utf8'));
  const sessions = new DynamoUpstreamSessions(new Table(() => createDynamoClient(kit), kit.tableName), config.name, kit.sessionTtlSeconds);
  const transport = nodeTransport().send;
  return createGateway(config, { metrics: kit.metrics, sessions, log: createLogger(kit, config.name), transport }).definition;
};

export default gateway;
