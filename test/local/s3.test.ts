import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startS3Emulator, type S3Emulator } from '../../local/s3.ts';

const bucket = 'artifacts';
let dataDir: string;
let emulator: S3Emulator;
let s3: S3Client;

const s3Config = () => ({
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mcp-kit-s3-'));
  emulator = await startS3Emulator({ dataDir, bucket });
  s3 = new S3Client({ ...s3Config(), endpoint: emulator.endpoint });
});

after(async () => {
  s3.destroy();
  await emulator.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const body = randomBytes(5 * 1024 * 1024);

test('a 5 MB binary object round-trips byte for byte', async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big.bin', Body: body, ContentType: 'application/octet-stream' }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
  assert.equal(got.ContentType, 'application/octet-stream');
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
});

// s3rver stores the SDK's default aws-chunked framing (streamed bodies) as object content; clients
// of the emulator need requestChecksumCalculation WHEN_REQUIRED (AWS_REQUEST_CHECKSUM_CALCULATION).
test('a streamed upload round-trips when checksums are calculated only when required', async () => {
  const streaming = new S3Client({ ...s3Config(), endpoint: emulator.endpoint, requestChecksumCalculation: 'WHEN_REQUIRED' });
  await streaming.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed.bin', Body: Readable.from([body]), ContentLength: body.length }));
  const got = await streaming.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed.bin' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  streaming.destroy();
});

test('a presigned GET URL downloads the object with plain fetch', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }), { expiresIn: 60 });
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
});

test('an expired presigned URL is refused', async () => {
  const command = new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' });
  const url = await getSignedUrl(s3, command, { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
  const res = await fetch(url);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /Request has expired/);
});

test('objects survive a restart on the same data folder', async () => {
  await emulator.stop();
  emulator = await startS3Emulator({ dataDir, bucket });
  s3.destroy();
  s3 = new S3Client({ ...s3Config(), endpoint: emulator.endpoint });
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
  assert.equal(head.ContentLength, body.length);
});
