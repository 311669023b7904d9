// Embedded S3 emulator for local runs and tests: s3rver on loopback, storing objects under
// dataDir, with the artifacts bucket created. Clients need forcePathStyle and key S3RVER/S3RVER.
import S3rver from 's3rver';

export interface S3EmulatorOptions {
  /** Folder s3rver keeps buckets and objects in. */
  dataDir: string;
  /** Bucket created at start (kept if it already exists). */
  bucket: string;
  /** Loopback port. @default 0 (an ephemeral port) */
  port?: number;
}

export interface S3Emulator {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3`. */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startS3Emulator({ dataDir, bucket, port = 0 }: S3EmulatorOptions): Promise<S3Emulator> {
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    directory: dataDir,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      // close() alone waits for the SDK's keep-alive sockets to idle out.
      const closed = server.close();
      server.httpServer?.closeAllConnections();
      await closed;
    },
  };
}
