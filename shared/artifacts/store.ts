// Artifacts in S3: a tool stores a file or a large result and gets a `resource_link` back; only the
// same owner can read it (MCP resource contents) or presign a short-lived download URL. Choosing the
// owner for a call, serving resources/read and offloading oversized results belong to the caller.
import type { S3Client } from '@aws-sdk/client-s3';
import type { ResourceLink } from '@modelcontextprotocol/server';
import { artifactUri, checkName, checkOwner, newArtifactId, objectKey, resolveArtifactUri, type ArtifactOwner, type ArtifactReader } from './address.ts';
import { ArtifactInputError, ArtifactNotFoundError, ArtifactStorageError } from './errors.ts';

export interface ArtifactStoreOptions {
  /** Lifetime of an artifact put without `ttlSeconds`. Keep it within the bucket's lifecycle expiration. */
  defaultTtlSeconds: number;
  /** Prefix of every key; the bucket's lifecycle rule and the server's grant cover it. @default 'artifacts/' */
  keyPrefix?: string;
}

export interface PutOptions {
  /** @default 'text/plain; charset=utf-8' for a string body, 'application/octet-stream' otherwise */
  contentType?: string;
  /** Seconds until reads stop finding the artifact (whole, at least 1). @default the store's defaultTtlSeconds */
  ttlSeconds?: number;
  /** Carried on the returned link only. */
  description?: string;
  /** Aborts the upload (pass the tool call's signal); an aborted put links nothing and rethrows the abort reason. */
  signal?: AbortSignal;
}

export type ArtifactBody = string | Uint8Array | ReadableStream<Uint8Array>;

/** One entry of a `resources/read` result: text for text/*, JSON and XML types (if valid UTF-8), base64 otherwise. */
export type ArtifactContents = { uri: string; mimeType: string; text: string } | { uri: string; mimeType: string; blob: string };

/** S3's minimum part size; bodies up to one part go up in a single PutObject. */
const PART_BYTES = 5 * 1024 * 1024;
/** Parts in flight per upload; with the part being filled this bounds a stream's memory to ~3 parts. */
const PARTS_IN_FLIGHT = 2;
const PRESIGN_MAX_SECONDS = 900;
const EXPIRES_AT = 'expires-at';
// biome-ignore lint/suspicious/noControlCharactersInRegex: parameters may not hold control characters
const CONTENT_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[^\u0000-\u001f\u007f]*)?$/;

const nowSeconds = () => Math.floor(Date.now() / 1000);

// The AWS SDK modules load on first use: cold starts of servers that store nothing skip them.
let s3Sdk: Promise<typeof import('@aws-sdk/client-s3')> | undefined;
let storage: Promise<typeof import('@aws-sdk/lib-storage')> | undefined;
let presigner: Promise<typeof import('@aws-sdk/s3-request-presigner')> | undefined;
const loadS3 = () => (s3Sdk ??= import('@aws-sdk/client-s3'));
const loadStorage = () => (storage ??= import('@aws-sdk/lib-storage'));
const loadPresigner = () => (presigner ??= import('@aws-sdk/s3-request-presigner'));

export class ArtifactStore {
  private readonly defaultTtlSeconds: number;
  private readonly keyPrefix: string;
  private client?: Promise<S3Client>;

  /** `connect` is called once, on the first operation. */
  constructor(
    private readonly connect: () => Promise<S3Client>,
    private readonly bucket: string,
    options: ArtifactStoreOptions,
  ) {
    this.defaultTtlSeconds = options.defaultTtlSeconds;
    this.keyPrefix = options.keyPrefix ?? 'artifacts/';
  }

  /**
   * Stores `body` for `owner` and links it. Streams and bodies over one part go up as a multipart
   * upload without being buffered whole. The link is returned only once the object is complete; a
   * failed multipart upload is aborted. A body stream's own error is rethrown as is.
   */
  async put(owner: ArtifactOwner, name: string, body: ArtifactBody, opts: PutOptions = {}): Promise<ResourceLink> {
    checkOwner(owner);
    checkName(name);
    const ttlSeconds = opts.ttlSeconds ?? this.defaultTtlSeconds;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new ArtifactInputError(`artifact ttlSeconds must be a whole number of at least 1, got ${ttlSeconds}`);
    }
    const mimeType = opts.contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream');
    if (!CONTENT_TYPE.test(mimeType)) throw new ArtifactInputError(`artifact contentType ${JSON.stringify(mimeType)} is not a media type`);
    opts.signal?.throwIfAborted();

    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body instanceof Uint8Array ? body : undefined;
    const counted = bytes ? undefined : new CountedStream(body as ReadableStream<Uint8Array>);
    const address = { owner, id: newArtifactId(), name };
    const abort = new AbortController();
    const onAbort = () => abort.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const [{ Upload }, client] = await Promise.all([loadStorage(), this.s3()]);
    const upload = new Upload({
      client,
      params: {
        Bucket: this.bucket,
        Key: objectKey(this.keyPrefix, address),
        Body: bytes ?? counted!.stream,
        ContentType: mimeType,
        Metadata: { [EXPIRES_AT]: String(nowSeconds() + ttlSeconds) },
      },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      abortController: abort,
    });
    try {
      await upload.done();
    } catch (err) {
      counted?.stop(err);
      if (counted?.failure) throw counted.failure.error;
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw storageError(err);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return {
      type: 'resource_link',
      uri: artifactUri(address),
      name,
      mimeType,
      size: bytes ? bytes.byteLength : counted!.size,
      ...(opts.description !== undefined && { description: opts.description }),
    };
  }

  /** The artifact's contents for `reader`; unknown, someone else's and expired all throw ArtifactNotFoundError. */
  async read(uri: string, reader: ArtifactReader): Promise<ArtifactContents> {
    const key = this.keyFor(uri, reader);
    return this.guard(uri, async () => {
      const [{ GetObjectCommand }, client] = await Promise.all([loadS3(), this.s3()]);
      const out = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (liveUntil(out.Metadata) === undefined) {
        await out.Body?.transformToWebStream().cancel();
        throw new ArtifactNotFoundError(uri);
      }
      const bytes = (await out.Body?.transformToByteArray()) ?? new Uint8Array();
      const mimeType = out.ContentType ?? 'application/octet-stream';
      const text = isTextType(mimeType) ? utf8(bytes) : undefined;
      return text !== undefined ? { uri, mimeType, text } : { uri, mimeType, blob: Buffer.from(bytes).toString('base64') };
    });
  }

  /**
   * A presigned GET URL for the artifact, valid for `expiresInSeconds` (whole, 1-900; default 300) or
   * until the artifact expires, whichever is sooner. Same authorization and not-found behaviour as `read`.
   */
  async presign(uri: string, reader: ArtifactReader, expiresInSeconds = 300): Promise<string> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > PRESIGN_MAX_SECONDS) {
      throw new ArtifactInputError(`presigned URL lifetime must be a whole number of seconds from 1 to ${PRESIGN_MAX_SECONDS}, got ${expiresInSeconds}`);
    }
    const key = this.keyFor(uri, reader);
    return this.guard(uri, async () => {
      const [{ GetObjectCommand, HeadObjectCommand }, { getSignedUrl }, client] = await Promise.all([loadS3(), loadPresigner(), this.s3()]);
      const head = await client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const expiresAt = liveUntil(head.Metadata);
      if (expiresAt === undefined) throw new ArtifactNotFoundError(uri);
      const expiresIn = Math.min(expiresInSeconds, expiresAt - nowSeconds());
      return getSignedUrl(client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
    });
  }

  private s3(): Promise<S3Client> {
    return (this.client ??= this.connect());
  }

  private keyFor(uri: string, reader: ArtifactReader): string {
    const address = resolveArtifactUri(uri, reader);
    if (!address) throw new ArtifactNotFoundError(uri);
    return objectKey(this.keyPrefix, address);
  }

  /** Runs S3 calls for `uri`: a missing key becomes not-found, any other failure a storage error. */
  /**
   * Checks the bucket answers, for readiness: a HEAD of a key that never exists must come back
   * "not found". Anything else (unreachable, access denied, no such bucket) throws ArtifactStorageError.
   */
  async probe(): Promise<void> {
    try {
      const [{ HeadObjectCommand }, client] = await Promise.all([loadS3(), this.s3()]);
      await client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: `${this.keyPrefix}readiness-probe` }));
    } catch (err) {
      if (err instanceof Error && err.name === 'NotFound') return;
      throw storageError(err);
    }
  }

  private async guard<T>(uri: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) throw err;
      // Not a bare 404: a missing bucket is also 404 and must surface as misconfiguration.
      if (err instanceof Error && (err.name === 'NoSuchKey' || err.name === 'NotFound')) throw new ArtifactNotFoundError(uri);
      throw storageError(err);
    }
  }
}

/** The artifact's expiry if it is still live; missing or unreadable metadata counts as expired. */
function liveUntil(metadata: Record<string, string> | undefined): number | undefined {
  const raw = metadata?.[EXPIRES_AT];
  const expiresAt = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
  return expiresAt > nowSeconds() ? expiresAt : undefined;
}

function isTextType(mimeType: string): boolean {
  const essence = mimeType.split(';')[0]!.trim().toLowerCase();
  return essence.startsWith('text/') || /\/(.+\+)?(json|xml)$/.test(essence);
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function storageError(err: unknown): ArtifactStorageError {
  const e = err as { name?: string; message?: string; code?: string };
  // Node's connection errors carry the reason in `code` (an AggregateError's message is empty).
  const detail = [e?.name && e.name !== 'Error' ? e.name : undefined, e?.message || e?.code].filter(Boolean).join(': ');
  return new ArtifactStorageError(detail || String(err), { cause: err });
}

/** Passes a body stream through to the upload, counting its bytes and keeping its own failure apart from S3's. */
class CountedStream {
  size = 0;
  failure: { error: unknown } | undefined;
  readonly stream: ReadableStream<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(source: ReadableStream<Uint8Array>) {
    if (!(source instanceof ReadableStream)) {
      throw new ArtifactInputError('artifact body must be a string, a Uint8Array or a ReadableStream<Uint8Array> (wrap a Node stream with Readable.toWeb)');
    }
    this.reader = source.getReader();
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const next = await this.reader.read();
            if (next.done) return controller.close();
            if (!(next.value instanceof Uint8Array)) throw new ArtifactInputError('artifact body stream must yield Uint8Array chunks');
            this.size += next.value.byteLength;
            controller.enqueue(next.value);
          } catch (error) {
            this.failure = { error };
            throw error;
          }
        },
        cancel: (reason) => this.reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /** Tells the producer to stop after a failed upload. */
  stop(reason: unknown): void {
    this.reader.cancel(reason).catch(() => {});
  }
}
