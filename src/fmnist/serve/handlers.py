"""One small function per route, and the exception handlers: Starlette's endpoints.

Each reads the shared Service from `request.app.state.service`; the protocol's parsing and
encoding are pure functions (protocol.py). Inference runs in the event loop's own thread: one
call at a time per interpreter, as LiteRT requires, without a lock or a thread hop per request.
Image decoding and the parsing of large JSON bodies run in worker threads, a bounded number at
once. A handler's name is its `endpoint` label in /metrics (metrics.py): renaming one renames
a series.
"""

from __future__ import annotations

import functools
import logging
from importlib import metadata, resources
from io import BytesIO

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from fmnist.decoding import decode
from fmnist.inference.classifier import probabilities_of, top_classes
from fmnist.ood.score import describe, from_outputs
from fmnist.serve import protocol
from fmnist.serve.service import Service

LOG = logging.getLogger("fmnist.serve")
EXTENSIONS = ["binary_tensor_data", "classification"]
UPLOAD_NAME = "upload"  # what a decoding error calls the page's file: no client-given name


def _json(content: object, status: int = 200, headers: dict | None = None) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, headers, media_type="application/json")


def error(message: str, status: int, headers: dict | None = None) -> Response:
    """The protocol's error body: {"error": "<one line>"}."""
    return _json({"error": " ".join(message.split())}, status, headers)


def _service(request: Request) -> Service:
    return request.app.state.service


@functools.cache
def _page() -> str:
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")


@functools.cache
def version() -> str:
    """The installed package's version, read once, not per request."""
    return metadata.version("fmnist")


async def live(request: Request) -> Response:
    """GET /v2/health/live."""
    return _json({"live": True})


async def ready(request: Request) -> Response:
    """GET /v2/health/ready: 503 while draining; with worker processes, the version each serves
    (they differ for the moment a new model takes to reach them all)."""
    service = _service(request)
    if service.draining:
        return error("shutting down", 503)
    if service.staging is None:
        return _json({"ready": True})
    return _json({"ready": True, "workers": service.staging.served()})


async def server_metadata(request: Request) -> Response:
    """GET /v2: the server's name, version and protocol extensions."""
    return _json({"name": "fmnist", "version": version(), "extensions": EXTENSIONS})


async def model_metadata(request: Request) -> Response:
    """GET /v2/models/{name}: the input and the outputs (ood_score only with the flag)."""
    service = _service(request)
    return _json(service.metadata(service.model_for(request)))


async def model_ready(request: Request) -> Response:
    """GET /v2/models/{name}/ready: 404 for another model, 503 while draining."""
    service = _service(request)
    service.model_for(request)
    if service.draining:
        return error("shutting down", 503)
    return _json({"name": service.settings.name, "ready": True})


async def infer(request: Request) -> Response:
    """POST /v2/models/{name}/infer: the outputs asked for, in JSON or binary."""
    service = _service(request)
    model = service.model_for(request)
    async with service.admitted(request) as (body, large):
        parsed = await _parse(request, body, large, service.settings.max_batch)
        outputs, scores = await service.answer(model, parsed)
    name = service.settings.name
    content, headers = protocol.encode_infer(parsed, name, model.version, outputs, scores)
    return Response(content, headers=headers)


async def _parse(
    request: Request, body: bytes, large: bool, max_batch: int
) -> protocol.InferRequest:
    """The request parsed: a large body in a worker thread, so the loop serves others meanwhile."""
    arguments = (body, request.headers.get(protocol.HEADER_LENGTH), max_batch)
    if large:
        return await anyio.to_thread.run_sync(protocol.parse_infer, *arguments)
    return protocol.parse_infer(*arguments)


async def classify(request: Request) -> Response:
    """POST /classify, the page's endpoint: an image file decoded as `fmnist predict` does."""
    service = _service(request)
    model = service.model
    async with service.admitted(request) as (body, _), service.decoders:
        images, kind = await anyio.to_thread.run_sync(decode, BytesIO(body), UPLOAD_NAME)
    outputs = await service.infer(model, images[:1], True)
    probabilities = probabilities_of(outputs)
    verdict = from_outputs(outputs, kind)
    service.metrics.images.inc(len(images))
    first = (images[0] * 255).round().astype("uint8")
    return _json(
        {
            "model_name": service.settings.name,
            "model_version": model.version,
            "images": len(images),
            "pixels": first.ravel(),  # the 28x28 the model saw, row by row, 0-255
            "top": top_classes(probabilities[0]),
            "ood": describe(verdict, 0) if verdict is not None else None,
        }
    )


async def home(request: Request) -> Response:
    """GET /: the page."""
    return HTMLResponse(_page())


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus' text format."""
    exposition = _service(request).metrics.exposition()
    return Response(exposition, media_type="text/plain; version=0.0.4")


async def protocol_error(request: Request, problem: Exception) -> Response:
    """A ProtocolError: its status and line; after a 413 the connection closes, the rest of the
    body unread."""
    headers = {"connection": "close"} if problem.status == 413 else None
    return error(str(problem), problem.status, headers)


async def user_error(request: Request, problem: Exception) -> Response:
    """An FmnistError (a file that does not decode): 400 and its line."""
    return error(str(problem), 400)


async def http_error(request: Request, problem: Exception) -> Response:
    """Starlette's own 404 and 405, in the protocol's error body."""
    known = {404: "no such endpoint", 405: f"{request.method} is not allowed here"}
    message = known.get(problem.status_code, problem.detail)
    return error(message, problem.status_code, problem.headers)


async def disconnected(request: Request, problem: Exception) -> Response:
    """The client left mid-body."""
    return Response(status_code=400)  # nobody is left to read it


async def model_failed(request: Request, problem: Exception) -> Response:
    """A ModelError at run time: logged, and a 500 that names no internals."""
    LOG.error("fmnist serve: %s", problem)
    return error("the model failed on this input", 500)
