// The S3 client the artifact store uses: timeouts on every call so an unreachable S3 fails the
// tool quickly instead of hanging it, and emulator-friendly settings when an endpoint is overridden.
import type { S3Client } from '@aws-sdk/client-s3';
import type { KitConfig } from '../config.ts';
import { traceAwsClient } from '../trace.ts';

export interface S3ClientOptions {
  /** Time allowed to open a connection; an unreachable host fails after this (per attempt, 3 attempts). @default 2000 */
  connectTimeoutMs?: number;
  /**
   * Longest silence on an open connection, nothing sent or received, before the call fails. An idle
   * bound, not a total one, so a large transfer that keeps moving is never cut off. @default 5000
   */
  idleTimeoutMs?: number;
}

/** Loads the S3 SDK on first call, so servers that never store an artifact never import it. */
export async function createS3Client(config: Pick<KitConfig, 'region' | 's3Endpoint'>, options: S3ClientOptions = {}): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: config.region,
    ...(config.s3Endpoint && {
      endpoint: config.s3Endpoint,
      forcePathStyle: true,
      // s3rver checks signatures against its fixed key; LocalStack and most emulators accept any.
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      // With the default (WHEN_SUPPORTED) the SDK frames streamed bodies as aws-chunked, which
      // s3rver stores verbatim: the object would be corrupted.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 2000,
      socketTimeout: options.idleTimeoutMs ?? 5000,
    },
  });
  traceAwsClient(client, 'S3');
  return client;
}
