#!/usr/bin/env bash
# SAM path: serves one example server with `sam local start-api` from the synthesized template of
# the `local` stage, with its data on the kit's emulators (`npm run emulators`). SAM buffers
# every response, so nothing streams here; use it to exercise the Lambda packaging, not SSE.
# Needs the AWS SAM CLI and Docker.   Usage: scripts/sam-local.sh [notes|echo]   (SAM_PORT=3001)
set -euo pipefail
cd "$(dirname "$0")/.."

server="${1:-notes}"
case "$server" in
  notes) stack=McpKit-local-Notes ;;
  echo) stack=McpKit-local-Echo ;;
  *) echo "usage: $0 [notes|echo]" >&2; exit 2 ;;
esac
port="${SAM_PORT:-3001}"

command -v sam >/dev/null || { echo "sam-local: the AWS SAM CLI is not installed (it runs functions in Docker)" >&2; exit 1; }
if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" && -f .local/emulators.env ]]; then
  # shellcheck disable=SC1091
  source .local/emulators.env
fi
: "${AWS_ENDPOINT_URL_DYNAMODB:?start the emulators first (npm run emulators, in another terminal)}"

# Offline synth of the local stage; cdk.json keeps notices and telemetry off.
CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --quiet -c stage=local "$stack" >/dev/null

# SAM overrides only variables the template declares; the local stage declares these. Inside
# the container "127.0.0.1" is the container itself: Linux shares the host network instead,
# elsewhere Docker's host alias reaches the emulators.
docker_args=()
if [[ "$(uname -s)" == Linux ]]; then docker_args=(--docker-network host); else export SAM_HOST_ALIAS=host.docker.internal; fi
node -e '
const e = process.env;
const reach = (url) => (url && e.SAM_HOST_ALIAS ? url.replace(/\/\/(127\.0\.0\.1|localhost)(?=[:/]|$)/, "//" + e.SAM_HOST_ALIAS) : url ?? "");
const Parameters = {
  MCP_TABLE_NAME: e.MCP_TABLE_NAME ?? "mcp-kit",
  MCP_BUCKET_NAME: e.MCP_BUCKET_NAME ?? "mcp-kit-artifacts",
  MCP_SECRETS_ARN: "",
  AWS_ENDPOINT_URL_DYNAMODB: reach(e.AWS_ENDPOINT_URL_DYNAMODB),
  AWS_ENDPOINT_URL_S3: reach(e.AWS_ENDPOINT_URL_S3),
  UPSTASH_REDIS_REST_URL: reach(e.UPSTASH_REDIS_REST_URL),
  UPSTASH_REDIS_REST_TOKEN: e.UPSTASH_REDIS_REST_TOKEN ?? "",
  MCP_REQUEST_STATE_KEY: e.MCP_REQUEST_STATE_KEY ?? "",
  // The rate limit needs Redis; the emulators provide one only where redis-server is installed.
  MCP_RATE_LIMIT_ENABLED: e.UPSTASH_REDIS_REST_URL ? "true" : "false",
};
require("node:fs").writeFileSync("cdk.out/sam-env.json", JSON.stringify({ Parameters }, null, 2));
'

echo "sam-local: $server on http://127.0.0.1:$port/mcp  (check it: npm run smoke -- --url http://127.0.0.1:$port/mcp)"
# The emulators accept the credentials emulators.env exports; SAM hands them to the container.
exec sam local start-api -t "cdk.out/$stack.template.json" --env-vars cdk.out/sam-env.json --port "$port" ${docker_args[@]+"${docker_args[@]}"}
