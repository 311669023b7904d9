// Artifacts through the MCP surface against a real S3 emulator: binary round trips through
// resources/read and a presigned URL, offload of oversized results at the threshold, owner
// isolation between sessions and eras, and a clear error when S3 is unreachable.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startS3Emulator } from '../../local/s3.ts';
import server, { blob, sha256 } from '../fixtures/artifacts.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const FIVE_MB = 5 * 1024 * 1024;
const OFFLOAD = 64 * 1024;

type Link = { type: 'resource_link'; uri: string; name: string; mimeType: string; size: number };

describe('artifacts', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startS3Emulator>>;
  let dataDir: string;
  let kit: Awaited<ReturnType<typeof startInProcess>>;
  let broken: Awaited<ReturnType<typeof startInProcess>>;
  const clients: { close(): Promise<void> }[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-artifacts-'));
    [dynamo, s3] = await Promise.all([startTestDynamo(), startS3Emulator({ dataDir, bucket: 'mcp-kit-artifacts' })]);
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_REQUEST_STATE_KEY: 'artifact-test-request-state-key-0123456789',
      MCP_OFFLOAD_BYTES: String(OFFLOAD),
      MCP_MAX_BODY_BYTES: String(8 * 1024 * 1024),
    };
    kit = await startInProcess(server, env);
    broken = await startInProcess(server, { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await Promise.all([kit?.stop(), broken?.stop()]);
    await Promise.all([s3?.stop(), dynamo?.stop()]);
    await rm(dataDir, { recursive: true, force: true });
  });

  async function modern(url = kit.url) {
    const client = new ModernClient({ name: 'artifacts-test', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(url)));
    clients.push(client);
    return client;
  }
  async function legacy() {
    const client = new LegacyClient({ name: 'artifacts-legacy', version: '1' });
    await client.connect(new LegacyTransport(new URL(kit.url)));
    clients.push(client);
    return client;
  }
  const linkOf = (result: object) => (result as { content: { type: string }[] }).content.find((c) => c.type === 'resource_link') as Link;

  it('a 5 MB binary artifact round-trips through resources/read and through a presigned URL', async () => {
    const client = await modern();
    const made = await client.callTool({ name: 'make_blob', arguments: { bytes: FIVE_MB, seed: 7 } });
    const link = linkOf(made);
    assert.match(link.uri, /^artifact:\/\/p\/[A-Za-z0-9_-]{22}\/blob\.bin$/);
    assert.equal(link.size, FIVE_MB);
    assert.equal(link.mimeType, 'application/octet-stream');
    const expected = sha256(blob(FIVE_MB, 7));

    const read = await client.readResource({ uri: link.uri });
    const contents = read.contents[0] as { blob: string; mimeType: string };
    assert.equal(contents.mimeType, 'application/octet-stream');
    assert.equal(sha256(Buffer.from(contents.blob, 'base64')), expected);

    const presigned = await client.callTool({ name: 'presign', arguments: { uri: link.uri, seconds: 60 } });
    const url = (presigned.content as { text: string }[])[0]!.text;
    const download = await fetch(url);
    assert.equal(download.status, 200);
    assert.equal(sha256(new Uint8Array(await download.arrayBuffer())), expected);

    const tooLong = await client.callTool({ name: 'presign', arguments: { uri: link.uri, seconds: 3600 } });
    assert.equal(tooLong.isError, true);
    assert.match((tooLong.content as { text: string }[])[0]!.text, /900/);
  });

  it('offloads a result above the threshold to an artifact, and not one below', async () => {
    const client = await modern();
    const small = await client.callTool({ name: 'big_text', arguments: { chars: OFFLOAD - 1024 } });
    assert.equal((small.content as { text: string }[])[0]!.text.length, OFFLOAD - 1024);

    const large = await client.callTool({ name: 'big_text', arguments: { chars: OFFLOAD + 1 } });
    const [summary, link] = large.content as [{ text: string }, Link];
    assert.match(summary.text, /more than a response may carry/);
    assert.equal(link.type, 'resource_link');
    assert.equal(link.mimeType, 'application/json');
    const read = await client.readResource({ uri: link.uri });
    const stored = JSON.parse((read.contents[0] as { text: string }).text) as { content: { text: string }[] };
    assert.equal(stored.content[0]!.text, 'x'.repeat(OFFLOAD + 1));
  });

  it('an artifact is readable only by its owner: other sessions and other eras get not-found', async () => {
    const owner = await legacy();
    const made = await owner.callTool({ name: 'make_blob', arguments: { bytes: 1024, seed: 3 } });
    const link = linkOf(made);
    assert.match(link.uri, /^artifact:\/\/s\//);
    const own = await owner.readResource({ uri: link.uri });
    assert.equal(sha256(Buffer.from((own.contents[0] as { blob: string }).blob, 'base64')), sha256(blob(1024, 3)));

    const other = await legacy();
    await assert.rejects(other.readResource({ uri: link.uri }), (err: Error) => /not found/i.test(err.message));
    const stateless = await modern();
    await assert.rejects(stateless.readResource({ uri: link.uri }), (err: Error) => /not found/i.test(err.message));
    const missing = link.uri.replace(/\/s\/[^/]+\//, '/s/AAAAAAAAAAAAAAAAAAAAAA/');
    const a = await other.readResource({ uri: missing }).catch((e: Error) => e.message);
    const b = await other.readResource({ uri: link.uri }).catch((e: Error) => e.message);
    assert.equal(String(a).replace(missing, 'URI'), String(b).replace(link.uri, 'URI'), 'same answer as for a missing artifact');
  });

  it('S3 unreachable: the tool gets a clear error and the server keeps serving', async () => {
    const client = await modern(broken.url);
    const started = Date.now();
    const result = await client.callTool({ name: 'make_blob', arguments: { bytes: 10, seed: 1 } });
    assert.equal(result.isError, true);
    assert.match((result.content as { text: string }[])[0]!.text, /artifact storage unavailable/);
    assert.ok(Date.now() - started < 5000);
    const offload = await client.callTool({ name: 'big_text', arguments: { chars: OFFLOAD + 1 } });
    assert.equal(offload.isError, true);
    assert.match((offload.content as { text: string }[])[0]!.text, /too large to return, and it could not be stored: artifact storage unavailable/);
    assert.equal((await client.callTool({ name: 'big_text', arguments: { chars: 3 } })).isError, undefined);
  });
});
