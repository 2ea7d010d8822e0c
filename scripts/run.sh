#!/usr/bin/env bash
# The main job: set up, build or update the index from corpus/, and start the assistant.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nectarine start "$@"
