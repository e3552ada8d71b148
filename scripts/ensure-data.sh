#!/usr/bin/env bash
# Make the Fashion-MNIST files reachable for the prepare stage, changing the system only where
# it must: on a Debian machine, as root, with no route to the mirrors, install the Debian package
# dataset-fashion-mnist. Everywhere else, leave the system alone; prepare downloads instead.
set -euo pipefail

debian_dir=/usr/share/datasets/fashion-mnist
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

has_all() {
  local dir=$1 name
  for name in "${files[@]}"; do [ -f "$dir/$name.gz" ] || [ -f "$dir/$name" ] || return 1; done
}

if [ -n "${FMNIST_DATA:-}" ]; then
  echo "data: FMNIST_DATA=$FMNIST_DATA is set; prepare reads from there"
  exit 0
fi
if has_all "$debian_dir"; then
  echo "data: found in $debian_dir"
  exit 0
fi
if has_all "${FMNIST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fmnist}"; then
  echo "data: found in the download cache"
  exit 0
fi
if python3 - <<'PY'
import urllib.request
urllib.request.urlopen(
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/t10k-labels-idx1-ubyte.gz", timeout=5
).read(16)
PY
then
  echo "data: the mirrors are reachable; prepare will download"
  exit 0
fi 2>/dev/null
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "data: no mirror reachable; installing the Debian package dataset-fashion-mnist"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }
  has_all "$debian_dir" && exit 0
fi
echo "data: no source found: install the Debian package dataset-fashion-mnist, or set FMNIST_DATA" \
  "to a directory or URL holding the four official .gz files" >&2
exit 1
