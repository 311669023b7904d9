// The gateway as `cdk deploy` runs it, on the deployed path modelled locally (npm run start:aws):
// functions/gateway/handler.ts bundled as the construct bundles it, in modelled Lambda
// environments behind API Gateway and CloudFront, in front of two kit servers. Consecutive
// requests of one client land in different environments, so a multi round-trip confirmation
// through the gateway is answered by an environment that did not ask it. Two callers through a
// modelled gateway are in deployed-identity.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import notes from '../../functions/notes/server.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { legacyCaller, modernCaller, startDataPlane, startGateway, startUpstream, text } from '../helpers/gateway.ts';

describe('gateway on the modelled deployed path', () => {
  let path: AwsPath;
  let stopAll: () => Promise<void>;

  before(async () => {
    const plane = await startDataPlane();
    const [notesServer, echoServer] = await Promise.all([startUpstream(notes, plane), startUpstream(echo, plane)]);
    path = await startAwsPath(
      'functions/gateway/handler.ts',
      { MCP_GATEWAY_UPSTREAMS: `notes=${notesServer.url},echo=${echoServer.url}` },
      { concurrency: 4, s3: true },
    );
    stopAll = async () => {
      await path.stop();
      await Promise.all([notesServer.stop(), echoServer.stop()]);
      await plane.stop();
    };
  });
  after(() => stopAll());

  it("lists and routes both upstreams' tools in both eras", async () => {
    for (const caller of [await modernCaller(path.url), await legacyCaller(path.url)]) {
      const names = (await caller.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('notes__note_add') && names.includes('echo__echo'), names.join(', '));
      assert.equal(text(await caller.callTool({ name: 'echo__echo', arguments: { text: 'via Lambda' } })), 'via Lambda');
      await caller.close();
    }
  });

  it("completes an upstream's confirmation round whichever environment the retry reaches", async () => {
    const caller = await modernCaller(path.url);
    const handle = ((await caller.callTool({ name: 'notes__note_add', arguments: { text: 'doomed' } })).structuredContent as { notebook: string }).notebook;
    assert.match(text(await caller.callTool({ name: 'notes__notebook_clear', arguments: { notebook: handle } })), /^Cleared h_/);
    assert.deepEqual(caller.asked, [`Delete all 1 notes in ${handle}?`]);
    await caller.close();
  });

  it('reports how many upstreams are up in GET /health?ready, naming none to an anonymous caller', async () => {
    const res = await fetch(new URL('/health?ready', path.url));
    const body = (await res.json()) as { upstreams: Record<string, unknown> };
    assert.equal(res.status, 200);
    assert.deepEqual(body.upstreams, { total: 2, ok: 2, unavailable: 0, 'circuit open': 0 });
  });
});

describe('gateway calling a kit upstream on its API Gateway URL, as McpGateway wires it', () => {
  let upstream: AwsPath;
  let plane: Awaited<ReturnType<typeof startDataPlane>>;
  const gateways: { stop(): Promise<void> }[] = [];

  before(async () => {
    [upstream, plane] = await Promise.all([startAwsPath('functions/echo/handler.ts', {}, { concurrency: 2 }), startDataPlane()]);
  });
  after(async () => {
    for (const gateway of gateways) await gateway.stop();
    await Promise.all([upstream?.stop(), plane?.stop()]);
  });

  /** A gateway whose "echo" upstream is the API URL, sending the origin secret from MCP_ORIGIN_SECRET or not. */
  async function gatewayTo(withHeader: boolean) {
    const secret = Object.values(upstream.originHeaders)[0]!;
    const gateway = await startGateway(
      { upstreams: { echo: { url: upstream.apiUrl, ...(withHeader && { originVerifyVariable: 'MCP_ORIGIN_SECRET' }) } } },
      plane,
      { MCP_ORIGIN_SECRET: secret },
    );
    gateways.push(gateway);
    return modernCaller(gateway.url);
  }

  it('reaches the upstream around its CloudFront with the origin header', async () => {
    const caller = await gatewayTo(true);
    assert.equal(text(await caller.callTool({ name: 'echo__echo', arguments: { text: 'no second edge hop' } })), 'no second edge hop');
    await caller.close();
  });

  it('control: without the header the upstream refuses the gateway (403), and the gateway says so', async () => {
    const caller = await gatewayTo(false);
    const result = await caller
      .callTool({ name: 'echo__echo', arguments: { text: 'x' } })
      .catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
    assert.equal((result as { isError?: boolean }).isError, true);
    assert.match(JSON.stringify(result), /upstream \\"echo\\": access denied \(403\)/);
    await caller.close();
  });
});
