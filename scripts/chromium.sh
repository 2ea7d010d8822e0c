#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the browser tests drive it through Playwright
# (Playwright's own browser download cannot reach its host from these machines).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "==> installing Chromium from Debian's packages (for the browser tests)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
[ -x /usr/bin/chromium ]
