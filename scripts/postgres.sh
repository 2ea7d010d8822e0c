#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the store tests, installing it if needed.
# Prints one line to eval: export NECTARINE_TEST_POSTGRES_URL=...
#   eval "$(bash scripts/postgres.sh)"
set -euo pipefail
PORT=${NECTARINE_PG_PORT:-55432}
DIR=${NECTARINE_PG_DIR:-/tmp/nectarine-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "==> installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! as_pg "$bin/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  rm -rf "$DIR" && mkdir -p "$DIR" && chown postgres: "$DIR" 2>/dev/null || true
  as_pg "$bin/initdb" -D "$DIR" --auth=trust --username=postgres -E UTF8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$DIR" -w -l "$DIR/server.log" -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >&2
fi
echo "export NECTARINE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
