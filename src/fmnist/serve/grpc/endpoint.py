"""The gRPC server beside the HTTP one: KServe V2's GRPCInferenceService on the same Service.

It runs on the HTTP server's event loop (grpc.aio), so an infer call joins the same Batcher and
the same LiteRT interpreter as HTTP's, one invoke at a time. The limits are HTTP's: the batch,
the shapes and datatypes (the same checks, protocol.parse_document), a message no larger than
the largest batch needs, and a bounded number of calls at once, so what clients can make the
server hold is bounded too. A refused call gets the matching gRPC code and one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from grpc import aio

from fmnist.core.dataset import IMAGE_SHAPE
from fmnist.inference.classifier import ModelError
from fmnist.serve.grpc import messages
from fmnist.serve.handlers import EXTENSIONS, version
from fmnist.serve.service import Service
from fmnist.serve.settings import MIB
from fmnist.serve.tensors import ProtocolError, output_tensors

LOG = logging.getLogger("fmnist.serve")
# Calls handled at once: with the message limit below, the memory clients can make it hold.
MAX_CALLS = 64
_MessageHandler = Callable[[object, aio.ServicerContext], Awaitable[object]]


def max_message(service: Service) -> int:
    """The largest message taken: the largest batch as raw FP32, plus room for the rest, and
    never above --max-body-mb."""
    largest = service.settings.max_batch * IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * 4 + MIB
    return min(largest, service.settings.max_body)


class Endpoint:
    """Each method of GRPCInferenceService over the shared Service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def ServerLive(self, request: object, context: object) -> object:
        return messages.message("ServerLiveResponse")(live=True)

    async def ServerReady(self, request: object, context: object) -> object:
        return messages.message("ServerReadyResponse")(ready=not self.service.draining)

    async def ModelReady(self, request: object, context: object) -> object:
        """Ready false for a model this server does not serve (Triton's answer; over HTTP, 404),
        so tritonclient's is_model_ready says False rather than raising."""
        try:
            self.service.model_named(request.name, request.version or None)  # type: ignore[attr-defined]
        except ProtocolError:
            return messages.message("ModelReadyResponse")(ready=False)
        return messages.message("ModelReadyResponse")(ready=not self.service.draining)

    async def ServerMetadata(self, request: object, context: object) -> object:
        return messages.message("ServerMetadataResponse")(
            name="fmnist",
            version=version(),
            extensions=[e for e in EXTENSIONS if e != "binary_tensor_data"],
        )

    async def ModelMetadata(self, request: object, context: object) -> object:
        model = self.service.model_named(request.name, request.version or None)  # type: ignore[attr-defined]
        return messages.message("ModelMetadataResponse")(**self.service.metadata(model))

    async def ModelInfer(self, request: object, context: object) -> object:
        service = self.service
        model = service.model_named(request.model_name, request.model_version or None)  # type: ignore[attr-defined]
        if service.draining:
            raise ProtocolError("shutting down", 503)
        parsed = messages.parse_infer(request, service.settings.max_batch)
        tensors = output_tensors(parsed, *await service.answer(model, parsed))
        return messages.infer_response(parsed, service.settings.name, model.version, tensors)


def _observed(service: Service, name: str, method: _MessageHandler) -> _MessageHandler:
    """`method` with its refusals as gRPC codes and one line, counted and timed by name."""

    async def call(request: object, context: aio.ServicerContext) -> object:
        start, code = time.perf_counter(), grpc.StatusCode.OK
        service.metrics.in_progress.inc()
        try:
            return await method(request, context)
        except ProtocolError as problem:
            code = messages.code(problem.status)
            await context.abort(code, " ".join(str(problem).split()))
        except ModelError as problem:
            code = grpc.StatusCode.INTERNAL
            LOG.error("fmnist serve: %s", problem)
            await context.abort(code, "the model failed on this input")
        finally:
            service.metrics.in_progress.dec()
            service.metrics.observe_grpc(name, code.name, time.perf_counter() - start)
        raise AssertionError("unreachable: abort raises")

    return call


METHODS = {
    "ServerLive": ("ServerLiveRequest", "ServerLiveResponse"),
    "ServerReady": ("ServerReadyRequest", "ServerReadyResponse"),
    "ModelReady": ("ModelReadyRequest", "ModelReadyResponse"),
    "ServerMetadata": ("ServerMetadataRequest", "ServerMetadataResponse"),
    "ModelMetadata": ("ModelMetadataRequest", "ModelMetadataResponse"),
    "ModelInfer": ("ModelInferRequest", "ModelInferResponse"),
}


def create_server(service: Service, address: str, reuse_port: bool) -> aio.Server:
    """The gRPC server for `service`, bound to `address` (host:port), not yet started; with
    `reuse_port`, worker processes bind the same port and the kernel spreads the connections."""
    size = max_message(service)
    server = aio.server(
        maximum_concurrent_rpcs=MAX_CALLS,
        options=[
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", int(reuse_port)),
        ],
    )
    endpoint = Endpoint(service)
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            _observed(service, name, getattr(endpoint, name)),
            request_deserializer=messages.message(request).FromString,
            response_serializer=messages.message(response).SerializeToString,
        )
        for name, (request, response) in METHODS.items()
    }
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(messages.SERVICE, handlers)]
    )
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    return server
