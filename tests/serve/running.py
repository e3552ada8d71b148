"""A real `fmnist serve` process on a free loopback port, for the tests: started, waited for
until ready, and stopped at the end (SIGTERM, then SIGKILL if it does not go)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0
_READY_LINE = re.compile(r"at http://127\.0\.0\.1:(\d+)/")
_GRPC = re.compile(r"gRPC at 127\.0\.0\.1:(\d+)")


@dataclass
class Server:
    """A running server: its process, its port, and the file its output goes to."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def grpc(self) -> str:
        """host:port of its gRPC API."""
        return f"127.0.0.1:{_GRPC.search(self.output()).group(1)}"

    def workers(self) -> dict[str, str]:
        """With worker processes, each one's pid and the version it serves."""
        return json.loads(self.request("GET", "/v2/health/ready")[2]).get("workers", {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection: status, headers (lower-case names) and body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return response.status, headers, response.read()
        finally:
            connection.close()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, and its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start(model: Path, folder: Path, *options: str, python: str = sys.executable) -> Server:
    """`fmnist serve --model MODEL --port 0 OPTIONS` (by `python`), once it answers ready."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"serve-{time.monotonic_ns()}.log"
    # One process and a free gRPC port unless the options say otherwise (the last one counts).
    command = [python, "-m", "fmnist", "serve", "--model", str(model), "--port", "0"]
    command += ["--workers", "1", "--grpc-port", "0"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, *options],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = _READY_LINE.search(log.read_text(errors="replace"))
        if found:
            server = Server(process, int(found.group(1)), log)
            if server.request("GET", "/v2/health/ready")[0] == 200:
                return server
        if process.poll() is not None:
            raise AssertionError(f"fmnist serve exited {process.returncode}: {log.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"fmnist serve not ready in {START_TIMEOUT} s: {log.read_text()}")


@contextlib.contextmanager
def serving(
    model: Path, folder: Path, *options: str, python: str = sys.executable
) -> Iterator[Server]:
    """A server for the block; stopped after it, whatever happened."""
    server = start(model, folder, *options, python=python)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(60)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
