#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs), with a throw-away PostgreSQL on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
if pg=$(bash scripts/postgres.sh); then
  eval "$pg"
elif [ "${CI:-}" = true ]; then
  echo "error: PostgreSQL could not be started; its store tests cannot run (see scripts/postgres.sh)" >&2
  exit 1
else
  echo "warning: PostgreSQL could not be started here; its store tests will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
