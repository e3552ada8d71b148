#!/usr/bin/env bash
# `make image`: the serving install (docs/serving.md, "A serving install") as an OCI image,
# localhost/fmnist-serve:latest and :<model version>, from Debian's packages alone, since no base
# image can be pulled here:
# - mmdebstrap makes a bookworm root file system (minbase and python3) from the host's own apt
#   sources: given no mirror it would use Debian's public one, not what apt here is set up for;
# - uv installs the wheel (`uv build --wheel`, no pipeline, no TensorFlow) and the runtime's
#   packages pinned by uv.lock into a venv at /opt/fmnist. It runs on the host, with its cache
#   and index, so the root needs no network, resolver or pip: the venv is relocatable and its
#   interpreter is the root's /usr/bin/python3, the same Debian python3 as the host's;
# - the sealed models/model.tflite goes to /srv/fmnist, read-only, and a user 10001 is made;
# - podman imports the tarball with the run settings below.
# Skipped when the image already has the same inputs (the wheel, the pins, the model and this
# script, hashed into the label fmnist.inputs). As root.
set -euo pipefail

# FMNIST_IMAGE and FMNIST_MODEL name another image and model (the tests build theirs so).
IMAGE=${FMNIST_IMAGE:-localhost/fmnist-serve}
MODEL=${FMNIST_MODEL:-models/model.tflite}
VENV=/opt/fmnist
HOME_DIR=/srv/fmnist
USER_ID=10001
# Extra arguments to `podman run IMAGE` append to it and, argparse keeping the last of a repeated
# option, override it (`--model /mnt/models/model.tflite`, `--quiet`, `--workers 4`). The
# workers default to the cores the container may use.
SERVE=(fmnist serve --host 0.0.0.0 --port 8080 --grpc-port 8081 --model "$HOME_DIR/model.tflite")
# The host's Debian sources (the deb822 file of a Debian 12 install, else the one-line list):
# the mirror's name goes into the root only while it is built, then is removed.
SOURCES=/etc/apt/sources.list.d/debian.sources
[ -f "$SOURCES" ] || SOURCES=/etc/apt/sources.list

# Inside the root while mmdebstrap holds it (its --customize-hook runs this script again with the
# root's path); UV and WORK come from the outer run.
customize() {
  local root=$1
  local host_python root_python
  host_python=$(/usr/bin/python3 -c 'import sys; print(sys.version_info[:2])')
  root_python=$(chroot "$root" /usr/bin/python3 -c 'import sys; print(sys.version_info[:2])')
  if [ "$host_python" != "$root_python" ]; then
    echo "image: the host's /usr/bin/python3 is $host_python, the image's $root_python;" \
      "uv installs through the host's, so build on Debian 12 (bookworm)" >&2
    exit 1
  fi
  # --link-mode copy: no file of the image shares an inode with uv's cache.
  "$UV" venv --quiet --relocatable --no-python-downloads --python /usr/bin/python3 "$root$VENV"
  "$UV" pip install --quiet --python "$root$VENV/bin/python" --link-mode copy --no-build \
    --compile-bytecode -r "$WORK/requirements.txt" "$WORK"/dist/fmnist-*.whl
  install -D -m 0644 "$MODEL" "$root$HOME_DIR/model.tflite"
  chroot "$root" useradd --uid "$USER_ID" --user-group --no-create-home --home-dir "$HOME_DIR" \
    --shell /usr/sbin/nologin fmnist
  # What only the build needed: the host's mirror, resolver and name (podman writes its own).
  rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/* \
    "$root"/etc/resolv.conf "$root"/etc/hostname "$root"/var/cache/debconf/*-old
  # The packages' own test suites (17 MB, numpy's most of it): nothing imports them. The
  # bytecode stays: without it each start takes 0.25 s longer (0.95 s against 0.7 s to ready).
  find "$root$VENV" -type d -name tests -prune -exec rm -rf {} +
  # The model loads in the image's own runtime, as its user, and names its version (the tag).
  chroot --userspec="$USER_ID:$USER_ID" "$root" /usr/bin/env -i PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/python" -c 'import sys; from pathlib import Path
from fmnist.serve.served_model import load
print(load(Path(sys.argv[1])).version)' "$HOME_DIR/model.tflite" >"$WORK/version"
}

# ["word", ...]: the exec form, so the server is PID 1 and gets podman stop's SIGTERM itself.
json_array() {
  local words
  words=$(printf '"%s", ' "$@")
  echo "[${words%, }]"
}

# The root file system, its import into podman and the tags; the image it replaces goes.
build() {
  local inputs=$1 previous version
  previous=$(podman image inspect --format '{{.Id}}' "$IMAGE:latest" 2>/dev/null || true)

  echo "image: building $IMAGE (inputs ${inputs:0:12})"
  # Merged /usr set up as debootstrap does, by symlinks: bookworm's own way, the usrmerge package,
  # brings Perl (47 MB of the image). Docs, manuals and translations are never unpacked (the
  # copyright files are kept); mmdebstrap drops apt's lists and cache at the end. /dev is the
  # engine's to make.
  mmdebstrap --quiet --variant=minbase --include=python3 \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="bash '$script' customize \"\$1\"" \
    bookworm "$WORK/debian.tar" "$SOURCES" >"$WORK/mmdebstrap.log" 2>&1 \
    || { cat "$WORK/mmdebstrap.log" >&2; exit 1; }
  mmtarfilter --path-exclude='/dev/*' <"$WORK/debian.tar" >"$WORK/rootfs.tar"
  version=$(cat "$WORK/version")

  podman import --quiet \
    --change "USER $USER_ID:$USER_ID" \
    --change "WORKDIR $HOME_DIR" \
    --change "ENV PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'EXPOSE 8080' --change 'EXPOSE 8081' \
    --change "ENTRYPOINT $(json_array "${SERVE[@]}")" \
    --change "LABEL fmnist.inputs=$inputs" \
    --change "LABEL fmnist.model.version=$version" \
    "$WORK/rootfs.tar" "$IMAGE:latest" >/dev/null
  podman tag "$IMAGE:latest" "$IMAGE:$version"
  # The image this one replaces, once no tag names it (another model's version keeps its own).
  if [ -n "$previous" ] && [ -z "$(podman image inspect --format '{{.RepoTags}}' "$previous" \
    2>/dev/null | tr -d '[]')" ]; then
    podman image rm "$previous" >/dev/null 2>&1 || true
  fi
  echo "image: built $IMAGE:latest and $IMAGE:$version"
}

if [ "${1:-}" = customize ]; then
  customize "$2"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "image: run as root (mmdebstrap's chroot and podman's image store are root's)" >&2
  exit 1
fi
script=$(realpath "${BASH_SOURCE[0]}")
cd "$(dirname "$script")/.."
[ -f "$MODEL" ] || { echo "image: no $MODEL here: make pull (or make repro) first" >&2; exit 1; }
bash scripts/ensure-podman.sh
UV=$(command -v uv || echo "$HOME/.local/bin/uv")
[ -x "$UV" ] || { echo "image: needs uv (make setup installs it)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/fmnist-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
MODEL=$(realpath "$MODEL")  # for the hook, wherever mmdebstrap runs it
export UV WORK MODEL

"$UV" build --wheel --quiet --out-dir "$WORK/dist"
"$UV" export --frozen --no-default-groups --no-hashes --no-emit-project --no-header --quiet \
  -o "$WORK/requirements.txt"
inputs=$(for file in "$WORK"/dist/fmnist-*.whl "$WORK/requirements.txt" "$MODEL" "$script"; do
  sha256sum <"$file"
done | sha256sum | cut -c1-64)
if [ "$(podman image inspect --format '{{index .Labels "fmnist.inputs"}}' "$IMAGE:latest" \
  2>/dev/null)" = "$inputs" ]; then
  echo "image: $IMAGE:latest is up to date (inputs ${inputs:0:12})"
else
  build "$inputs"
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE:latest")
echo "image: $IMAGE:latest, $((size / 1000000)) MB"
