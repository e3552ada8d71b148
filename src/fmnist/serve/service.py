"""What the handlers share: the settings, the model serving now, its reload, and admission.

One Service per app, kept on `app.state.service`: the handlers read it there, the lifespan runs
its watcher, and the server turns its `draining` flag on at SIGTERM or Ctrl-C. A worker process
under a supervisor (`staging`) watches the supervisor's checked copies, not the user's file, and
says which version it serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

import anyio
import numpy as np
from starlette.requests import Request

from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import LOGITS
from fmnist.serve import protocol
from fmnist.serve.batching import Batcher
from fmnist.serve.body import declared_length, read_body
from fmnist.serve.metrics import Metrics
from fmnist.serve.served_model import ServedModel, load, stamp
from fmnist.serve.settings import LARGE_BODIES, LARGE_BODY, ServeSettings
from fmnist.serve.staging import Staging

LOG = logging.getLogger("fmnist.serve")


class Service:
    """What the handlers share: the settings, the model serving now, and the server's state."""

    def __init__(
        self, settings: ServeSettings, model: ServedModel, staging: Staging | None = None
    ) -> None:
        self.settings, self.model, self.staging = settings, model, staging
        self.metrics = Metrics(staging.metrics if staging else None)
        self.batcher = Batcher()  # invokes of requests that arrive together, run together
        self.draining = False
        self.seen = model.stamp if staging is None else stamp(staging.pointer)
        self.large = asyncio.Semaphore(LARGE_BODIES)
        self.decoders = asyncio.Semaphore(2)  # Pillow's work is bounded by the 2 cores anyway
        self.metrics.serving(settings.name, model.version)
        if staging is not None:
            staging.publish(model.version)

    def model_for(self, request: Request) -> ServedModel:
        """The model a URL names: 404 for another name or another version."""
        return self.model_named(request.path_params["name"], request.path_params.get("version"))

    def model_named(self, name: str, version: str | None) -> ServedModel:
        """The model serving now if `name` (and `version`, unless None) are its: else 404."""
        model = self.model
        if name != self.settings.name:
            raise protocol.ProtocolError(
                f"unknown model {name[:40]!r}; this server serves {self.settings.name!r}", 404
            )
        if version is not None and version != model.version:
            raise protocol.ProtocolError(
                f"version {version[:40]!r} is not loaded; serving {model.version}", 404
            )
        return model

    def metadata(self, model: ServedModel) -> dict:
        """The model's metadata: its input and outputs (ood_score only with the flag)."""
        tensor = {"datatype": protocol.DATATYPE}
        outputs = [
            {"name": name, **tensor, "shape": [-1] if name == protocol.OOD_SCORE else [-1, 10]}
            for name in protocol.OUTPUTS
            if name != protocol.OOD_SCORE or model.classifier.has_flag
        ]
        return {
            "name": self.settings.name,
            "versions": [model.version],
            "platform": "tflite",
            "inputs": [{"name": protocol.INPUT, **tensor, "shape": [-1, 28, 28]}],
            "outputs": outputs,
        }

    @asynccontextmanager
    async def admitted(self, request: Request) -> AsyncIterator[tuple[bytes, bool]]:
        """The body read within the limit, and whether it is large: a body over LARGE_BODY (or
        of unknown size) holds one of LARGE_BODIES slots until the block ends."""
        length = declared_length(request)
        large = length is None or length > LARGE_BODY
        async with self.large if large else nullcontext():
            yield await read_body(request, self.settings.max_body, length), large

    async def infer(
        self, model: ServedModel, images: np.ndarray, flag: bool
    ) -> dict[str, np.ndarray]:
        """The model's outputs (with `flag`, the flag's too), its logits all finite: JSON has no
        infinity, and a null would read as an answer. Run with the requests waiting beside it."""
        outputs = await self.batcher.run(model, images, flag)
        logits = outputs[LOGITS]
        if not np.isfinite(logits).all():
            first = int(np.flatnonzero(~np.isfinite(logits).all(axis=1))[0])
            raise protocol.ProtocolError(
                f"image {first} overflows the model (logits beyond FP32); pixels belong in [0, 1]"
            )
        return outputs

    async def answer(
        self, model: ServedModel, parsed: protocol.InferRequest
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """The model's outputs for an infer request (HTTP's or gRPC's), with the flag's scores
        only if it asks for ood_score (None: not asked, or a model without the flag); its images
        counted."""
        wanted = any(output.name == protocol.OOD_SCORE for output in parsed.outputs)
        outputs = await self.infer(model, parsed.images, wanted)
        self.metrics.images.inc(len(parsed.images))
        return outputs, outputs.get(protocol.OOD_SCORE) if wanted else None

    async def check_staged(self, staging: Staging) -> None:
        """Serve the version the supervisor staged, if it is not the one serving."""
        now = stamp(staging.pointer)
        if now == self.seen:
            return
        self.seen = now
        version = staging.current()
        if version != self.model.version:
            new = await anyio.to_thread.run_sync(load, staging.model(version))
            self.swap(new)
        staging.publish(self.model.version)

    def swap(self, new: ServedModel) -> None:
        """`new` serves from now on (a request already running finishes on the old)."""
        old, self.model = self.model, new
        if new.version != old.version:
            self.metrics.serving(self.settings.name, new.version, old.version)
            if self.staging is None:  # with workers, the supervisor counts and says it, once
                self.metrics.reloads.labels("loaded").inc()
                LOG.info("fmnist serve: now serving version %s (was %s)", new.version, old.version)

    async def check_model(self) -> None:
        """Load the model file if it changed; swap it in only if it passes every check."""
        if self.staging is not None:
            return await self.check_staged(self.staging)
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
        self.swap(new)

    async def watch(self) -> None:
        """Look at the model file every `poll` seconds, for as long as the server runs."""
        while True:
            await asyncio.sleep(self.settings.poll)
            try:
                await self.check_model()
            except Exception as error:  # a surprise must not end reloads for good
                LOG.error("fmnist serve: looking at %s failed: %r", self.settings.model, error)
