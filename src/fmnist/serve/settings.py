"""What `fmnist serve` is told on its command line, checked once: one frozen object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fmnist.core.errors import FmnistError

MIB = 2**20
# A body above this waits for one of LARGE_BODIES slots: the memory many clients at once can
# make the server hold stays near LARGE_BODIES x max_body, whatever their number.
LARGE_BODY = MIB
LARGE_BODIES = 2
MAX_WORKERS = 64


def cores() -> int:
    """The cores this process may use (its CPU affinity, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ServeSettings:
    """The server's options; every limit here bounds what one client can make it do."""

    model: Path
    host: str = "127.0.0.1"  # loopback unless told otherwise: nothing is exposed by accident
    port: int = 8080  # KServe's port for a model server's HTTP
    grpc_port: int | None = 8081  # KServe's port for its gRPC; None: no gRPC
    workers: int = field(default_factory=lambda: cores())  # processes, one port (1: no supervisor)
    name: str = "fmnist"  # the model's name in the protocol's URLs
    max_batch: int = 1024  # images in one request: 3 MiB as binary FP32, about 8 MiB as JSON
    # Triton's default (--http-max-input-size): 64 MiB. The worst JSON this lets through (all
    # "0,") parses to about 256 MB of Python objects, and two large bodies are read at a time.
    max_body: int = 64 * MIB
    client_timeout: float = 30.0  # seconds from a request's first byte to its last
    drain_timeout: float = 30.0  # seconds in-flight requests get at shutdown (Triton, KServe: 30)
    poll: float = 1.0  # seconds between looks at the model file (TF Serving's default: 1)
    cors_origins: tuple[str, ...] = ()  # no cross-origin access unless an origin is named
    quiet: bool = False  # no access-log lines

    def __post_init__(self) -> None:
        problems = [
            f"--{key.replace('_', '-')} {value}: must be above 0"
            for key, value in (
                ("max_batch", self.max_batch),
                ("max_body", self.max_body),
                ("client_timeout", self.client_timeout),
                ("drain_timeout", self.drain_timeout),
                ("poll", self.poll),
            )
            if not value > 0
        ]
        if not 1 <= self.workers <= MAX_WORKERS:
            problems.append(f"--workers {self.workers}: must be 1 to {MAX_WORKERS}")
        if self.grpc_port is not None and not 0 <= self.grpc_port <= 65535:
            problems.append(f"--grpc-port {self.grpc_port}: not a port (0 picks a free one)")
        if self.grpc_port is not None and self.grpc_port == self.port != 0:
            problems.append(f"--grpc-port {self.grpc_port}: the HTTP port already")
        if not 0 <= self.port <= 65535:
            problems.append(f"--port {self.port}: not a port (0 picks a free one)")
        if not self.name or "/" in self.name or not self.name.isprintable():
            problems.append(f"--name {self.name!r}: one printable path segment, without /")
        if problems:
            raise FmnistError(problems[0])
