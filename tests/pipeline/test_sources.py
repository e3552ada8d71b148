"""Finding the IDX files: local directories, real HTTP mirrors on 127.0.0.1, the download cache."""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fmnist.core import paths
from fmnist.core.dataset import RAW_FILES, TEST_LABELS, TRAIN_LABELS, RawFile
from fmnist.pipeline.params import load_params
from fmnist.pipeline.sources import (
    Source,
    SourceError,
    default_sources,
    fetch,
    locate,
    ordered_sources,
)

from ..conftest import ROOT

DEBIAN_DIR = paths.DEBIAN_DATA_DIR


@functools.cache
def real_content(raw: RawFile) -> bytes:
    """The official content, from wherever set-up made it reachable, verified."""
    params = load_params(ROOT / "params.yaml").prepare
    sources = default_sources(params.mirrors)
    return fetch(raw, sources, paths.download_cache_dir(), params.download_timeout_s)


def real_gz(raw: RawFile) -> bytes:
    return gzip.compress(real_content(raw), mtime=0)


def require_debian_dir() -> None:
    if not (DEBIAN_DIR / TEST_LABELS.gz_name).is_file():
        pytest.skip(f"{DEBIAN_DIR} not installed (apt-get install dataset-fashion-mnist)")


def wrong_gz(raw: RawFile) -> bytes:
    """A valid gzip of content the official size but with one byte changed."""
    content = bytearray(real_content(raw))
    content[-1] ^= 0xFF
    return gzip.compress(bytes(content))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# A behaviour writes the whole response for one request of `raw`.
Behaviour = Callable[[BaseHTTPRequestHandler, RawFile], None]


def send_body(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def not_found(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    handler.send_error(404)


def good(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    send_body(handler, real_gz(raw), "application/gzip")


def wrong(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    send_body(handler, wrong_gz(raw), "application/gzip")


def html_page(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    page = b"<!doctype html><html><body><h1>Service unavailable</h1></body></html>\n"
    send_body(handler, page, "text/html")


def truncated(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    gz = real_gz(raw)
    send_body(handler, gz[: len(gz) // 2], "application/gzip")


def interrupted(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    """Announce the full length, send half of it, hang up."""
    gz = real_gz(raw)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.send_header("Content-Length", str(len(gz)))
    handler.end_headers()
    handler.wfile.write(gz[: len(gz) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def interrupted_chunked(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    """A chunked response cut off in the middle of a chunk (http.client: IncompleteRead)."""
    gz = real_gz(raw)
    handler.protocol_version = "HTTP/1.1"
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(f"{len(gz):x}\r\n".encode() + gz[: len(gz) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def bad_content_length(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    """A complete, correct body with an unparsable Content-Length header."""
    gz = real_gz(raw)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.send_header("Content-Length", "about 30 kB")
    handler.end_headers()
    handler.wfile.write(gz)
    handler.close_connection = True


def not_http(handler: BaseHTTPRequestHandler, raw: RawFile) -> None:
    """Something on the port that does not speak HTTP (http.client: BadStatusLine)."""
    handler.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n")
    handler.close_connection = True


BEHAVIOURS: dict[str, Behaviour] = {
    "404": not_found,
    "good": good,
    "wrong": wrong,
    "html": html_page,
    "truncated": truncated,
    "interrupted": interrupted,
    "interrupted-chunked": interrupted_chunked,
    "bad-content-length": bad_content_length,
    "not-http": not_http,
}
FILES_BY_GZ_NAME = {raw.gz_name: raw for raw in (TEST_LABELS, TRAIN_LABELS)}


class MirrorServer:
    """One HTTP server on 127.0.0.1 hosting many mirrors: /<behaviour>/<file>.gz."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                _, behaviour, name = ([*self.path.split("/"), "", ""])[:3]
                raw = FILES_BY_GZ_NAME.get(name)
                if behaviour not in BEHAVIOURS or raw is None:
                    self.send_error(404)
                    return
                BEHAVIOURS[behaviour](self, raw)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, behaviour: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/{behaviour}"

    def mirror(self, behaviour: str) -> Source:
        return Source("mirror", self.url(behaviour))

    def hits(self, behaviour: str, raw: RawFile) -> int:
        return self.requests[f"/{behaviour}/{raw.gz_name}"]


@pytest.fixture
def server() -> Iterator[MirrorServer]:
    mirrors = MirrorServer()
    mirrors.thread.start()
    try:
        yield mirrors
    finally:
        mirrors.httpd.shutdown()
        mirrors.httpd.server_close()
        mirrors.thread.join(timeout=5)


def assert_cache_holds_only_good_copy(cache_dir: Path, raw: RawFile) -> None:
    assert sorted(p.name for p in cache_dir.iterdir()) == [raw.gz_name]
    assert sha256(gzip.decompress((cache_dir / raw.gz_name).read_bytes())) == raw.sha256


def fetch_past(server, tmp_path: Path, capsys, behaviour: str, raw: RawFile) -> str:
    """Fetch with a bad mirror before a good one; check the good copy won; return stderr."""
    content = fetch(raw, [server.mirror(behaviour), server.mirror("good")], tmp_path, 5)
    assert sha256(content) == raw.sha256
    err = capsys.readouterr().err
    assert server.url(behaviour) in err
    assert_cache_holds_only_good_copy(tmp_path, raw)
    return err


# --- mirrors ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [TEST_LABELS, TRAIN_LABELS], ids=lambda raw: raw.name)
def test_404_mirror_falls_through_then_cache_serves(server, tmp_path, capsys, raw):
    sources = [server.mirror("404"), server.mirror("good")]
    content = fetch(raw, sources, cache_dir=tmp_path, timeout_s=5)
    assert sha256(content) == raw.sha256
    err = capsys.readouterr().err
    assert server.url("404") in err
    assert "404" in err
    assert (tmp_path / raw.gz_name).is_file()
    assert_cache_holds_only_good_copy(tmp_path, raw)
    assert server.hits("good", raw) == 1

    requests_before = sum(server.requests.values())
    again = fetch(
        raw, [server.mirror("404"), server.mirror("404")], cache_dir=tmp_path, timeout_s=5
    )
    assert again == content
    assert sum(server.requests.values()) == requests_before
    assert server.hits("good", raw) == 1


def test_wrong_bytes_are_a_checksum_mismatch(server, tmp_path, capsys):
    err = fetch_past(server, tmp_path, capsys, "wrong", TEST_LABELS)
    assert "SHA-256" in err
    assert TEST_LABELS.name in err
    assert "does not match" in err


def test_wrong_bytes_alone_leave_the_cache_empty(server, tmp_path):
    with pytest.raises(SourceError, match="SHA-256"):
        fetch(TEST_LABELS, [server.mirror("wrong")], tmp_path, 5)
    assert list(tmp_path.iterdir()) == []


def test_html_error_page_is_not_a_gzip(server, tmp_path, capsys):
    assert "not a valid gzip" in fetch_past(server, tmp_path, capsys, "html", TEST_LABELS)


def test_interrupted_download_is_reported(server, tmp_path, capsys):
    err = fetch_past(server, tmp_path, capsys, "interrupted", TRAIN_LABELS)
    assert (
        f"{TRAIN_LABELS.name}: mirror {server.mirror('interrupted').location}: download "
        "interrupted" in err
    ), err


def test_interrupted_chunked_download_is_reported(server, tmp_path, capsys):
    """http.client raises IncompleteRead (an HTTPException, not an OSError) here."""
    err = fetch_past(server, tmp_path, capsys, "interrupted-chunked", TRAIN_LABELS)
    assert "download interrupted (IncompleteRead(" in err, err


def test_truncated_gzip_is_reported(server, tmp_path, capsys):
    assert "truncated" in fetch_past(server, tmp_path, capsys, "truncated", TEST_LABELS)


def test_unparsable_content_length_does_not_escape(server, tmp_path):
    """http.client tolerates a bad Content-Length; fetch must not crash with ValueError on it."""
    raw = TEST_LABELS
    sources = [server.mirror("bad-content-length"), server.mirror("good")]
    assert sha256(fetch(raw, sources, tmp_path, 5)) == raw.sha256


def test_non_http_server_falls_through(server, tmp_path, capsys):
    """A port that answers with something other than HTTP is one more failed source."""
    raw = TEST_LABELS
    content = fetch(raw, [server.mirror("not-http"), server.mirror("good")], tmp_path, 5)
    assert sha256(content) == raw.sha256
    assert server.url("not-http") in capsys.readouterr().err


def test_corrupt_cache_entry_is_replaced(server, tmp_path):
    raw = TEST_LABELS
    (tmp_path / raw.gz_name).write_bytes(b"not a gzip at all")
    content = fetch(raw, [server.mirror("good")], tmp_path, 5)
    assert sha256(content) == raw.sha256
    assert server.hits("good", raw) == 1
    assert_cache_holds_only_good_copy(tmp_path, raw)


def test_every_source_failing_lists_each_with_its_reason(server, tmp_path, capsys):
    raw = TEST_LABELS
    missing_dir = tmp_path / "no-such-dir"
    sources = [
        Source("$FMNIST_DATA", str(missing_dir)),
        server.mirror("404"),
        Source("mirror", "http://127.0.0.1:9/"),
    ]
    with pytest.raises(SourceError) as info:
        fetch(raw, sources, cache_dir=tmp_path / "cache", timeout_s=2)
    message = str(info.value)
    assert raw.name in message
    assert f"$FMNIST_DATA {missing_dir}" in message
    assert f"{server.url('404')}: HTTP 404" in message
    assert "mirror http://127.0.0.1:9/: unreachable" in message
    assert "dataset-fashion-mnist" in message
    assert "FMNIST_DATA" in message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    # each failure was also reported as it happened
    err = capsys.readouterr().err
    assert server.url("404") in err
    assert "127.0.0.1:9" in err


# --- local directories --------------------------------------------------------------------


@pytest.mark.parametrize("packed", [True, False], ids=["gz", "plain"])
def test_local_directory_with_gz_or_plain_file(tmp_path, packed):
    raw = TEST_LABELS
    local = tmp_path / "local"
    local.mkdir()
    name, data = (raw.gz_name, real_gz(raw)) if packed else (raw.name, real_content(raw))
    (local / name).write_bytes(data)
    content = fetch(raw, [Source("$FMNIST_DATA", str(local))], tmp_path / "cache", 5)
    assert sha256(content) == raw.sha256
    assert not (tmp_path / "cache").exists()  # a local copy is never cached


def test_debian_directory_itself(tmp_path):
    require_debian_dir()
    content = fetch(TEST_LABELS, [Source("Debian package dir", str(DEBIAN_DIR))], tmp_path, 5)
    assert sha256(content) == TEST_LABELS.sha256


@pytest.mark.parametrize(
    ("file_name", "make_data", "reason"),
    [
        pytest.param(TEST_LABELS.gz_name, lambda: b"garbage", "not a valid gzip", id="garbage-gz"),
        pytest.param(
            TEST_LABELS.gz_name, lambda: real_gz(TEST_LABELS)[:1000], "truncated", id="truncated-gz"
        ),
        pytest.param(TEST_LABELS.gz_name, lambda: wrong_gz(TEST_LABELS), "SHA-256", id="wrong-gz"),
        pytest.param(TEST_LABELS.name, lambda: b"\0" * 100, "expected 10008", id="short-plain"),
    ],
)
def test_corrupt_local_file_falls_through(tmp_path, capsys, file_name, make_data, reason):
    raw = TEST_LABELS
    bad, good_dir = tmp_path / "bad", tmp_path / "good"
    bad.mkdir()
    good_dir.mkdir()
    (bad / file_name).write_bytes(make_data())
    (good_dir / raw.gz_name).write_bytes(real_gz(raw))
    sources = [Source("$FMNIST_DATA", str(bad)), Source("Debian package dir", str(good_dir))]
    content = fetch(raw, sources, tmp_path / "cache", 5)
    assert sha256(content) == raw.sha256
    err = capsys.readouterr().err
    assert f"$FMNIST_DATA {bad}" in err
    assert reason in err


def test_file_url_source(tmp_path):
    require_debian_dir()
    source = Source("$FMNIST_DATA", DEBIAN_DIR.as_uri())
    assert source.is_url
    content = fetch(TEST_LABELS, [source], tmp_path, 5)
    assert sha256(content) == TEST_LABELS.sha256


# --- ordering -----------------------------------------------------------------------------


def test_ordered_sources_with_env_value():
    mirrors = ["https://a.example/data", "https://b.example/data"]
    sources = ordered_sources("/srv/fmnist", Path("/usr/share/datasets/fashion-mnist"), mirrors)
    assert sources == [
        Source("$FMNIST_DATA", "/srv/fmnist"),
        Source("Debian package dir", "/usr/share/datasets/fashion-mnist"),
        Source("mirror", "https://a.example/data"),
        Source("mirror", "https://b.example/data"),
    ]
    assert [s.is_url for s in sources] == [False, False, True, True]


def test_ordered_sources_env_url_is_a_url():
    sources = ordered_sources("http://127.0.0.1:8000/fmnist", DEBIAN_DIR, [])
    assert sources[0] == Source("$FMNIST_DATA", "http://127.0.0.1:8000/fmnist")
    assert sources[0].is_url


@pytest.mark.parametrize("env_value", [None, ""], ids=["unset", "empty"])
def test_ordered_sources_without_env_value(env_value):
    mirrors = ("https://a.example", "https://b.example")
    sources = ordered_sources(env_value, DEBIAN_DIR, mirrors)
    assert [s.origin for s in sources] == ["Debian package dir", "mirror", "mirror"]
    assert [s.location for s in sources] == [str(DEBIAN_DIR), *mirrors]
    assert all(s.origin != "$FMNIST_DATA" for s in sources)


def placeholders(directory: Path, packed: bool = True) -> Path:
    """The four file names, present (locate looks, it does not read)."""
    directory.mkdir(parents=True, exist_ok=True)
    for raw in RAW_FILES:
        (directory / (raw.gz_name if packed else raw.name)).write_bytes(b"x")
    return directory


def test_locate_names_the_first_source_holding_all_four_files(tmp_path, server):
    partial = tmp_path / "partial"
    placeholders(partial)
    (partial / RAW_FILES[0].gz_name).unlink()
    full = placeholders(tmp_path / "full", packed=False)
    dead = Source("mirror", "http://127.0.0.1:9/none")
    sources = [Source("$FMNIST_DATA", str(partial)), Source("Debian package dir", str(full)), dead]
    assert locate(sources, tmp_path / "cache", 2) == f"Debian package dir {full}"
    assert locate([dead], tmp_path / "cache", 2) is None
    assert (
        locate([dead], placeholders(tmp_path / "cache"), 2)
        == f"the download cache {tmp_path / 'cache'}"
    )
    assert (
        locate([dead, server.mirror("good")], tmp_path / "empty", 2)
        == server.mirror("good").describe()
    )
