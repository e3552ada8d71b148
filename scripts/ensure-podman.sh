#!/usr/bin/env bash
# The tools `make image` builds and runs the serving image with, all Debian packages: mmdebstrap
# (the root file system), podman (the image store and the engine) and runc (the runtime podman
# is told to use: crun, its default, refuses these machines' hybrid cgroups and their rlimits).
# On Debian as root, install the missing ones; elsewhere leave the system alone and exit 1 with
# one line saying what to install. Silent when all are there.
set -euo pipefail
missing=()
for tool in mmdebstrap podman runc; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ "${#missing[@]}" = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  echo "image: installing the Debian package(s) ${missing[*]}"
  install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  if "${install[@]}" >/dev/null 2>&1 || { apt-get update -qq && "${install[@]}" >/dev/null; }; then
    exit 0
  fi
fi
echo "image: needs the Debian package(s) ${missing[*]} (installed here only on Debian, as root)" >&2
exit 1
