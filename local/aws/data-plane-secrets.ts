// The data plane's two secrets as infra/data-plane.ts creates them and McpServerEndpoint hands them
// out, on the Secrets Manager model: the values move out of the function's environment into the
// secrets (generated where the caller gave none, as the construct generates them), and the function
// gets only MCP_SECRETS_ARN, the model's endpoint and credentials its role's policy lets read both.
// The key lists are infra/data-plane.ts's (test/aws/secrets.test.ts holds them equal: importing
// the construct would load the CDK into every `npm run start:aws`).
import { alphanumeric, MODEL_ACCOUNT, secretArn, startSecretsManager, type SecretsManagerModel } from './secrets-manager.ts';
import type { RoleCredentials } from './task-credentials.ts';

/** infra/data-plane.ts SECRET_KEYS: the data plane's secret. */
export const SECRET_KEYS = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'MCP_REQUEST_STATE_KEY'] as const;
/** infra/data-plane.ts ORIGIN_SECRET_KEYS: the origin secret. */
export const ORIGIN_SECRET_KEYS = ['MCP_ORIGIN_SECRET', 'MCP_ORIGIN_SECRET_PREVIOUS'] as const;
/** The generated keys and their lengths (generateSecretString, no punctuation). */
export const GENERATED = { MCP_REQUEST_STATE_KEY: 64, MCP_ORIGIN_SECRET: 48 } as const;

export interface DataPlaneSecrets {
  secretsManager: SecretsManagerModel;
  /** The data plane's secret (Upstash URL and token, request-state key) and the origin secret. */
  arns: { secret: string; originSecret: string };
  /** MCP_ORIGIN_SECRET as the origin secret holds it: what CloudFront reads at deploy. */
  originSecret: string;
  /** The containers' task role, granted the same (infra/endpoint/containers.ts grantData): its session's credentials. */
  taskRole: { arn: string; credentials: RoleCredentials };
}

/** Temporary credentials as STS issues them for a role session. */
const temporaryCredentials = (): RoleCredentials => ({
  accessKeyId: `ASIA${alphanumeric(16).toUpperCase()}`,
  secretAccessKey: alphanumeric(40),
  sessionToken: alphanumeric(120),
});

/**
 * A secret's JSON from `keys` of `environment`, absent ones '' or generated as the construct's template
 * makes them; taken out of the environment, or with `keep` left there (generated ones added).
 */
function secretValue(environment: Record<string, string>, keys: readonly string[], keep: boolean): Record<string, string> {
  const value: Record<string, string> = {};
  for (const key of keys) {
    const length = GENERATED[key as keyof typeof GENERATED];
    value[key] = environment[key] ?? (length ? alphanumeric(length) : '');
    if (!keep) delete environment[key];
    else if (value[key]) environment[key] = value[key];
  }
  return value;
}

/**
 * Deploys the secrets for the function `functionName` and rewrites `environment` (the function's,
 * which the containers' derives from) as the construct sets it. Lambda always sets a role's
 * credentials: where the caller's environment has none, the role gets made-up temporary ones.
 * A caller's own MCP_SECRETS_ARN wins (the construct's `environment` prop would too): the caller then
 * brings its secrets, and the values stay in the environment as before; so does its own
 * AWS_ENDPOINT_URL_SECRETS_MANAGER (a test's stand-in), as with the model's other endpoints.
 */
export async function deployDataPlaneSecrets(environment: Record<string, string>, functionName: string): Promise<DataPlaneSecrets> {
  const region = (environment.AWS_REGION ??= 'us-east-1');
  if (!environment.AWS_ACCESS_KEY_ID || !environment.AWS_SECRET_ACCESS_KEY) {
    const made = temporaryCredentials();
    Object.assign(environment, { AWS_ACCESS_KEY_ID: made.accessKeyId, AWS_SECRET_ACCESS_KEY: made.secretAccessKey, AWS_SESSION_TOKEN: made.sessionToken });
  }
  const arns = {
    secret: secretArn(region, `DataPlaneSecret-${alphanumeric(12)}`),
    originSecret: secretArn(region, `DataPlaneOriginSecret-${alphanumeric(12)}`),
  };
  const own = environment.MCP_SECRETS_ARN !== undefined;
  const secrets = { [arns.secret]: secretValue(environment, SECRET_KEYS, own), [arns.originSecret]: secretValue(environment, ORIGIN_SECRET_KEYS, own) };
  const granted = [arns.secret, arns.originSecret];
  const taskRole = {
    arn: `arn:aws:sts::${MODEL_ACCOUNT}:assumed-role/${functionName}-TaskRole/${alphanumeric(32).toLowerCase()}`,
    credentials: temporaryCredentials(),
  };
  const secretsManager = await startSecretsManager({
    region,
    secrets,
    // DataPlane.grantServer, on the function's role and on the containers' task role: both read both.
    principals: [
      {
        arn: `arn:aws:sts::${MODEL_ACCOUNT}:assumed-role/${functionName}-ServiceRole/${functionName}`,
        accessKeyId: environment.AWS_ACCESS_KEY_ID!,
        secretAccessKey: environment.AWS_SECRET_ACCESS_KEY!,
        ...(environment.AWS_SESSION_TOKEN && { sessionToken: environment.AWS_SESSION_TOKEN }),
        granted,
      },
      { arn: taskRole.arn, ...taskRole.credentials, granted },
    ],
  });
  environment.MCP_SECRETS_ARN ??= `${arns.secret},${arns.originSecret}`;
  environment.AWS_ENDPOINT_URL_SECRETS_MANAGER ??= secretsManager.endpoint;
  return { secretsManager, arns, originSecret: secrets[arns.originSecret]!.MCP_ORIGIN_SECRET!, taskRole };
}
