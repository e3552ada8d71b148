"""Hostile requests against the app in-process: each gets its status and one line, and the app
stays live; bodies over the limit are refused whether declared, chunked or compressed; 1,000
fuzzed requests, no 5xx. What only a socket shows (the connection closed after a 413, slow
clients) is in test_server.py."""

from __future__ import annotations

import gzip
import logging
import random
from collections import Counter

import numpy as np
import pytest

from fmnist.serve.settings import MIB, ServeSettings

from .bodies import INFER, binary_request, image_request


@pytest.fixture(scope="module")
def settings(model_file) -> ServeSettings:
    return ServeSettings(model=model_file, quiet=True, max_body=MIB, max_batch=64)


def gzip_bomb() -> bytes:
    return gzip.compress(b"0" * (8 * MIB))  # 8 MiB of zeros in about 8 KiB


BAD = {  # method, path, body, headers, status, a fragment of the one line
    "unknown model": (
        "POST",
        "/v2/models/other/infer",
        image_request(),
        {},
        404,
        "unknown model 'other'",
    ),
    "unknown path": ("GET", "/../../etc/passwd", None, {}, 404, "no such endpoint"),
    "wrong method": ("DELETE", "/v2/health/live", b"", {}, 405, "DELETE is not allowed here"),
    "not json": ("POST", INFER, b"\xff\xfe", {}, 400, "not valid JSON"),
    "empty body": ("POST", INFER, b"", {}, 400, "not valid JSON"),
    "too deep": ("POST", INFER, b"[" * 5000 + b"]" * 5000, {}, 400, "nests deeper than 1024"),
    "wrong datatype": ("POST", INFER, image_request().replace(b"FP32", b"INT8"), {}, 400, "'INT8'"),
    "batch over the limit": (
        "POST",
        INFER,
        image_request(65),
        {},
        400,
        "a batch of 65 images; this server takes 64",
    ),
    "NaN": ("POST", INFER, *binary_request(np.full((1, 28, 28), np.nan)), 400, "NaN or infinity"),
    "infinity in JSON": ("POST", INFER, image_request(value=1e39), {}, 400, "NaN or infinity"),
    "values that overflow the model": (
        "POST",
        INFER,
        *binary_request(np.stack([np.zeros((28, 28)), np.full((28, 28), 3e38)])),
        400,
        "image 1 overflows the model (logits beyond FP32); pixels belong in [0, 1]",
    ),
    "header length text": (
        "POST",
        INFER,
        image_request(),
        {"Inference-Header-Content-Length": "ab"},
        400,
        "not a number",
    ),
    "header length negative": (
        "POST",
        INFER,
        image_request(),
        {"Inference-Header-Content-Length": "-1"},
        400,
        "not a number",
    ),
    "header length past the body": (
        "POST",
        INFER,
        image_request(),
        {"Inference-Header-Content-Length": "99999999999"},
        400,
        "past the body",
    ),
    "content length text": ("POST", INFER, b"{}", {"Content-Length": "abc"}, 400, "not a number"),
    "body over the limit": ("POST", INFER, b" " * (MIB + 1), {}, 413, "limit of 1.0 MiB"),
    "declared over the limit": (
        "POST",
        INFER,
        b"",
        {"Content-Length": str(10**12)},
        413,
        "a body of 1,000,000,000,000 bytes is over this server's limit of 1.0 MiB",
    ),
    "chunked over the limit": (
        "POST",
        INFER,
        [b" " * 65536] * 24,  # 1.5 MiB in chunks, without Content-Length
        {},
        413,
        "the body is over",
    ),
    "gzip bomb": (
        "POST",
        INFER,
        gzip_bomb(),
        {"Content-Encoding": "gzip"},
        413,
        "gzip body inflated",
    ),
    "broken gzip": (
        "POST",
        INFER,
        b"\x1f\x8b\x08garbage",
        {"Content-Encoding": "gzip"},
        400,
        "does not inflate",
    ),
    "unknown encoding": (
        "POST",
        INFER,
        b"{}",
        {"Content-Encoding": "br"},
        415,
        "gzip, deflate or none",
    ),
    "image endpoint, not an image": ("POST", "/classify", b"hello", {}, 400, "upload: not a PNG"),
    "image endpoint, empty": ("POST", "/classify", b"", {}, 400, "upload: empty file"),
}


def assert_one_line_error(response, want: int, fragment: str) -> None:
    assert response.status_code == want, response.content
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert fragment in message and "\n" not in message and "Traceback" not in message
    assert "/work" not in message and "/tmp" not in message  # no path of the server's


@pytest.mark.parametrize("case", list(BAD))
def test_each_hostile_request_is_one_line_and_the_app_stays_live(served, case):
    method, path, body, headers, want, fragment = BAD[case]
    response = served.request(method, path, content=body, headers=headers)
    assert_one_line_error(response, want, fragment)
    if want == 413:  # what is left of the body is not read: the connection cannot be reused
        assert response.headers["connection"] == "close"
    assert served.get("/v2/health/live").status_code == 200


def mutations(rng: random.Random):
    """Valid requests, then broken in one of many ways: the fuzz corpus."""
    json_body = image_request(2)
    binary_body, binary_headers = binary_request(np.full((2, 28, 28), 0.25))
    paths = [
        INFER,
        "/v2/models/fmnist/versions/x/infer",
        "/classify",
        "/v2",
        "/v2/health/ready",
        "/v2/models/fmnist",
        "/v2/models/%00/infer",
        "/" + "a" * 3000,
        "/metrics",
    ]
    for _ in range(1000):
        body = bytearray(rng.choice([json_body, binary_body]))
        headers = dict(binary_headers) if rng.random() < 0.5 else {}
        how = rng.randrange(7)
        if how == 0:  # flip bytes
            for _ in range(rng.randint(1, 20)):
                body[rng.randrange(len(body))] = rng.randrange(256)
        elif how == 1:  # cut
            body = body[: rng.randrange(len(body))]
        elif how == 2:  # a header length anywhere, or nonsense
            headers["Inference-Header-Content-Length"] = rng.choice(
                [str(rng.randrange(-10, len(body) + 10)), "", " 1", "1e3", "0x10", "٣".encode()]
            )
        elif how == 3:  # a number in the JSON replaced
            body = bytearray(
                bytes(body).replace(b"28", rng.choice([b"-1", b"1e9", b"null", b"[]"]), 1)
            )
        elif how == 4:  # random bytes
            body = bytearray(rng.randbytes(rng.randrange(1, 5000)))
        elif how == 5:
            headers["Content-Encoding"] = rng.choice(["gzip", "deflate", "identity", "x"])
        method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"])
        yield method, rng.choice(paths) if rng.random() < 0.2 else INFER, bytes(body), headers


def test_a_thousand_fuzzed_requests_give_no_5xx_and_the_app_stays_ready(served, caplog):
    """The test client raises what no handler caught: a crash fails here, not only a 5xx."""
    statuses = Counter()
    for method, path, body, headers in mutations(random.Random(20261204)):
        response = served.request(method, path, content=body, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (method, path, body[:200], headers, response.content)
        if response.status_code >= 400 and method != "HEAD":
            assert "\n" not in response.json()["error"]
    assert sum(statuses.values()) == 1000 and statuses[200] > 0
    assert served.get("/v2/health/ready").status_code == 200
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
