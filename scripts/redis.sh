#!/usr/bin/env bash
# Start a throw-away Redis server on loopback for the shared rate-limit tests, installing it if needed.
# Prints one line to eval: export NECTARINE_TEST_REDIS_URL=...
#   eval "$(bash scripts/redis.sh)"
set -euo pipefail
PORT=${NECTARINE_REDIS_PORT:-56379}
if ! command -v redis-server >/dev/null; then
  echo "==> installing Redis from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq redis-server >&2
fi
if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --logfile /tmp/nectarine-redis.log >&2
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$PORT" ping >/dev/null
fi
echo "export NECTARINE_TEST_REDIS_URL=redis://127.0.0.1:$PORT/0"
