// The modelled deployed path (local/aws) with a meter in front of every service: the workload
// server (cost/workload.ts) bundled as the construct bundles it, in modelled Lambda environments
// at the construct's memory size with the construct's environment, API keys and Redis as deployed,
// on local emulators whose traffic cost/meters.ts counts. The front door (CloudFront) is metered
// too, so `url` is what clients use. Log bytes count what the environments write: the function's
// lines and Lambda's REPORT line per invocation. The model's duplicate deliveries of asynchronous
// events are off: a unit is what one request costs, and a duplicate (rare on AWS, one in ten in the
// model) would add a worker invocation and a refused claim to whichever sample drew it.
import { startAwsModel, type AwsModel } from '../local/aws/deployment.ts';
import { modelledEnvironment } from '../local/aws/environment.ts';
import { ApiKeyStore } from '../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../shared/store/table.ts';
import { startTestDynamo, startTestS3 } from '../test/helpers/server.ts';
import { startTestRedis } from '../test/helpers/redis.ts';
import { createMeters, type Meters } from './meters.ts';

export interface MeteredPathOptions {
  /** Most execution environments at once. */
  concurrency: number;
  /** Variables of the function's own, over the construct's (MCP_STREAM_MAX_SECONDS, say). */
  environment?: Record<string, string>;
}

export interface MeteredPath {
  /** The MCP URL through the metered CloudFront model. */
  url: string;
  /** An API key the function accepts. */
  apiKey: string;
  model: AwsModel;
  meters: Meters;
  /** The Redis behind the meter, for looking at what the function left there. */
  redis: { url: string; token: string };
  /** Bytes the environments have logged so far. */
  logBytes(): number;
  stop(): Promise<void>;
}

export async function startMeteredPath(options: MeteredPathOptions): Promise<MeteredPath> {
  const [dynamo, s3, redis] = await Promise.all([startTestDynamo(), startTestS3(), startTestRedis()]);
  const meters = createMeters();
  let logBytes = 0;
  const log = (line: string) => {
    const own = /^\[env \d+\] (.*)$/.exec(line);
    if (own) logBytes += Buffer.byteLength(own[1]!) + 1;
    else if (line.startsWith('REPORT ')) logBytes += Buffer.byteLength(line) + 1;
  };
  const model = await startAwsModel({
    entry: 'cost/workload.ts',
    concurrency: options.concurrency,
    asyncQueue: { duplicateShare: 0 },
    log,
    environment: modelledEnvironment('cost-workload', {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_DYNAMODB: await meters.attach('dynamodb', dynamo.endpoint),
      AWS_ENDPOINT_URL_S3: await meters.attach('s3', s3.endpoint),
      UPSTASH_REDIS_REST_URL: await meters.attach('redis', redis.url),
      UPSTASH_REDIS_REST_TOKEN: redis.token,
      MCP_REQUEST_STATE_KEY: 'cost-measure-request-state-key-0123456789abcdef',
      MCP_AUTH_MODE: 'apikey',
      ...options.environment,
    }),
  });
  const front = await meters.attach('front', model.baseUrl);
  const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 1 });
  const { key } = await keys.create({ principalId: 'cost', scopes: [] });
  return {
    url: `${front}/mcp`,
    apiKey: key,
    model,
    meters,
    redis: { url: redis.url, token: redis.token },
    logBytes: () => logBytes,
    async stop() {
      await model.stop();
      await meters.stop();
      await Promise.all([dynamo.stop(), s3.stop(), redis.dispose()]);
    },
  };
}
