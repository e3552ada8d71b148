#!/usr/bin/env bash
# Headless Chromium and its WebDriver (/usr/bin/chromedriver), for the browser tests:
# tests/e2e/test_plots.py and tests/serve/test_page.py. On Debian as root, install the packages;
# elsewhere leave the system alone (the tests are then skipped and say why). Silent when both
# are there.
set -uo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ "${#missing[@]}" = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  echo "browser: installing the Debian package(s) ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } && exit 0
fi
echo "browser: no ${missing[*]}; the browser tests will be skipped"
