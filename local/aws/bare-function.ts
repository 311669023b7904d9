// One bundle in a modelled Lambda function behind the API Gateway model on a loopback port, with no
// CloudFront, alias or task endpoint in front (the whole path is local/aws/deployment.ts): what a
// cold-start measurement of one environment and a run of a synthesized bundle as built need.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRestApi } from './api-gateway.ts';
import { LambdaModel, type InvocationRecord } from './lambda.ts';

export interface BareFunctionOptions {
  /** The bundled function's `index.mjs`. */
  bundle: string;
  /** The runtime bundle (local/aws/build.ts `buildRuntime`). */
  runtime: string;
  environment: Record<string, string>;
  functionName: string;
  /** @default 1024 */
  memoryMb?: number;
  /** @default 30 */
  timeoutSeconds?: number;
  /** @default 1 */
  concurrency?: number;
  /** @default 30 s */
  integrationTimeoutMs?: number;
}

export interface BareFunction {
  lambda: LambdaModel;
  /** The `dev` stage's base URL: `<url>/mcp`, `<url>/health`. */
  url: string;
  /** The first invocation's REPORT record, once it has ended. */
  firstInvocation(): Promise<InvocationRecord>;
  stop(): Promise<void>;
}

export async function startBareFunction(options: BareFunctionOptions): Promise<BareFunction> {
  const lambda = new LambdaModel({
    bundle: options.bundle,
    runtime: options.runtime,
    environment: options.environment,
    functionName: options.functionName,
    memoryMb: options.memoryMb ?? 1024,
    timeoutSeconds: options.timeoutSeconds ?? 30,
    concurrency: options.concurrency ?? 1,
    idleReclaimMs: 60_000,
    initTimeoutMs: 10_000,
    log: () => {},
    seed: 1,
  });
  const api = createServer();
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(api.address() as AddressInfo).port}`;
  api.on(
    'request',
    createRestApi({
      lambda,
      stage: 'dev',
      mcpPath: '/mcp',
      domainName: host,
      idleTimeoutMs: 300_000,
      integrationTimeoutMs: options.integrationTimeoutMs ?? 30_000,
      log: () => {},
    }),
  );
  return {
    lambda,
    url: `http://${host}/dev`,
    async firstInvocation() {
      // The REPORT record lands just after the response has been relayed.
      while (lambda.invocations.length === 0) await new Promise((r) => setTimeout(r, 5));
      return lambda.invocations[0]!;
    },
    async stop() {
      await lambda.stop();
      api.closeAllConnections();
      await new Promise((r) => api.close(r));
    },
  };
}
