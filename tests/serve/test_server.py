"""What only a real `fmnist serve` process shows about limits: a 413 arrives before the body
is sent and the connection closes after it, a chunked body over the limit is read to its end so
the client is not reset before it reads its 413, and slow clients (slowloris) are cut off with a
408 by the HTTP protocol's guard while others are served."""

from __future__ import annotations

import http.client
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from .bodies import INFER, image_request
from .running import serving

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(model_file, tmp_path_factory):
    options = ("--quiet", "--max-body-mb", "1", "--client-timeout", str(CLIENT_TIMEOUT))
    with serving(model_file, tmp_path_factory.mktemp("server"), *options) as running:
        yield running


def test_an_oversized_body_is_refused_before_it_is_sent(server):
    """Content-Length alone is enough: 413 arrives though not one byte of the body was sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(
            f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := raw.recv(65536):  # the server closes after its answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"a body of 1,000,000,000,000 bytes is over" in answer


def test_a_chunked_body_is_cut_at_the_limit(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    # 1.5 MiB without Content-Length: read to its end (up to twice the limit), so the client
    # is not reset while still sending, and reads its 413.
    chunks = (b" " * 65536 for _ in range(24))
    connection.request("POST", INFER, body=chunks, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and b"the body is over" in response.read()
    connection.close()


def slow_request(port: int, first: bytes, drip: bytes) -> bytes:
    """Send `first`, then `drip` a byte at a time until the server answers or closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(first)
        raw.settimeout(0.2)
        answer = b""
        for byte in drip:
            try:
                raw.sendall(bytes([byte]))
                chunk = raw.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += chunk
            if not chunk:
                break
        raw.settimeout(30)
        try:
            while chunk := raw.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def timeouts(server) -> float:
    """The 408s counted in /metrics so far."""
    for line in server.request("GET", "/metrics")[2].decode().splitlines():
        if line.startswith('fmnist_http_requests_total{endpoint="timeout",status="408"} '):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_slow_client_is_cut_off_while_others_are_served(server, part):
    head = f"POST {INFER} HTTP/1.1\r\nHost: x\r\n"
    if part == "headers":
        first, drip = head.encode(), b"X-Slow: " + b"a" * 200
    else:
        first, drip = f"{head}Content-Length: 5000\r\n\r\n".encode(), image_request()[:200]
    before = timeouts(server)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(slow_request, server.port, first, drip)
        served = 0
        while not slow.done():
            status, _, _ = server.request("POST", INFER, image_request())
            assert status == 200
            served += 1
        answer = slow.result()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"the request took too long to arrive" in answer
    assert served > 0 and timeouts(server) == before + 1
    assert server.request("GET", "/v2/health/ready")[0] == 200
    assert "Traceback" not in server.output()
