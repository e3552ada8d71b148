"""The Starlette app: the routes table, the exception handlers, CORS when asked, the lifespan.

The handlers are handlers.py's; what they share is the Service (service.py), kept on
`app.state.service`. The lifespan watches the model file for as long as the app runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import ASGIApp

from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import ModelError
from fmnist.serve import handlers, protocol
from fmnist.serve.metrics import observed
from fmnist.serve.service import Service
from fmnist.serve.settings import ServeSettings

PREFIXES = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")  # a model's URLs


def routes() -> list[Route]:
    """Every route; the infer routes first: Starlette tries routes in order, and infer is the
    busiest."""
    table = [Route(prefix + "/infer", handlers.infer, methods=["POST"]) for prefix in PREFIXES]
    table += [
        Route("/v2/health/live", handlers.live, methods=["GET"]),
        Route("/v2/health/ready", handlers.ready, methods=["GET"]),
        Route("/", handlers.home, methods=["GET"]),
        Route("/classify", handlers.classify, methods=["POST"]),
        Route("/metrics", handlers.metrics, methods=["GET"]),
        Route("/v2", handlers.server_metadata, methods=["GET"]),
    ]
    for prefix in PREFIXES:
        table += [
            Route(prefix, handlers.model_metadata, methods=["GET"]),
            Route(prefix + "/ready", handlers.model_ready, methods=["GET"]),
        ]
    return table


EXCEPTION_HANDLERS = {
    protocol.ProtocolError: handlers.protocol_error,
    FmnistError: handlers.user_error,
    ModelError: handlers.model_failed,
    HTTPException: handlers.http_error,
    ClientDisconnect: handlers.disconnected,
}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """The model file's watcher, from start-up to shutdown."""
    watcher = asyncio.create_task(app.state.service.watch())
    try:
        yield
    finally:
        watcher.cancel()


def middleware(settings: ServeSettings) -> list[Middleware]:
    """CORS for the origins named with --cors-origin; none without one."""
    if not settings.cors_origins:
        return []
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["content-type", protocol.HEADER_LENGTH],
        expose_headers=[protocol.HEADER_LENGTH],
    )
    return [cors]


def create_app(service: Service) -> ASGIApp:
    """The ASGI app over `service`, with its routes, limits, metrics and (if asked) CORS."""
    app = Starlette(
        routes=routes(),
        middleware=middleware(service.settings),
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.service = service
    return observed(app, service.metrics, service.settings.quiet)
