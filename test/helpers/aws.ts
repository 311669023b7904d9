// The deployed path modelled on loopback (local/aws, as `npm run start:aws` runs it) for tests:
// the function bundled as the construct bundles it, in modelled Lambda environments behind the
// API Gateway and CloudFront models, on real emulators. Logs are kept for assertions. With
// `apiKey`, the endpoint takes API keys as every deploy does, which puts the construct's
// origin-response edge function in the path of every answer; `auth` holds the key's header.
// Secrets given in `env` (MCP_REQUEST_STATE_KEY, Redis's) reach the function as deployed: through
// the Secrets Manager model (`secrets`), read at each cold start, never in its environment.
import { basename, dirname } from 'node:path';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsModel, type AwsModel, type AwsModelOptions } from '../../local/aws/deployment.ts';
import { modelledEnvironment } from '../../local/aws/environment.ts';
import { startTestDynamo, startTestS3 } from './server.ts';
import { startTestRedis, type TestRedis } from './redis.ts';

export interface AwsPath extends AwsModel {
  /** Every line the environments and the models logged so far. */
  logs(): string[];
  /** Resolves when a log line matches, or fails after `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  redis?: TestRedis;
  /** The DynamoDB emulator the function uses (to seed API keys, say). */
  dynamoEndpoint: string;
  /** The header that carries the API key (empty without `apiKey`). */
  auth: Record<string, string>;
}

export interface AwsPathOptions extends Partial<Omit<AwsModelOptions, 'entry'>> {
  /** Start a real redis-server behind the local Upstash endpoint and point the function at it. */
  redis?: boolean;
  /** Start s3rver for artifacts. */
  s3?: boolean;
  /** Take API keys (MCP_AUTH_MODE=apikey), with one key of these scopes in `auth`. */
  apiKey?: { scopes: string[] };
}

export async function startAwsPath(entry: string, env: Record<string, string> = {}, options: AwsPathOptions = {}): Promise<AwsPath> {
  const [dynamo, s3, redis] = await Promise.all([startTestDynamo(), options.s3 ? startTestS3() : undefined, options.redis ? startTestRedis() : undefined]);
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const log = (line: string) => {
    lines.push(line);
    for (const w of waiters)
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
  };
  const model = await startAwsModel({
    ...options,
    entry,
    environment: modelledEnvironment(
      basename(dirname(entry)),
      {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_S3: s3?.endpoint ?? 'http://127.0.0.1:9',
        ...redis?.env,
        MCP_REQUEST_STATE_KEY: 'aws-path-test-request-state-key-0123456789',
        LOG_LEVEL: 'WARN',
        ...(options.apiKey && { MCP_AUTH_MODE: 'apikey' }),
        ...env,
      },
      options.timeoutSeconds,
      options.concurrency ?? 10,
    ),
    log,
  });
  const keys =
    options.apiKey &&
    new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 1 });
  const key = keys && (await keys.create({ principalId: 'aws-path-test', scopes: options.apiKey!.scopes })).key;
  return {
    ...model,
    redis,
    dynamoEndpoint: dynamo.endpoint,
    auth: key ? { authorization: `Bearer ${key}` } : {},
    logs: () => lines,
    waitForLog(pattern, timeoutMs = 10_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter)) reject(new Error(`no log line matched ${pattern} within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs);
      });
    },
    async stop() {
      await model.stop();
      await Promise.all([dynamo.stop(), s3?.stop(), redis?.dispose()]);
    },
  };
}
