// ECS's task credential endpoint, on loopback: the container tasks get the task role's temporary
// credentials from it (AWS_CONTAINER_CREDENTIALS_FULL_URI, as the AWS SDK's provider chain reads
// them), never in their environment, so they sign their Secrets Manager reads with the SDK's
// client as on ECS. Requests without the task's authorization token are refused.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alphanumeric } from './secrets-manager.ts';

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface TaskCredentialEndpoint {
  /** What a task's environment gets in place of credentials. */
  environment: { AWS_CONTAINER_CREDENTIALS_FULL_URI: string; AWS_CONTAINER_AUTHORIZATION_TOKEN: string };
  /** Credentials handed out. */
  served: number;
  stop(): Promise<void>;
}

/** Serves `credentials` (the task role's) to callers holding the endpoint's token; they expire in an hour, as ECS's do. */
export async function startTaskCredentials(credentials: RoleCredentials, roleArn: string): Promise<TaskCredentialEndpoint> {
  const token = alphanumeric(32);
  const path = `/v2/credentials/${crypto.randomUUID()}`;
  const server = createServer((req, res) => {
    if (req.url !== path || req.headers.authorization !== token) return void res.writeHead(req.url === path ? 401 : 404).end();
    endpoint.served++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        RoleArn: roleArn,
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        Token: credentials.sessionToken,
        Expiration: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}/, ''),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint: TaskCredentialEndpoint = {
    environment: {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
    },
    served: 0,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return endpoint;
}
