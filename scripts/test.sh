#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs), with a throw-away PostgreSQL on loopback,
# and the quality gate: the test split's metrics against eval/baselines/.
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
