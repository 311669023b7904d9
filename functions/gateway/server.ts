// Example server "gateway": one MCP endpoint in front of the MCP servers named in
// MCP_GATEWAY_UPSTREAMS or MCP_GATEWAY_CONFIG (shared/gateway/). Built from the environment the
// adapter resolved, because upstream credentials come from it (on Lambda, from the secret).
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../shared/config.ts';
import { loadGatewayConfig } from '../../shared/gateway/config.ts';
import { createGateway } from '../../shared/gateway/gateway.ts';
import type { ServerModule } from '../../shared/server/define.ts';

const gateway: ServerModule = async (env) => createGateway(await loadGatewayConfig(env, (path) => readFile(path, 'utf8')), { metrics: loadConfig(env).metrics }).definition;

export default gateway;
