// A Secrets Manager model on a loopback port: GetSecretValue (AWS JSON 1.1) for the secrets it
// holds, ResourceNotFoundException for any other, so a function reads its MCP_SECRETS_ARN secrets at
// init as the construct deploys it. The signature is not checked here (test/core/secrets.test.ts
// checks the kit's with the AWS SDK's signer), and nothing models the service's latency.
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SecretsManagerModel {
  /** For AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  endpoint: string;
  /** GetSecretValue calls answered, per secret ARN. */
  reads: Map<string, number>;
  stop(): Promise<void>;
}

/** Serves `secrets` (ARN to JSON object), each as its `SecretString`. */
export async function startSecretsManager(secrets: Record<string, Record<string, string>>): Promise<SecretsManagerModel> {
  const reads = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const reply = (status: number, payload: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(payload));
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') return reply(400, { __type: 'UnknownOperationException' });
      let arn: unknown;
      try {
        arn = (JSON.parse(body) as { SecretId?: unknown }).SecretId;
      } catch {}
      const secret = typeof arn === 'string' ? secrets[arn] : undefined;
      if (!secret) return reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      reads.set(arn as string, (reads.get(arn as string) ?? 0) + 1);
      reply(200, { ARN: arn, Name: String(arn).split(':').pop(), VersionId: 'v1', SecretString: JSON.stringify(secret), CreatedDate: Date.now() / 1000 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
