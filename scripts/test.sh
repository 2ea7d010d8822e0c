#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs), with a throw-away PostgreSQL and Redis on loopback,
# and the quality gate: the test split's metrics against eval/baselines/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# A throw-away server on loopback for the tests that need one; in CI, one that cannot start fails the run.
start() { # name, script, what its tests cover
  local out
  if out=$(bash "scripts/$2"); then
    eval "$out"
  elif [ "${CI:-}" = true ]; then
    echo "error: $1 could not be started; $3 cannot run (see scripts/$2)" >&2
    exit 1
  else
    echo "warning: $1 could not be started here; $3 will be skipped" >&2
  fi
}
start PostgreSQL postgres.sh "the ticket store's PostgreSQL tests"
start Redis redis.sh "the shared rate-limit tests"
if ! bash scripts/chromium.sh; then
  echo "error: Chromium could not be installed; the browser tests cannot run (see scripts/chromium.sh)" >&2
  exit 1
fi
# The gate runs first so that pytest's summary is the last thing printed.
gate=0
bash scripts/quality_gate.sh || gate=$?
.venv/bin/python -m pytest "$@"
if [ "$gate" -ne 0 ]; then
  echo "quality gate: a metric regressed beyond the tolerance (tables above); tests passed" >&2
  exit "$gate"
fi
