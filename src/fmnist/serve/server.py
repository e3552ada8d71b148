"""`fmnist serve`: the app on uvicorn, with the parts uvicorn leaves to its user.

- The model loads and the port binds before anything is served: either fails in one line.
- Slow clients: uvicorn times out idle keep-alive connections but not a request whose headers
  or body arrive a byte at a time (slowloris). SlowClientGuard gives every request
  `client_timeout` seconds from its first byte to its last, then answers 408 and closes. Its
  deadline and what it counts on a timeout are keyword arguments, bound with functools.partial:
  uvicorn's `Config(http=...)` takes any callable that makes a protocol, and calls it with
  `config`, `server_state`, `app_state` and `_loop` for each connection.
- gRPC (grpc/endpoint.py) runs on the same event loop, started before the HTTP socket
  serves and stopped with it, its in-flight calls given the same `drain_timeout`.
- Shutdown: SIGTERM or Ctrl-C stop the listening socket, readiness turns 503 for clients still
  connected, in-flight requests get `drain_timeout` seconds, and the process exits 0 with one
  line. (uvicorn itself re-raises the signal after its graceful shutdown, which would end the
  process by the signal, not with 0.) A second signal stops at once.
- With --workers above 1, this runs in each worker process, forked by supervisor.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from grpc import aio
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fmnist.core.errors import FmnistError
from fmnist.serve.app import create_app
from fmnist.serve.grpc.endpoint import create_server
from fmnist.serve.served_model import load
from fmnist.serve.service import Service
from fmnist.serve.settings import ServeSettings
from fmnist.serve.staging import Staging
from fmnist.serve.supervisor import Supervisor, check_and_stage

LOG = logging.getLogger("fmnist.serve")
_TIMEOUT_BODY = b'{"error": "the request took too long to arrive"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class SlowClientGuard(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline on each request's arrival."""

    def __init__(
        self, *args: Any, deadline: float, on_timeout: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline, self.on_timeout = deadline, on_timeout
        self._timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.deadline, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.on_timeout()
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # the first request's first byte must come in time too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class Server(uvicorn.Server):
    """uvicorn's server with gRPC beside it, draining on SIGTERM or Ctrl-C and then returning,
    not re-signalling."""

    def __init__(self, config: uvicorn.Config, service: Service, grpc: str | None) -> None:
        super().__init__(config)
        self.service, self.grpc_address = service, grpc
        self.grpc: aio.Server | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, self.handle_exit) for number in handled}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def handle_exit(self, sig: int, frame: object) -> None:
        self.service.draining = True
        if self.should_exit:  # a second signal stops without waiting
            self.force_exit = True
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self.grpc_address is not None:
            reuse = self.service.staging is not None  # workers share the port
            self.grpc = create_server(self.service, self.grpc_address, reuse)
            await self.grpc.start()
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        grace = self.service.settings.drain_timeout
        stopping = self.grpc.stop(grace) if self.grpc is not None else asyncio.sleep(0)
        await asyncio.gather(super().shutdown(sockets), stopping)


def bind(host: str, port: int, option: str = "--port") -> socket.socket:
    """The listening socket, or one line saying why not (`option`: the one that picks another)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as problem:
        raise FmnistError(f"--host {host}: cannot resolve it ({problem.strerror})") from None
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as problem:
        listener.close()
        hint = f"; {option} picks another" if problem.errno == errno.EADDRINUSE else ""
        reason = f"{host}:{port}: cannot listen there ({problem.strerror}){hint}"
        raise FmnistError(reason) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def reserve(host: str, port: int) -> int:
    """gRPC's port, checked free (0: a free one picked): a port another server holds is refused
    here in one line, not shared by SO_REUSEPORT."""
    probe = bind(host, port, "--grpc-port")
    found = probe.getsockname()[1]
    probe.close()
    return found


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("fmnist.serve", "fmnist.serve.access"):
        logging.getLogger(name).handlers = [handler]
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).propagate = False
    logging.getLogger("fmnist.serve.access").disabled = quiet
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # its lines, ours said better


def run(service: Service, listener: socket.socket, grpc: str | None) -> int:
    """Serve `service` on `listener` (and gRPC at `grpc`) until SIGTERM or Ctrl-C: 0."""
    settings = service.settings
    guard = functools.partial(
        SlowClientGuard,
        deadline=settings.client_timeout,
        on_timeout=service.metrics.requests.labels("timeout", "408").inc,
    )
    config = uvicorn.Config(
        create_app(service),
        http=guard,
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is not trusted: the log names the real peer
        timeout_graceful_shutdown=settings.drain_timeout,
    )
    Server(config, service, grpc).run(sockets=[listener])
    return 0


def _worker(settings: ServeSettings, staging: Staging, listener: socket.socket, grpc: str | None):
    """What each worker process runs: the staged model, served until told to stop."""

    def work() -> int:
        model = load(staging.model(staging.current()))
        return run(Service(settings, model, staging), listener, grpc)

    return work


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def serve(settings: ServeSettings) -> int:
    """Check, bind, serve until SIGTERM or Ctrl-C, drain, and say so: the `fmnist serve` command."""
    staging = Staging.create() if settings.workers > 1 else None
    try:
        if staging is None:
            model = load(settings.model)
            version = model.version
        else:
            version = check_and_stage(staging, settings.model)
        listener = bind(settings.host, settings.port)
        grpc = None
        if settings.grpc_port is not None:
            grpc = _address(settings.host, reserve(settings.host, settings.grpc_port))
        _logging(settings.quiet)
        host, port = listener.getsockname()[:2]
        LOG.info(
            "fmnist serve: %s (version %s) at http://%s/ (the page; the API under /v2)%s%s",
            settings.model,
            version,
            _address(host, port),
            f", gRPC at {grpc}" if grpc else "",
            f", {settings.workers} worker processes" if staging else "",
        )
        if staging is None:
            service = Service(settings, model)
            run(service, listener, grpc)
            metrics = service.metrics
        else:
            work = _worker(settings, staging, listener, grpc)
            supervisor = Supervisor(
                staging, settings.model, version, settings.workers, settings.poll, work, [listener]
            )
            supervisor.run()
            metrics = supervisor.metrics
        LOG.info("fmnist serve: stopped after %s", _plural(metrics.requests_answered(), "request"))
        return 0
    finally:
        if staging is not None:  # workers end by os._exit, never here
            staging.remove()
