#!/usr/bin/env bash
# `npm test`'s pretest: the Redis-backed tests run against a real redis-server and never skip.
# Installs it where this machine can without asking (root with apt-get, as on CI); otherwise stops
# at once with the one command to run.
set -euo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: redis-server is not on PATH; installing it (apt-get install redis-server)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends redis-server >&2
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then how='sudo apt-get install redis-server'
elif command -v brew >/dev/null 2>&1; then how='brew install redis'
elif command -v dnf >/dev/null 2>&1; then how='sudo dnf install redis'
else how='install redis-server (https://redis.io/docs/latest/operate/oss_and_stack/install/) so it is on PATH'
fi
echo "npm test needs redis-server on PATH and none was found. Run: $how" >&2
exit 1
