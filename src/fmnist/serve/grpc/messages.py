"""KServe V2's gRPC messages, and the infer call's request and response, as pure functions.

The messages come from the protocol's own `open_inference.proto` (KServe's
docs/predict-api/v2/grpc_predict_v2.proto, Apache-2.0: LICENSE.kserve), compiled to a
descriptor set (`open_inference.binpb`, made by grpc_tools' protoc; a test makes it again and
compares) and loaded into a pool of their own: message names such as
`inference.ModelInferRequest` are Triton's too, and tritonclient's copies live in protobuf's
default pool of the same process. Only the service's name travels on the wire.

An infer request becomes the same document the HTTP API parses (protocol.parse_document), so
both are checked by the same lines; outputs always come back as raw_output_contents, the way
Triton answers and tritonclient reads them.
"""

from __future__ import annotations

import functools
from importlib import resources
from math import prod

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from fmnist.serve import protocol
from fmnist.serve.tensors import DATATYPE, Tensor

SERVICE = "inference.GRPCInferenceService"
DESCRIPTORS = "open_inference.binpb"
# A ProtocolError's HTTP status as gRPC's code (the mapping Triton and KServe use).
CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    data = resources.files(__package__).joinpath(DESCRIPTORS).read_bytes()
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(file)
    return pool


@functools.cache
def message(name: str) -> type:
    """The message class `inference.<name>`."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"inference.{name}"))


def code(status: int) -> grpc.StatusCode:
    """The gRPC code for an HTTP status."""
    return CODES.get(status, grpc.StatusCode.INVALID_ARGUMENT if status < 500 else CODES[500])


def _parameters(mapping: object) -> dict:
    """A map<string, InferParameter> as plain values (an unset one as None, refused later)."""
    return {
        key: getattr(value, value.WhichOneof("parameter_choice") or "", None)
        for key, value in mapping.items()
    }  # type: ignore[attr-defined]


def _raw_size(raw: bytes, shape: list[int]) -> None:
    """raw_input_contents[0] must hold exactly the FP32 values its shape names."""
    if len(shape) == 3 and all(size > 0 for size in shape) and len(raw) != prod(shape) * 4:
        raise protocol.ProtocolError(
            f"raw_input_contents[0]: {len(raw)} bytes, shape {shape} needs {prod(shape) * 4} "
            f"({DATATYPE}, little-endian)"
        )


def parse_infer(request: object, max_batch: int) -> protocol.InferRequest:
    """A ModelInferRequest as the InferRequest the HTTP API would make of the same call."""
    inputs, raw = list(request.inputs), list(request.raw_input_contents)  # type: ignore[attr-defined]
    if len(raw) > len(inputs) or (raw and inputs[0].HasField("contents")):
        raise protocol.ProtocolError("raw_input_contents: one per input, and not beside contents")
    document: dict = {"inputs": []}
    for index, tensor in enumerate(inputs):
        entry = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
            "parameters": _parameters(tensor.parameters),
        }
        if index < len(raw):
            _raw_size(raw[index], entry["shape"])
            entry["parameters"]["binary_data_size"] = len(raw[index])
        else:
            entry["data"] = list(tensor.contents.fp32_contents)
        document["inputs"].append(entry)
    outputs = [
        {"name": output.name, "parameters": _parameters(output.parameters)}
        for output in request.outputs  # type: ignore[attr-defined]
    ]
    if outputs:
        document["outputs"] = outputs
    if request.id:  # type: ignore[attr-defined]
        document["id"] = request.id  # type: ignore[attr-defined]
    return protocol.parse_document(document, raw[0] if raw else b"", max_batch)


def infer_response(
    request: protocol.InferRequest, name: str, version: str, tensors: list[Tensor]
) -> object:
    """The ModelInferResponse: each output's name, datatype and shape, its bytes in order in
    raw_output_contents."""
    response = message("ModelInferResponse")(
        model_name=name, model_version=version, id=request.id or ""
    )
    for tensor in tensors:
        response.outputs.add(name=tensor.output.name, datatype=tensor.datatype, shape=tensor.shape)
        response.raw_output_contents.append(tensor.raw)
    return response
