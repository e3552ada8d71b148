"""The Starlette app: the Open Inference Protocol's REST routes, the page and its image endpoint.

Handlers are a few lines each; the protocol's parsing and encoding are pure functions
(protocol.py). Inference runs in the event loop's own thread: one call at a time per
interpreter, as LiteRT requires, without a lock or a thread hop per request. Image decoding
and the parsing of large JSON bodies run in worker threads, a bounded number at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from importlib import metadata, resources
from io import BytesIO

import anyio
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fmnist.core.errors import FmnistError
from fmnist.decoding import decode
from fmnist.inference.classifier import ModelError, softmax, top_classes
from fmnist.ood.score import describe
from fmnist.serve import protocol
from fmnist.serve.body import declared_length, read_body
from fmnist.serve.metrics import Metrics, observed
from fmnist.serve.served_model import ServedModel, load, stamp
from fmnist.serve.settings import LARGE_BODIES, LARGE_BODY, ServeSettings

LOG = logging.getLogger("fmnist.serve")
EXTENSIONS = ["binary_tensor_data", "classification"]
UPLOAD_NAME = "upload"  # what a decoding error calls the page's file: no client-given name


class Service:
    """What the handlers share: the settings, the model serving now, and the server's state."""

    def __init__(self, settings: ServeSettings, model: ServedModel) -> None:
        self.settings, self.model, self.metrics = settings, model, Metrics()
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


def _json(content: object, status: int = 200, headers: dict | None = None) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, headers, media_type="application/json")


def error(message: str, status: int, headers: dict | None = None) -> Response:
    """The protocol's error body: {"error": "<one line>"}."""
    return _json({"error": " ".join(message.split())}, status, headers)


def create_app(service: Service) -> ASGIApp:
    """The ASGI app over `service`, with its routes, limits, metrics and (if asked) CORS."""
    settings, page = service.settings, resources.files(__package__).joinpath("page.html")
    page_html = page.read_text(encoding="utf-8")
    version = metadata.version("fmnist")

    async def live(request: Request) -> Response:
        return _json({"live": True})

    async def ready(request: Request) -> Response:
        if service.draining:
            return error("shutting down", 503)
        return _json({"ready": True})

    async def server_metadata(request: Request) -> Response:
        return _json({"name": "fmnist", "version": version, "extensions": EXTENSIONS})

    async def model_metadata(request: Request) -> Response:
        model = service.model_for(request)
        tensor = {"datatype": protocol.DATATYPE}
        outputs = [
            {"name": name, **tensor, "shape": [-1] if name == protocol.OOD_SCORE else [-1, 10]}
            for name in protocol.OUTPUTS
            if name != protocol.OOD_SCORE or model.classifier.profile is not None
        ]
        return _json(
            {
                "name": settings.name,
                "versions": [model.version],
                "platform": "tflite",
                "inputs": [{"name": protocol.INPUT, **tensor, "shape": [-1, 28, 28]}],
                "outputs": outputs,
            }
        )

    async def model_ready(request: Request) -> Response:
        service.model_for(request)
        if service.draining:
            return error("shutting down", 503)
        return _json({"name": settings.name, "ready": True})

    async def infer(request: Request) -> Response:
        model = service.model_for(request)
        async with service.admitted(request) as (body, large):
            header_length = request.headers.get(protocol.HEADER_LENGTH)
            arguments = (body, header_length, settings.max_batch)
            if large:
                parsed = await anyio.to_thread.run_sync(protocol.parse_infer, *arguments)
            else:
                parsed = protocol.parse_infer(*arguments)
            logits = model.logits(parsed.images)
            wanted = any(output.name == protocol.OOD_SCORE for output in parsed.outputs)
            verdict = model.ood(parsed.images, "tensor") if wanted else None
            scores = verdict.score if verdict is not None else None
            content, headers = protocol.encode_infer(
                parsed, settings.name, model.version, logits, scores
            )
        service.metrics.images.inc(len(logits))
        return Response(content, headers=headers)

    async def classify(request: Request) -> Response:
        """The page's endpoint: an image file in the body, decoded as `fmnist predict` does."""
        model = service.model
        async with service.admitted(request) as (body, _), service.decoders:
            images, kind = await anyio.to_thread.run_sync(decode, BytesIO(body), UPLOAD_NAME)
        probabilities = softmax(model.logits(images))
        verdict = model.ood(images[:1], kind)
        service.metrics.images.inc(len(images))
        first = (images[0] * 255).round().astype("uint8")
        return _json(
            {
                "model_name": settings.name,
                "model_version": model.version,
                "images": len(images),
                "pixels": first.ravel(),  # the 28x28 the model saw, row by row, 0-255
                "top": top_classes(probabilities[0]),
                "ood": describe(verdict, 0) if verdict is not None else None,
            }
        )

    async def home(request: Request) -> Response:
        return HTMLResponse(page_html)

    async def metrics(request: Request) -> Response:
        return Response(service.metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def protocol_error(request: Request, problem: Exception) -> Response:
        headers = {"connection": "close"} if problem.status == 413 else None
        return error(str(problem), problem.status, headers)

    async def user_error(request: Request, problem: Exception) -> Response:
        return error(str(problem), 400)

    async def http_error(request: Request, problem: Exception) -> Response:
        known = {404: "no such endpoint", 405: f"{request.method} is not allowed here"}
        message = known.get(problem.status_code, problem.detail)
        return error(message, problem.status_code, problem.headers)

    async def disconnected(request: Request, problem: Exception) -> Response:
        return Response(status_code=400)  # nobody is left to read it

    async def model_failed(request: Request, problem: Exception) -> Response:
        LOG.error("fmnist serve: %s", problem)
        return error("the model failed on this input", 500)

    # The infer routes first: Starlette tries routes in order, and infer is the busiest.
    model_path = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [Route(path + "/infer", infer, methods=["POST"]) for path in (model_path, versioned)]
    routes += [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/", home, methods=["GET"]),
        Route("/classify", classify, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
    ]
    for prefix in (model_path, versioned):
        routes += [
            Route(prefix, model_metadata, methods=["GET"]),
            Route(prefix + "/ready", model_ready, methods=["GET"]),
        ]

    @asynccontextmanager
    async def lifespan(app: Starlette):
        watcher = asyncio.create_task(service.watch())
        try:
            yield
        finally:
            watcher.cancel()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", protocol.HEADER_LENGTH],
                expose_headers=[protocol.HEADER_LENGTH],
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            protocol.ProtocolError: protocol_error,
            FmnistError: user_error,
            ModelError: model_failed,
            HTTPException: http_error,
            ClientDisconnect: disconnected,
        },
    )
    app.state.service = service
    return observed(app, service.metrics, settings.quiet)
