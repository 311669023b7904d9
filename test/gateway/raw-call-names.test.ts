// A tool name that is no plain header value (non-ASCII, a control character, outer spaces) on the
// raw call's Mcp-Name header (shared/client/raw-call.ts): sent encoded as the SDK's client encodes it
// (SEP-2243's =?base64?...?=), so the raw path answers as the SDK path does, over both transports,
// and a caller's odd name is not an upstream failure: before, node:http and fetch refused the header,
// the refusal counted against the upstream's circuit, and a few such calls opened it for everyone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import { nodeTransport, type NodeTransport } from '../../shared/adapters/upstream-http.ts';
import { ResilientClient } from '../../shared/client/resilient-client.ts';
import { fetchTransport, type UpstreamTransport } from '../../shared/client/transport.ts';
import { modernCaller, startDataPlane, startGateway, startUpstream } from '../helpers/gateway.ts';
import { startInProcess } from '../helpers/server.ts';

const ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  MCP_REQUEST_STATE_KEY: 'raw-call-names-request-state-key-0123456789',
};

const ODD_NAMES = ['café', '工具', 'a\nb', ' padded ', '=?base64?eA==?=', ''];

describe('raw calls: tool names that are no plain header value', () => {
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  let node: NodeTransport;
  const clients: ResilientClient[] = [];
  const client = (options: { transport?: UpstreamTransport; rawCalls?: boolean }) => {
    const c = new ResilientClient({ name: 'up', url: kit.url, protocol: 'modern', retry: { attempts: 1 }, breaker: { failureThreshold: 3 }, ...options });
    clients.push(c);
    return c;
  };
  const outcome = async (c: ResilientClient, name: string) => {
    try {
      return { result: await c.callTool({ name, arguments: { text: 'hi' } }, { timeoutMs: 5_000 }) };
    } catch (err) {
      return { error: (err as Error).name, message: (err as Error).message };
    }
  };

  before(async () => {
    kit = await startInProcess(echo, ENV);
    node = nodeTransport();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    node.close();
    await kit.stop();
  });

  it('answer as the SDK path answers them, and leave the circuit closed (control: the SDK path)', async () => {
    const viaSdk = client({ rawCalls: false });
    for (const [label, transport] of [
      ['fetch', fetchTransport()],
      ['node:http', node.send],
    ] as const) {
      const raw = client({ transport });
      for (const name of ODD_NAMES) {
        const [expected, actual] = [await outcome(viaSdk, name), await outcome(raw, name)];
        assert.deepEqual(actual, expected, `${label}, ${JSON.stringify(name)}`);
        assert.match(JSON.stringify(expected), /not found|Unknown tool|Invalid/i, `the SDK path's own answer to ${JSON.stringify(name)}`);
      }
      assert.equal(raw.status().state, 'closed', `${label}: odd names opened the circuit`);
      assert.match(JSON.stringify(await outcome(raw, 'echo')), /hi/);
    }
  });
});

describe("the gateway: one caller's odd tool names do not close an upstream to the others", () => {
  it('a fresh gateway (its catalog not yet listed) passes them upstream; the next caller is still served', async () => {
    const plane = await startDataPlane();
    const upstream = await startUpstream(echo, plane);
    const gateway = await startGateway({ upstreams: { echo: { url: upstream.url, protocol: 'modern' } } }, plane);
    const [hostile, other] = [await modernCaller(gateway.url), await modernCaller(gateway.url)];
    try {
      // More odd calls than the circuit's default threshold (5) of upstream failures in a row.
      for (let i = 0; i < 6; i++) await hostile.callTool({ name: `echo__工具${i}`, arguments: {} }).catch(() => {});
      const answer = await other.callTool({ name: 'echo__echo', arguments: { text: 'still served' } });
      assert.match(JSON.stringify(answer), /still served/);
    } finally {
      await Promise.all([hostile.close(), other.close()]);
      await gateway.stop();
      await upstream.stop();
      await plane.stop();
    }
  });
});
