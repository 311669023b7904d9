// Post-deploy smoke check: talks to one MCP endpoint with the official clients in both protocol
// eras — SDK v2 (2026-07-28: server/discover) and SDK 1.x (2025 era: initialize, session, DELETE)
// — lists tools, calls `echo`, prints each step's latency and exits non-zero on the first failure.
// Then the two things only a real deploy shows (docs/deploy.md): a 401 carries WWW-Authenticate
// through CloudFront (restored by the edge function), and a silent tool's keep-alives arrive before
// its answer (a server with a `wait` tool, like functions/echo; others say it was skipped).
//
//   npm run smoke -- --url https://d111111abcdef8.cloudfront.net/mcp [--era both|modern|legacy]
//                    [--text hello] [--tool echo] [--timeout 30000] [--api-key mcpk_…] [--header 'Name: value']
//                    [--silence 20]
// The API key may come from MCP_API_KEY instead, which keeps it out of shell history.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const USAGE = `usage: npm run smoke -- --url <mcp endpoint> [--era both|modern|legacy] [--text <echo text>]
                     [--tool <a tool that gives its text back; default echo, or behind a gateway the first <upstream>__echo>]
                     [--timeout <ms per step>] [--api-key <key>] [--header '<Name>: <value>' ...]
                     [--silence <seconds a wait tool stays silent>]
An endpoint with API keys needs one: --api-key, or the MCP_API_KEY environment variable.`;
const ERAS = ['both', 'modern', 'legacy'] as const;
type Era = (typeof ERAS)[number];

interface Options {
  url: URL;
  eras: ('modern' | 'legacy')[];
  text: string;
  /** The tool called: one that gives its `text` argument back. Unset, `echo`, or behind a gateway the first `<upstream>__echo`. */
  tool?: string;
  timeout: number;
  headers: Record<string, string>;
  /** How long the silent call stays silent, in seconds. */
  silence: number;
}

/** A failure already explained to the user; carries the exit code. */
class SmokeFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const clientInfo = {
  name: 'mcp-kit-smoke',
  version: (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version,
};

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        era: { type: 'string', default: 'both' },
        text: { type: 'string', default: 'smoke check' },
        tool: { type: 'string' },
        timeout: { type: 'string', default: '30000' },
        silence: { type: 'string', default: '20' },
        'api-key': { type: 'string' },
        header: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new SmokeFailure(`${(error as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) throw new SmokeFailure(USAGE, 0);
  if (!values.url) throw new SmokeFailure(`missing --url\n${USAGE}`, 2);
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new SmokeFailure(`--url: not a URL: ${values.url}`, 2);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SmokeFailure(`--url: expected http(s), got ${url.protocol}`, 2);
  const era = values.era as Era;
  if (!ERAS.includes(era)) throw new SmokeFailure(`--era: expected one of ${ERAS.join(', ')}, got ${values.era}`, 2);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new SmokeFailure(`--timeout: expected milliseconds, got ${values.timeout}`, 2);
  const silence = Number(values.silence);
  if (!(silence > 0 && silence <= 50)) throw new SmokeFailure(`--silence: expected seconds from 0 to 50, got ${values.silence}`, 2);
  const headers: Record<string, string> = {};
  for (const header of values.header) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new SmokeFailure(`--header: expected "Name: value", got ${header}`, 2);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const apiKey = values['api-key'] ?? (env.MCP_API_KEY?.trim() || undefined);
  if (apiKey !== undefined) {
    if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
      throw new SmokeFailure(
        `--api-key${values['api-key'] === undefined ? ' (from MCP_API_KEY)' : ''} and --header 'Authorization: …' both set the Authorization header; give one`,
        2,
      );
    }
    headers.Authorization = `Bearer ${apiKey}`;
  }
  return { url, eras: era === 'both' ? ['modern', 'legacy'] : [era], text: values.text, tool: values.tool, timeout, headers, silence };
}

/** Runs one step, prints its latency, and turns any error into a SmokeFailure naming the step. */
async function step<T>(era: string, name: string, run: () => Promise<T>, describe: (value: T) => string = () => ''): Promise<T> {
  const started = performance.now();
  try {
    const value = await run();
    const ms = (performance.now() - started).toFixed(0).padStart(6);
    const detail = describe(value);
    console.log(`  ok   ${era.padEnd(6)} ${name.padEnd(30)} ${ms} ms${detail ? `  ${detail}` : ''}`);
    return value;
  } catch (error) {
    const ms = (performance.now() - started).toFixed(0).padStart(6);
    console.log(`  FAIL ${era.padEnd(6)} ${name.padEnd(30)} ${ms} ms`);
    throw new SmokeFailure(`${era} ${name}: ${explain(error)}`, 1);
  }
}

/** The message plus its causes ("fetch failed" alone says nothing; ECONNREFUSED does). */
function explain(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error; e !== undefined && messages.length < 5; e = e instanceof Error ? e.cause : undefined) {
    const message = e instanceof Error ? e.message || e.name : String(e);
    if (!messages.some((m) => m.includes(message))) messages.push(message);
  }
  return messages.join(': ');
}

interface ToolResult {
  content?: unknown;
  structuredContent?: unknown;
  isError?: boolean;
}

/** The echo tool must answer without error and give the text back somewhere in its result. */
function checkEcho(result: ToolResult, text: string, tool: string): string {
  if (result.isError) throw new Error(`${tool} returned an error result: ${JSON.stringify(result.content)}`);
  if (!JSON.stringify([result.content, result.structuredContent]).includes(JSON.stringify(text).slice(1, -1))) {
    throw new Error(`${tool} did not return the text it was sent: ${JSON.stringify(result.content)}`);
  }
  return `echoed ${JSON.stringify(text)}`;
}

/**
 * Settles which tool to call: the one `--tool` named, else `echo`, else (behind a gateway, whose
 * tools are `<upstream>__<name>`) the first upstream's echo, so the gateway banner's command works.
 */
function chooseTool(tools: { name: string }[], options: Options): string {
  const names = tools.map((tool) => tool.name);
  const count = `${tools.length} tool${tools.length === 1 ? '' : 's'}`;
  const wanted = options.tool ?? 'echo';
  if (names.includes(wanted)) {
    options.tool = wanted;
    return count;
  }
  const upstreamEcho = options.tool === undefined ? names.find((name) => name.endsWith('__echo')) : undefined;
  if (upstreamEcho === undefined) {
    throw new Error(`no "${wanted}" tool; the server lists: ${names.join(', ') || 'none'} (pass --tool with a tool that gives its text argument back)`);
  }
  options.tool = upstreamEcho;
  return `${count}; calling ${upstreamEcho} (no echo tool here; --tool picks another)`;
}

async function modernEra(options: Options): Promise<void> {
  const client = new Client(clientInfo, { versionNegotiation: { mode: 'auto' } });
  const transport = new StreamableHTTPClientTransport(options.url, { requestInit: { headers: options.headers } });
  const request = { timeout: options.timeout };
  try {
    await step(
      'modern',
      'connect (server/discover)',
      async () => {
        await client.connect(transport, request);
        // 'auto' falls back to initialize quietly; a smoke check must notice that.
        if (client.getProtocolEra() !== 'modern') throw new Error('the server answered only the legacy initialize handshake, not server/discover');
        return client.getNegotiatedProtocolVersion();
      },
      (version) => `protocol ${version}`,
    );
    await step(
      'modern',
      'tools/list',
      async () => (await client.listTools(undefined, { ...request, cacheMode: 'bypass' })).tools,
      (tools) => chooseTool(tools, options),
    );
    const tool = options.tool!;
    await step(
      'modern',
      `tools/call ${tool}`,
      async () => client.callTool({ name: tool, arguments: { text: options.text } }, request),
      (result) => checkEcho(result, options.text, tool),
    );
  } finally {
    await client.close().catch(() => {});
  }
}

async function legacyEra(options: Options): Promise<void> {
  const client = new LegacyClient(clientInfo, { capabilities: {} });
  const transport = new LegacyTransport(options.url, { requestInit: { headers: options.headers } });
  const request = { timeout: options.timeout };
  try {
    await step(
      'legacy',
      'initialize',
      async () => {
        await client.connect(transport, request);
        return transport.protocolVersion;
      },
      (version) => `protocol ${version ?? 'unknown'}, session ${transport.sessionId ?? 'none'}`,
    );
    await step(
      'legacy',
      'tools/list',
      async () => (await client.listTools(undefined, request)).tools,
      (tools) => chooseTool(tools, options),
    );
    const tool = options.tool!;
    await step(
      'legacy',
      `tools/call ${tool}`,
      async () => (await client.callTool({ name: tool, arguments: { text: options.text } }, undefined, request)) as ToolResult,
      (result) => checkEcho(result, options.text, tool),
    );
    if (transport.sessionId) await step('legacy', 'DELETE session', () => transport.terminateSession());
  } finally {
    await client.close().catch(() => {});
  }
}

/** A plain 2026-07-28 POST, so the check sees every byte's timing and every header as they arrive. */
function rawPost(options: Options, method: string, params: Record<string, unknown>, headers: Record<string, string>, name?: string) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': clientInfo,
  };
  return fetch(options.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name && { 'mcp-name': name }),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
    signal: AbortSignal.timeout(Math.max(options.timeout, (options.silence + 10) * 1000)),
  });
}

const skipped = (name: string, why: string) => console.log(`  skip ${'edge'.padEnd(6)} ${name.padEnd(30)}         ${why}`);

/** API Gateway renames WWW-Authenticate; through CloudFront the edge function must have restored it. */
async function challenge(options: Options): Promise<void> {
  const credentials = Object.fromEntries(
    Object.keys(options.headers)
      .filter((h) => !['authorization', 'x-api-key'].includes(h.toLowerCase()))
      .map((h) => [h, options.headers[h]!]),
  );
  const response = await rawPost(options, 'tools/list', {}, credentials);
  await response.arrayBuffer();
  if (response.status !== 401) return skipped('401 WWW-Authenticate', `answered ${response.status} without credentials: no challenge to check`);
  await step(
    'edge',
    '401 WWW-Authenticate',
    async () => {
      const header = response.headers.get('www-authenticate');
      if (header?.startsWith('Bearer')) return header;
      const renamed = response.headers.get('x-amzn-remapped-www-authenticate') !== null;
      throw new Error(
        `the 401 has ${renamed ? 'x-amzn-Remapped-WWW-Authenticate' : 'no WWW-Authenticate'}: the origin-response Lambda@Edge function did not restore it`,
      );
    },
    (header) => header.slice(0, 50),
  );
}

/** A tool silent for --silence seconds: a keep-alive must reach the client before the answer. */
async function keepAlive(options: Options): Promise<void> {
  const listed = (await (await rawPost(options, 'tools/list', {}, options.headers)).json()) as { result?: { tools?: { name: string }[] } };
  const tool = listed.result?.tools?.map((t) => t.name).find((n) => n === 'wait' || n.endsWith('__wait'));
  if (!tool) return skipped('keep-alives of a silent call', 'no "wait" tool here: point --url at the echo server (or run npm run verify)');
  await step(
    'edge',
    `keep-alives (${tool} ${options.silence} s)`,
    async () => {
      const started = performance.now();
      const response = await rawPost(options, 'tools/call', { name: tool, arguments: { seconds: options.silence } }, options.headers, tool);
      const reader = response.body!.getReader();
      let text = '';
      let firstMs: number | undefined;
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        firstMs ??= performance.now() - started;
        text += Buffer.from(chunk.value).toString();
      }
      if (!text.includes(`waited ${options.silence} s`)) throw new Error(`answered ${response.status}: ${text.slice(0, 200)}`);
      if (firstMs === undefined || firstMs >= options.silence * 1000) {
        throw new Error(
          `the first byte arrived after ${Math.round(firstMs ?? 0)} ms, after the silence: something on the path buffers streamed answers (or --silence is shorter than the server's keep-alive interval, 15 s deployed)`,
        );
      }
      return firstMs;
    },
    (firstMs) => `first byte after ${Math.round(firstMs)} ms`,
  );
}

/** A 401 to a check that sent no credentials is the usual first failure against a deployment: say what to pass. */
function withCredentialsHint(error: unknown, options: Options): unknown {
  const sentCredentials = Object.keys(options.headers).some((name) => name.toLowerCase() === 'authorization');
  if (!(error instanceof SmokeFailure) || sentCredentials || !/\b401\b/.test(error.message)) return error;
  return new SmokeFailure(
    `${error.message}\nThe endpoint wants credentials: --api-key <key> or MCP_API_KEY for an API key, --header 'Authorization: Bearer <token>' for an OAuth token.`,
    error.exitCode,
  );
}

async function main(argv: string[]): Promise<number> {
  try {
    const options = parseOptions(argv, process.env);
    console.log(`MCP smoke check: ${options.url.href}`);
    const started = performance.now();
    try {
      for (const era of options.eras) await (era === 'modern' ? modernEra(options) : legacyEra(options));
      await challenge(options);
      await keepAlive(options);
    } catch (error) {
      throw withCredentialsHint(error, options);
    }
    console.log(`passed (${options.eras.join(' + ')}) in ${(performance.now() - started).toFixed(0)} ms`);
    return 0;
  } catch (error) {
    if (error instanceof SmokeFailure) {
      (error.exitCode === 0 ? console.log : console.error)(error.exitCode === 1 ? `smoke check failed: ${error.message}` : error.message);
      return error.exitCode;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
