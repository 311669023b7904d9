// Two callers through a gateway on the modelled deployed path: the gateway and each notes server in
// their own modelled Lambda functions behind modelled API Gateway and CloudFront (test/helpers/aws.ts),
// every request landing in whichever environment Lambda picks. Alice and Bob call the gateway with
// API keys; the notes functions trust it (MCP_TRUSTED_GATEWAYS), so it speaks for each of them. The
// cases (test/helpers/gateway-identity.ts) are the ones identity.test.ts runs in one process; here
// each session case lists often enough to reach every gateway environment. The functions start once
// for the whole suite.
import { after, before, describe } from 'node:test';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { plainCaller, STATE_KEY, type PlainCaller } from '../helpers/gateway.ts';
import { twoCallerCases } from '../helpers/gateway-identity.ts';

/** Both functions read the same request-state key, as from one data plane's secret; the notes functions trust the gateway with it. */
const KEY = { MCP_REQUEST_STATE_KEY: STATE_KEY };
const TRUSTING = { ...KEY, MCP_AUTH_MODE: 'apikey', MCP_TRUSTED_GATEWAYS: JSON.stringify({ gateway: { fromRequestStateKey: true } }) };
/** Lists that reach, all but surely, each of the gateway's (at most 4) environments: a miss is (3/4)^30, 0.02%. */
const SESSION_TRIES = 30;

const keysOn = (path: AwsPath) =>
  new ApiKeyStore(new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), { cacheSeconds: 30 });

describe('two callers through a modelled gateway to modelled kit servers', () => {
  let gateway: AwsPath;
  /** notes for handles, resources, artifacts, confirmations, sessions and tasks; quota: two notebooks a principal; limited: six requests a principal a minute, in Redis. */
  let notes: AwsPath, quota: AwsPath, limited: AwsPath;
  const keys: Record<string, string> = {};
  const open: PlainCaller[] = [];

  before(async () => {
    [notes, quota, limited] = await Promise.all([
      startAwsPath('functions/notes/handler.ts', TRUSTING, { concurrency: 3, s3: true }),
      startAwsPath('functions/notes/handler.ts', { ...TRUSTING, MCP_HANDLES_PER_PRINCIPAL: '2' }, { concurrency: 2 }),
      startAwsPath(
        'functions/notes/handler.ts',
        { ...TRUSTING, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '6' },
        { concurrency: 2, redis: true },
      ),
    ]);
    // The gateway's own key on each notes function, for the shared-identity controls (MCP_* variables reach the model).
    const [notesKey, quotaKey, limitedKey] = await Promise.all(
      [notes, quota, limited].map(async (p) => (await keysOn(p).create({ principalId: 'gateway' })).key),
    );
    const shared = (variable: string) => ({ identity: 'gateway', shareIdentity: true, auth: { apiKeyVariable: variable } });
    const once = { retry: { attempts: 1 } };
    const config = {
      upstreams: {
        notes: { url: notes.url },
        shared: { url: notes.url, ...shared('MCP_TEST_NOTES_KEY') },
        session: { url: notes.url, protocol: 'legacy' },
        quota: { url: quota.url },
        'quota-shared': { url: quota.url, ...shared('MCP_TEST_QUOTA_KEY') },
        limited: { url: limited.url, ...once },
        'limited-shared': { url: limited.url, ...shared('MCP_TEST_LIMITED_KEY'), ...once },
      },
    };
    gateway = await startAwsPath(
      'functions/gateway/handler.ts',
      {
        ...KEY,
        MCP_AUTH_MODE: 'apikey',
        MCP_GATEWAY_CONFIG: JSON.stringify(config),
        MCP_TEST_NOTES_KEY: notesKey!,
        MCP_TEST_QUOTA_KEY: quotaKey!,
        MCP_TEST_LIMITED_KEY: limitedKey!,
      },
      { concurrency: 4 },
    );
    const store = keysOn(gateway);
    for (const who of ['alice', 'bob', 'qalice', 'qbob', 'ralice', 'rbob']) keys[who] = (await store.create({ principalId: who })).key;
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await gateway?.stop();
    await Promise.all([notes?.stop(), quota?.stop(), limited?.stop()]);
  });

  const as = async (who: string, era: 'modern' | 'legacy') => {
    const c = await plainCaller(era, gateway.url, { authorization: `Bearer ${keys[who]}` });
    open.push(c);
    return c;
  };

  twoCallerCases({
    as,
    sessionTries: SESSION_TRIES,
    where: () => ({ gatewayUrl: gateway.url, upstreamUrl: notes.url, dynamoEndpoint: notes.dynamoEndpoint, keys: { alice: keys.alice!, bob: keys.bob! } }),
  });
});
