#!/usr/bin/env bash
# LocalStack path: deploys the app's `local` stage into a running LocalStack with cdklocal,
# which drives this repo's pinned CDK CLI. CloudFront and the account-level API Gateway
# logging role are left out (LocalStack's free edition lacks the first, has no use for the second),
# and so is the rate limit, which needs an Upstash Redis LocalStack does not have.
# Needs LocalStack on $AWS_ENDPOINT_URL (default http://localhost.localstack.cloud:4566).
# Usage: scripts/localstack-deploy.sh [extra cdk deploy arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: cdklocal patches the CDK CLI at run time, so it is tested against CLI versions.
CDKLOCAL_VERSION=3.0.4
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export CDK_DISABLE_VERSION_CHECK=1
# cdklocal loads `aws-cdk` with require(); point it at this repo's pinned CLI, not a global one.
export NODE_PATH="$PWD/node_modules${NODE_PATH:+:$NODE_PATH}"

if ! curl -fsS "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null; then
  echo "localstack-deploy: LocalStack is not answering at $AWS_ENDPOINT_URL (start it: localstack start -d)" >&2
  exit 1
fi

cdklocal() { npx --yes --package "aws-cdk-local@$CDKLOCAL_VERSION" -- cdklocal "$@"; }
context=(-c stage=local -c cloudFront=false -c apiGatewayLogging=false -c rateLimit=false)

cdklocal bootstrap "${context[@]}"
cdklocal deploy --all --require-approval never "${context[@]}" --outputs-file cdk.out/localstack-outputs.json "$@"

node -e '
const outputs = JSON.parse(require("node:fs").readFileSync("cdk.out/localstack-outputs.json", "utf8"));
for (const [stack, values] of Object.entries(outputs)) if (values.McpUrl) console.log(`${stack}: ${values.McpUrl}`);
'
