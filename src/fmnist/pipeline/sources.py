"""Find the four IDX files: a user-set directory or URL, the Debian package, then the mirrors.

`python -m fmnist.pipeline.sources` says where prepare would find them (scripts/ensure-data.sh
asks it, so the order, the directories and the file names have this one home).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.core.dataset import RAW_FILES, RawFile, decompress, verify
from fmnist.core.errors import FmnistError
from fmnist.pipeline.params import load_params

_CHUNK = 1 << 20


class SourceError(FmnistError):
    """No source could supply a verified copy of a file."""


@dataclass(frozen=True)
class Source:
    """A place the files may be: a local directory or a base URL."""

    origin: str
    location: str

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://", "file://"))

    def describe(self) -> str:
        return f"{self.origin} {self.location}"


def ordered_sources(
    env_value: str | None, debian_dir: Path, mirrors: Sequence[str]
) -> list[Source]:
    """The sources to try, in order: the user's, the Debian package directory, the mirrors."""
    sources = [Source("$FMNIST_DATA", env_value)] if env_value else []
    sources.append(Source("Debian package dir", str(debian_dir)))
    sources += [Source("mirror", url) for url in mirrors]
    return sources


def default_sources(mirrors: Sequence[str]) -> list[Source]:
    """The sources prepare tries on this machine: $FMNIST_DATA, the Debian directory, `mirrors`."""
    return ordered_sources(os.environ.get(paths.DATA_ENV), paths.DEBIAN_DATA_DIR, mirrors)


def _read_verified(path: Path, packed: bool, raw: RawFile) -> bytes:
    content = decompress(path.read_bytes(), str(path)) if packed else path.read_bytes()
    verify(raw, content)
    return content


def _local_copies(directory: Path, raw: RawFile) -> list[tuple[Path, bool]]:
    """The copies of `raw` a directory holds: (path, packed), the .gz first."""
    candidates = [(directory / raw.gz_name, True), (directory / raw.name, False)]
    return [(path, packed) for path, packed in candidates if path.is_file()]


def _read_local(directory: Path, raw: RawFile) -> bytes:
    """Verified content of `raw` from a directory holding it as .gz or already decompressed."""
    present = _local_copies(directory, raw)
    if not present:
        raise FileNotFoundError(f"no {raw.gz_name} or {raw.name} in {directory}")
    for path, packed in present[:-1]:
        with contextlib.suppress(FmnistError):
            return _read_verified(path, packed, raw)
    return _read_verified(*present[-1], raw)


def _download(url: str, timeout_s: float) -> bytes:
    """The body of `url`, printing progress and checking it against the announced length."""
    print(f"downloading {url}", file=sys.stderr)
    chunks: list[bytes] = []
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        announced = response.headers.get("Content-Length") or ""
        total = int(announced) if announced.isdigit() else 0
        received, next_report = 0, 0.25
        while chunk := response.read(_CHUNK):
            chunks.append(chunk)
            received += len(chunk)
            if total and received / total >= next_report:
                print(f"  {received / total:4.0%} of {total / 1e6:.1f} MB", file=sys.stderr)
                next_report += 0.25
    if total and received != total:
        raise OSError(f"download interrupted after {received} of {total} bytes")
    return b"".join(chunks)


def _fetch_url(base: str, raw: RawFile, cache_dir: Path, timeout_s: float) -> bytes:
    """Verified content of `raw` from the download cache, or downloaded from `base` and cached."""
    cached = cache_dir / raw.gz_name
    if cached.is_file():
        try:
            return _read_verified(cached, True, raw)
        except FmnistError:
            cached.unlink()
    url = f"{base.rstrip('/')}/{raw.gz_name}"
    gz = _download(url, timeout_s)
    content = decompress(gz, url)
    verify(raw, content)
    write_bytes(cached, gz)
    return content


def fetch(raw: RawFile, sources: Sequence[Source], cache_dir: Path, timeout_s: float) -> bytes:
    """The verified decompressed content of `raw` from the first source that has it intact."""
    failures = []
    for source in sources:
        try:
            if source.is_url:
                return _fetch_url(source.location, raw, cache_dir, timeout_s)
            return _read_local(Path(source.location), raw)
        except urllib.error.HTTPError as error:
            failures.append(f"{source.describe()}: HTTP {error.code} {error.reason}")
        except urllib.error.URLError as error:
            failures.append(f"{source.describe()}: unreachable ({error.reason})")
        except http.client.IncompleteRead as error:
            failures.append(f"{source.describe()}: download interrupted ({error})")
        except (OSError, http.client.HTTPException, FmnistError) as error:
            failures.append(f"{source.describe()}: {error}")
        failures[-1] = " ".join(failures[-1].split())  # a server's raw status line ends in CRLF
        print(f"  {raw.name}: {failures[-1]}", file=sys.stderr)
    tried = "".join(f"\n  - {failure}" for failure in failures)
    raise SourceError(
        f"no source has a verified copy of {raw.name}; tried:{tried}\n"
        "  fix: `apt-get install dataset-fashion-mnist` (Debian), or set FMNIST_DATA to a "
        "directory or base URL holding the four official .gz files"
    )


def _has_all(directory: Path) -> bool:
    return all(_local_copies(directory, raw) for raw in RAW_FILES)


def _reachable(base: str, timeout_s: float) -> bool:
    try:
        with urllib.request.urlopen(
            f"{base.rstrip('/')}/{RAW_FILES[-1].gz_name}", timeout=timeout_s
        ):
            return True
    except (OSError, http.client.HTTPException):
        return False


def locate(sources: Sequence[Source], cache_dir: Path, timeout_s: float = 5.0) -> str | None:
    """Where prepare would find all four files, without reading them: a source, the download
    cache, or a reachable mirror; None if nowhere."""
    for source in sources:
        if source.is_url:
            if _has_all(cache_dir):
                return f"the download cache {cache_dir}"
            if source.origin != "mirror" or _reachable(source.location, timeout_s):
                return source.describe()
        elif _has_all(Path(source.location)):
            return source.describe()
    return None


def main() -> int:
    """`python -m fmnist.pipeline.sources`: print where the data is, or exit 1 (2: bad params)."""
    try:
        mirrors = load_params().prepare.mirrors
    except FmnistError as error:  # not a missing dataset: nothing to install
        print(f"data: error: {error}", file=sys.stderr)
        return 2
    found = locate(default_sources(mirrors), paths.download_cache_dir())
    print(f"data: {found or 'no source found'}", file=sys.stderr)
    return 0 if found else 1


if __name__ == "__main__":
    raise SystemExit(main())
