#!/usr/bin/env bash
# Headless Chromium for tests/test_plots.py. On Debian as root, install the package; elsewhere
# leave the system alone (the test is then skipped and says why).
set -uo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  echo "browser: installing the Debian package chromium"
  apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } && exit 0
fi
echo "browser: no chromium; tests/test_plots.py will be skipped"
