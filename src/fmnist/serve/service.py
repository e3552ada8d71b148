"""What the handlers share: the settings, the model serving now, its reload, and admission.

One Service per app, kept on `app.state.service`: the handlers read it there, the lifespan runs
its watcher, and the server turns its `draining` flag on at SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

import anyio
from starlette.requests import Request

from fmnist.core.errors import FmnistError
from fmnist.serve import protocol
from fmnist.serve.batching import Batcher
from fmnist.serve.body import declared_length, read_body
from fmnist.serve.metrics import Metrics
from fmnist.serve.served_model import ServedModel, load, stamp
from fmnist.serve.settings import LARGE_BODIES, LARGE_BODY, ServeSettings

LOG = logging.getLogger("fmnist.serve")


class Service:
    """What the handlers share: the settings, the model serving now, and the server's state."""

    def __init__(self, settings: ServeSettings, model: ServedModel) -> None:
        self.settings, self.model, self.metrics = settings, model, Metrics()
        self.batcher = Batcher()  # invokes of requests that arrive together, run together
        self.draining = False
        self.seen = model.stamp  # the file as last looked at, loaded or refused
        self.large = asyncio.Semaphore(LARGE_BODIES)
        self.decoders = asyncio.Semaphore(2)  # Pillow's work is bounded by the 2 cores anyway
        self.metrics.serving(settings.name, model.version)

    def model_for(self, request: Request) -> ServedModel:
        """The model a URL names: 404 for another name or another version."""
        model, name = self.model, request.path_params["name"]
        if name != self.settings.name:
            raise protocol.ProtocolError(
                f"unknown model {name[:40]!r}; this server serves {self.settings.name!r}", 404
            )
        version = request.path_params.get("version")
        if version is not None and version != model.version:
            raise protocol.ProtocolError(
                f"version {version[:40]!r} is not loaded; serving {model.version}", 404
            )
        return model

    @asynccontextmanager
    async def admitted(self, request: Request) -> AsyncIterator[tuple[bytes, bool]]:
        """The body read within the limit, and whether it is large: a body over LARGE_BODY (or
        of unknown size) holds one of LARGE_BODIES slots until the block ends."""
        length = declared_length(request)
        large = length is None or length > LARGE_BODY
        async with self.large if large else nullcontext():
            yield await read_body(request, self.settings.max_body, length), large

    async def check_model(self) -> None:
        """Load the model file if it changed; swap it in only if it passes every check."""
        path, now = self.settings.model, stamp(self.settings.model)
        if now == self.seen:
            return
        self.seen = now
        if now is None:
            LOG.info("fmnist serve: %s is gone; version %s keeps serving", path, self.model.version)
            return
        try:
            new = await anyio.to_thread.run_sync(load, path)
        except FmnistError as error:
            self.metrics.reloads.labels("refused").inc()
            LOG.info("fmnist serve: kept version %s; refused %s", self.model.version, error)
            return
        old = self.model
        self.model = new
        if new.version != old.version:
            self.metrics.reloads.labels("loaded").inc()
            self.metrics.serving(self.settings.name, new.version, old.version)
            LOG.info("fmnist serve: now serving version %s (was %s)", new.version, old.version)

    async def watch(self) -> None:
        """Look at the model file every `poll` seconds, for as long as the server runs."""
        while True:
            await asyncio.sleep(self.settings.poll)
            try:
                await self.check_model()
            except Exception as error:  # a surprise must not end reloads for good
                LOG.error("fmnist serve: looking at %s failed: %r", self.settings.model, error)
