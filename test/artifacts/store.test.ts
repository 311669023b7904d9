// The artifact store against a real S3 emulator (s3rver): byte-exact round trips through read and
// presigned URLs, streamed multipart uploads, owner scoping, expiry, and failing fast and clearly
// when S3 is unreachable. Nothing half-written is ever linked.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CopyObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { objectKey, resolveArtifactUri, type ArtifactOwner, type ArtifactReader } from '../../shared/artifacts/address.ts';
import { createS3Client } from '../../shared/artifacts/client.ts';
import { ArtifactInputError, ArtifactNotFoundError, ArtifactStorageError } from '../../shared/artifacts/errors.ts';
import { ArtifactStore } from '../../shared/artifacts/store.ts';
import { startS3Emulator, type S3Emulator } from '../../local/s3.ts';

const bucket = 'mcp-kit-artifacts';
const MiB = 1024 * 1024;

const inSession = (principalId: string, id: string): ArtifactOwner => ({ principalId, scope: { kind: 'session', id } });
const alice: ArtifactReader = { principalId: 'alice', sessionId: 'S1' };

/** A pull-driven stream of `total` bytes from `data`, in 64 KiB chunks; `produced` counts what was pulled. */
function streamOf(data: Uint8Array, fail?: { after: number; error: Error }) {
  const state = { produced: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (fail && state.produced >= fail.after) return controller.error(fail.error);
      if (state.produced >= data.length) return controller.close();
      const chunk = data.subarray(state.produced, state.produced + 64 * 1024);
      state.produced += chunk.length;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

function notFound(uri: string) {
  return (err: unknown) => err instanceof ArtifactNotFoundError && err.message === `artifact not found: ${uri}`;
}

describe('ArtifactStore on s3rver', () => {
  let dataDir: string;
  let emulator: S3Emulator;
  let s3: S3Client;
  let store: ArtifactStore;
  const sent: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-artifacts-'));
    emulator = await startS3Emulator({ dataDir, bucket });
    s3 = await createS3Client({ region: 'us-east-1', s3Endpoint: emulator.endpoint });
    s3.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName!), next(args)), { step: 'initialize' });
    store = new ArtifactStore(async () => s3, bucket, { defaultTtlSeconds: 3600 });
  });

  after(async () => {
    s3.destroy();
    await emulator.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function keysUnder(prefix = 'artifacts/') {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!);
  }

  it('a 5 MB binary artifact round-trips through read (base64) and through a presigned URL', async () => {
    const body = randomBytes(5_000_000);
    const link = await store.put(inSession('alice', 'S1'), 'scan.png', body, { contentType: 'image/png', description: 'a scan' });
    assert.deepEqual(
      { ...link, uri: undefined },
      { type: 'resource_link', uri: undefined, name: 'scan.png', mimeType: 'image/png', size: body.length, description: 'a scan' },
    );
    assert.match(link.uri, /^artifact:\/\/s\/[A-Za-z0-9_-]{22}\/scan\.png$/);

    const contents = await store.read(link.uri, alice);
    assert.equal(contents.mimeType, 'image/png');
    assert.ok('blob' in contents && Buffer.from(contents.blob, 'base64').equals(body));

    const url = await store.presign(link.uri, alice, 60);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
  });

  it('a 12 MB ReadableStream goes up as a streamed multipart upload and round-trips byte for byte', async () => {
    const body = randomBytes(12 * MiB + 12345);
    const { stream, state } = streamOf(body);
    let producedAtFirstPart = -1;
    s3.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'UploadPartCommand' && producedAtFirstPart < 0) producedAtFirstPart = state.produced;
        return next(args);
      },
      { step: 'initialize', name: 'firstPartProbe' },
    );
    sent.length = 0;
    try {
      const link = await store.put(inSession('alice', 'S1'), 'export.bin', stream);
      assert.equal(link.size, body.length);
      assert.deepEqual(
        sent.filter((c) => c !== 'UploadPartCommand'),
        ['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand'],
      );
      assert.equal(sent.filter((c) => c === 'UploadPartCommand').length, 3);
      assert.ok(
        producedAtFirstPart > 0 && producedAtFirstPart < body.length,
        `first part left while ${producedAtFirstPart} of ${body.length} bytes were produced`,
      );

      const contents = await store.read(link.uri, alice);
      assert.ok('blob' in contents && Buffer.from(contents.blob, 'base64').equals(body));
    } finally {
      s3.middlewareStack.remove('firstPartProbe');
    }
  });

  it('bodies up to one part go up in a single PutObject', async () => {
    sent.length = 0;
    await store.put(inSession('alice', 'S1'), 'small.bin', new Uint8Array(1024));
    await store.put(inSession('alice', 'S1'), 'small-stream.bin', streamOf(new Uint8Array(100_000)).stream);
    assert.deepEqual(sent, ['PutObjectCommand', 'PutObjectCommand']);
  });

  it('text, JSON and XML read back as text; invalid UTF-8 and binary types as a blob', async () => {
    const owner = inSession('alice', 'S1');
    const plain = await store.put(owner, 'notes.txt', 'héllo\nwörld');
    assert.equal(plain.mimeType, 'text/plain; charset=utf-8');
    assert.equal(plain.size, Buffer.byteLength('héllo\nwörld'));
    assert.deepEqual(await store.read(plain.uri, alice), { uri: plain.uri, mimeType: 'text/plain; charset=utf-8', text: 'héllo\nwörld' });

    for (const contentType of ['application/json', 'application/vnd.api+json', 'image/svg+xml', 'text/csv']) {
      const link = await store.put(owner, 'data', '{"a":1}', { contentType });
      assert.deepEqual(await store.read(link.uri, alice), { uri: link.uri, mimeType: contentType, text: '{"a":1}' });
    }
    const empty = await store.put(owner, 'empty.txt', '');
    assert.deepEqual([empty.size, await store.read(empty.uri, alice)], [0, { uri: empty.uri, mimeType: 'text/plain; charset=utf-8', text: '' }]);

    const latin1 = await store.put(owner, 'legacy.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]), { contentType: 'text/plain' });
    assert.deepEqual(await store.read(latin1.uri, alice), { uri: latin1.uri, mimeType: 'text/plain', blob: 'Y2Fm6Q==' });
    const asOctets = await store.put(owner, 'y.bin', new TextEncoder().encode('abc'));
    assert.deepEqual(await store.read(asOctets.uri, alice), { uri: asOctets.uri, mimeType: 'application/octet-stream', blob: 'YWJj' });
  });

  it('names with spaces, percent signs and non-Latin characters survive the URI and the key', async () => {
    const name = '報告書 100% #1?.txt';
    const link = await store.put(inSession('alice', 'S1'), name, 'x');
    assert.equal(link.name, name);
    assert.deepEqual(await store.read(link.uri, alice), { uri: link.uri, mimeType: 'text/plain; charset=utf-8', text: 'x' });
    assert.ok((await keysUnder()).some((k) => k.endsWith(`/${name}`)));
  });

  it('another principal, another session, or a stateless request cannot read a session artifact: same error as a missing one', async () => {
    const link = await store.put(inSession('alice', 'S1'), 'secret.txt', 'mine');
    for (const reader of [{ principalId: 'mallory', sessionId: 'S1' }, { principalId: 'alice', sessionId: 'S2' }, { principalId: 'alice' }]) {
      await assert.rejects(store.read(link.uri, reader), notFound(link.uri), JSON.stringify(reader));
      await assert.rejects(store.presign(link.uri, reader, 60), notFound(link.uri), JSON.stringify(reader));
    }
    const madeUp = link.uri.replace(/\/[^/]+\/secret\.txt$/, '/AAAAAAAAAAAAAAAAAAAAAA/secret.txt');
    await assert.rejects(store.read(madeUp, alice), notFound(madeUp));
    const renamed = link.uri.replace(/secret\.txt$/, 'other.txt');
    await assert.rejects(store.read(renamed, alice), notFound(renamed));
    await assert.rejects(store.read('artifact://nonsense', alice), notFound('artifact://nonsense'));
  });

  it('handle artifacts open for the same principal with the handle in the URI; principal artifacts from any of its calls', async () => {
    const byHandle = await store.put({ principalId: 'alice', scope: { kind: 'handle', id: 'h_123' } }, 'h.txt', 'by handle');
    assert.match(byHandle.uri, /^artifact:\/\/h\/h_123\//);
    assert.equal(((await store.read(byHandle.uri, { principalId: 'alice' })) as { text: string }).text, 'by handle');
    await assert.rejects(store.read(byHandle.uri, { principalId: 'mallory' }), notFound(byHandle.uri));
    const otherHandle = byHandle.uri.replace('/h_123/', '/h_456/');
    await assert.rejects(store.read(otherHandle, { principalId: 'alice' }), notFound(otherHandle));

    const byPrincipal = await store.put({ principalId: 'alice', scope: { kind: 'principal' } }, 'p.txt', 'for alice');
    assert.equal(((await store.read(byPrincipal.uri, { principalId: 'alice', sessionId: 'S9' })) as { text: string }).text, 'for alice');
    assert.equal(((await store.read(byPrincipal.uri, { principalId: 'alice' })) as { text: string }).text, 'for alice');
    await assert.rejects(store.read(byPrincipal.uri, { principalId: 'mallory' }), notFound(byPrincipal.uri));
  });

  it('an expired artifact reads as not found: by its TTL, and by its expires-at metadata', async () => {
    // Two seconds, not one: expiry is kept in whole seconds, so a one-second artifact put just
    // before a second ends could already read as expired on a busy machine.
    const short = await store.put(inSession('alice', 'S1'), 'short.txt', 'soon gone', { ttlSeconds: 2 });
    assert.equal(((await store.read(short.uri, alice)) as { text: string }).text, 'soon gone');

    const key = objectKey('artifacts/', resolveArtifactUri(short.uri, alice)!);
    const long = await store.put(inSession('alice', 'S1'), 'long.txt', 'kept');
    const longKey = objectKey('artifacts/', resolveArtifactUri(long.uri, alice)!);
    const setMetadata = (metadata: Record<string, string>) =>
      s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: longKey,
          CopySource: `${bucket}/${encodeURI(longKey)}`,
          Metadata: metadata,
          MetadataDirective: 'REPLACE',
        }),
      );
    await setMetadata({ 'expires-at': String(Math.floor(Date.now() / 1000) - 60) });
    await assert.rejects(store.read(long.uri, alice), notFound(long.uri));
    await assert.rejects(store.presign(long.uri, alice, 60), notFound(long.uri));
    await setMetadata({});
    await assert.rejects(store.read(long.uri, alice), notFound(long.uri), 'no expiry metadata counts as expired');

    // Wait for the expiry rather than a fixed time: reads go on answering until the second passes.
    const deadline = Date.now() + 5000;
    while (
      (await store.read(short.uri, alice).then(
        () => true,
        () => false,
      )) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(store.read(short.uri, alice), notFound(short.uri));
    assert.ok((await keysUnder()).includes(key), 'the object is still there until the lifecycle rule removes it');
  });

  it('a presigned URL lives at most 900 s and never beyond the artifact', async () => {
    const link = await store.put(inSession('alice', 'S1'), 'p.txt', 'x', { ttlSeconds: 120 });
    await assert.rejects(store.presign(link.uri, alice, 901), (e: unknown) => e instanceof ArtifactInputError && /1 to 900, got 901/.test(e.message));
    await assert.rejects(store.presign(link.uri, alice, 0), ArtifactInputError);
    const url = new URL(await store.presign(link.uri, alice, 900));
    const expires = Number(url.searchParams.get('X-Amz-Expires'));
    assert.ok(expires > 100 && expires <= 120, `X-Amz-Expires=${expires}`);
    assert.equal(url.searchParams.get('X-Amz-Expires'), String(expires));
  });

  it('a body stream that fails mid-upload rethrows its own error, aborts the multipart upload and links nothing', async () => {
    const before = await keysUnder();
    const boom = new Error('report generator crashed');
    const { stream } = streamOf(randomBytes(20 * MiB), { after: 11 * MiB, error: boom });
    sent.length = 0;
    await assert.rejects(store.put(inSession('alice', 'S1'), 'broken.bin', stream), (e) => e === boom);
    assert.ok(sent.includes('UploadPartCommand') && sent.includes('AbortMultipartUploadCommand'), sent.join());
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    assert.deepEqual(await keysUnder(), before);
  });

  it('a put aborted through its signal stops the producer, rethrows the reason and links nothing', async () => {
    const before = await keysUnder();
    const { stream, state } = streamOf(randomBytes(40 * MiB));
    const controller = new AbortController();
    const put = store.put(inSession('alice', 'S1'), 'cancelled.bin', stream, { signal: controller.signal });
    while (state.produced < 6 * MiB) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('client cancelled'));
    await assert.rejects(put, /client cancelled/);
    assert.ok(state.produced < 40 * MiB);
    assert.ok(state.cancelled, 'the producer was told to stop');
    assert.deepEqual(await keysUnder(), before);
  });

  it('refuses bad names, owners, TTLs and content types with a reason', async () => {
    const owner = inSession('alice', 'S1');
    const cases: [Promise<unknown>, RegExp][] = [
      [store.put(owner, '', 'x'), /1-200 characters, got 0/],
      [store.put(owner, 'n'.repeat(201), 'x'), /1-200 characters, got 201/],
      [store.put(owner, 'dir/file.txt', 'x'), /must not contain "\/"/],
      [store.put(owner, 'bell\u0007', 'x'), /control characters/],
      [store.put(owner, 'a.txt', 'x', { ttlSeconds: 0 }), /ttlSeconds must be a whole number of at least 1, got 0/],
      [store.put(owner, 'a.txt', 'x', { contentType: 'text/plain\r\nX-Evil: 1' }), /is not a media type/],
      [store.put({ principalId: '', scope: { kind: 'principal' } }, 'a.txt', 'x'), /non-empty principalId/],
      [store.put(inSession('alice', ''), 'a.txt', 'x'), /session id must be 1-256 characters/],
    ];
    for (const [call, message] of cases) {
      await assert.rejects(call, (e: unknown) => e instanceof ArtifactInputError && message.test(e.message), String(message));
    }
  });
});

describe('ArtifactStore when S3 is unreachable', () => {
  const owner = inSession('alice', 'S1');
  const uri = 'artifact://s/AAAAAAAAAAAAAAAAAAAAAA/a.txt';

  /** Awaits a call that must fail with ArtifactStorageError within `withinMs`; returns what S3 said (for the log only). */
  async function storageFailure(call: Promise<unknown>, withinMs: number): Promise<string> {
    const started = Date.now();
    const error = await call.then(
      () => assert.fail('expected a storage error'),
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    assert.ok(error instanceof ArtifactStorageError, String(error));
    assert.equal(error.message, 'artifact storage unavailable', "the message a caller may see says nothing of S3's own words");
    assert.ok(took < withinMs, `failed after ${took} ms`);
    return error.detail;
  }

  it('a closed loopback port fails put, read and presign with ArtifactStorageError in well under 3 s', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as { port: number };
    await new Promise((r) => probe.close(r));
    const s3 = await createS3Client({ region: 'us-east-1', s3Endpoint: `http://127.0.0.1:${port}` });
    const store = new ArtifactStore(async () => s3, bucket, { defaultTtlSeconds: 60 });
    await storageFailure(store.put(owner, 'a.txt', 'x'), 3000);
    await storageFailure(store.put(owner, 'big.bin', streamOf(randomBytes(6 * MiB)).stream), 3000);
    assert.match(await storageFailure(store.read(uri, alice), 3000), /ECONNREFUSED/);
    await storageFailure(store.presign(uri, alice, 60), 3000);
    s3.destroy();
  });

  it('an S3 that accepts connections but never answers fails after the idle timeout, not never', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    const s3 = await createS3Client({ region: 'us-east-1', s3Endpoint: `http://127.0.0.1:${port}` }, { idleTimeoutMs: 300 });
    const store = new ArtifactStore(async () => s3, bucket, { defaultTtlSeconds: 60 });
    try {
      await storageFailure(store.put(owner, 'a.txt', 'x'), 3000);
      assert.match(await storageFailure(store.read(uri, alice), 3000), /timed out after 300 ms of inactivity/);
    } finally {
      s3.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
