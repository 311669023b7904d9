// The configuration every measured kit runs with. All AWS endpoints point at a closed loopback
// port: the echo call never reaches AWS, and a bug that tried would fail on the spot instead of
// sending traffic off the host. Suites override an endpoint only with an emulator on loopback.
const CLOSED_LOOPBACK = 'http://127.0.0.1:9';

export const KIT_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: CLOSED_LOOPBACK,
  AWS_ENDPOINT_URL_DYNAMODB: CLOSED_LOOPBACK,
  AWS_ENDPOINT_URL_S3: CLOSED_LOOPBACK,
  // Set, as in any real deployment, so the kit does not warn and use a per-process key.
  MCP_REQUEST_STATE_KEY: 'bench-request-state-key-0123456789abcdefghijkl',
};
