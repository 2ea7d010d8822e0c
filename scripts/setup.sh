#!/usr/bin/env bash
# Create .venv in the repository root and install Nectarine with its test tools.
# Idempotent: re-running after a pyproject change reinstalls; otherwise it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Nectarine needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.nectarine-installed
want=$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing dependencies (first run: about 2 minutes)"
  # torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
  .venv/bin/pip install --disable-pip-version-check -q "torch==2.13.0"
  .venv/bin/pip install --disable-pip-version-check -q -c constraints.txt -e ".[dev]"
  echo "$want" > "$stamp"
fi
