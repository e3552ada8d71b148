#!/usr/bin/env bash
# Make the pipeline's inputs reachable, changing the system only where it must:
# - the Fashion-MNIST files, where prepare would find them nowhere (fmnist.pipeline.sources says:
#   $FMNIST_DATA, the Debian directory, the download cache, a reachable mirror): the Debian
#   package dataset-fashion-mnist;
# - the fonts and icon themes the flag's test sets are drawn from (fmnist.pipeline.ood.things
#   names the Debian packages whose files are missing or not the pinned ones).
# On a Debian machine, as root, the packages are installed; everywhere else the system is left
# alone and one line says what to install.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  echo "data: installing the Debian packages $*"
  # shellcheck disable=SC2068  # one word per package
  apt-get install -y -qq --no-install-recommends $@ >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $@ >/dev/null; }
}

# Exit 0: found; 1: no source has the files; 2: params.yaml refused (one line said why).
locate() { python -m fmnist.pipeline.sources; }

status=0
locate || status=$?
if [ "$status" = 1 ]; then
  install dataset-fashion-mnist && locate || {
    echo "data: install the Debian package dataset-fashion-mnist, or set FMNIST_DATA to a" \
      "directory or URL holding the four official .gz files" >&2
    exit 1
  }
elif [ "$status" != 0 ]; then
  exit "$status"
fi

missing=$(python -m fmnist.pipeline.ood.things)
if [ -n "$missing" ]; then
  install $missing && missing=$(python -m fmnist.pipeline.ood.things)
  if [ -n "$missing" ]; then
    echo "data: the flag's test sets need the Debian packages $missing (these versions:" \
      "src/fmnist/pipeline/ood/things.py)" >&2
    exit 1
  fi
fi
