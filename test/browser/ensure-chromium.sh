#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium) through playwright-core: install it with
# apt-get when it is missing (as root, or through sudo), else say how.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "the browser tests need Debian's Chromium at /usr/bin/chromium: install it with 'apt-get install -y chromium' (as root)" >&2
    exit 1
  fi
fi
echo "installing Debian's chromium for the browser tests (apt-get)" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
