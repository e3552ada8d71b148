"""The Open Inference Protocol's (KServe V2) infer request and response over HTTP, as pure
functions (gRPC's are grpc/messages.py's; what both carry is tensors.py's).

Bytes in, arrays out, and back: no I/O here. Besides the core protocol, two of Triton's
extensions: binary tensor data (what `tritonclient` sends and asks for by default) and
classification (top-k "value:index:label" strings instead of a tensor). Every problem a client
can cause is a ProtocolError: an HTTP status and one line, never a traceback.
"""

from __future__ import annotations

import numpy as np
import orjson

from fmnist.core.dataset import CLASS_NAMES, IMAGE_SHAPE
from fmnist.serve.tensors import (
    DATATYPE,
    INPUT,
    OOD_SCORE,
    OUTPUTS,
    InferRequest,
    Output,
    ProtocolError,
    output_tensors,
)

# What the handlers and the tests name as protocol.X, defined in tensors.py.
__all__ = ["DATATYPE", "INPUT", "OOD_SCORE", "OUTPUTS", "InferRequest", "Output", "ProtocolError"]

HEADER_LENGTH = "inference-header-content-length"
# orjson's own bound on nesting, refused in one line like any other bad JSON (a request nests
# 6 levels at most: {"inputs": [{"data": [[[...]]]}]}); the values are then checked against
# the shape, so deeper data is refused there.
MAX_DEPTH = 1024
_IMAGE_VALUES = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensors after it, by Inference-Header-Content-Length."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit() or not text.isascii():
        raise ProtocolError(f"Inference-Header-Content-Length {header_length[:40]!r}: not a number")
    length = int(text)
    if length > len(body):
        raise ProtocolError(
            f"Inference-Header-Content-Length {length} is past the body's {len(body)} bytes"
        )
    return body[:length], body[length:]


def _load_json(header: bytes) -> dict:
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as error:
        reason = str(error).splitlines()[0]
        if reason.startswith("depth limit exceeded"):
            raise ProtocolError(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
        raise ProtocolError(f"the body is not valid JSON ({reason})") from None
    if not isinstance(document, dict):
        raise ProtocolError("the body is not a JSON object")
    return document


def _parameters(holder: dict, where: str) -> dict:
    if "parameters" not in holder:
        return {}
    parameters = holder["parameters"]
    if not isinstance(parameters, dict) or not all(
        isinstance(value, str | int | float | bool) for value in parameters.values()
    ):
        raise ProtocolError(f"{where}.parameters: not an object of strings, numbers and booleans")
    return parameters


def _flag(parameters: dict, key: str, where: str, default: bool) -> bool:
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{where}.parameters.{key}: {value!r} is not true or false")
    return value


def _batch(shape: object, max_batch: int) -> int:
    """N, from a shape that must be [N, 28, 28]."""
    want = f"[N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]}]"
    if not isinstance(shape, list) or not all(map(_is_int, shape)):
        raise ProtocolError(f"inputs[0].shape: {str(shape)[:60]} is not a list of integers")
    if len(shape) != 3 or shape[1:] != list(IMAGE_SHAPE) or shape[0] < 1:
        raise ProtocolError(
            f"inputs[0].shape {str(shape)[:60]}: the model takes {want} "
            f"(N images of 28x28, N >= 1; [1, 28, 28] for one)"
        )
    if shape[0] > max_batch:
        raise ProtocolError(f"a batch of {shape[0]} images; this server takes {max_batch} at most")
    return shape[0]


def _json_values(data: object, shape: list[int]) -> np.ndarray:
    """Images from JSON data, flat or nested as the shape: numbers only, no coercion of text."""
    if not isinstance(data, list):
        raise ProtocolError("inputs[0].data: not a list of numbers")
    try:
        values = np.asarray(data)
    except (ValueError, TypeError):  # ragged, or nested deeper than NumPy's 64 dimensions
        raise ProtocolError(
            "inputs[0].data: not nested as the shape (ragged or too deep)"
        ) from None
    if values.dtype.kind not in "iuf" and values.size:
        raise ProtocolError("inputs[0].data: not all numbers (text, booleans or null)")
    if values.ndim != 1 and list(values.shape) != shape:
        raise ProtocolError(
            f"inputs[0].data nested as {list(values.shape)}, its shape says {shape}; "
            "send it flat or nested as the shape"
        )
    if values.size != shape[0] * _IMAGE_VALUES:
        raise ProtocolError(
            f"inputs[0].data has {values.size} values, shape {shape} needs "
            f"{shape[0] * _IMAGE_VALUES}"
        )
    with np.errstate(over="ignore"):  # beyond FP32's range: infinity, refused by the caller
        return values.astype(np.float32).reshape(shape)


def _input(document: dict, binary: bytes, max_batch: int) -> np.ndarray:
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise ProtocolError(f"inputs: the model takes exactly one input, {INPUT!r}")
    tensor = inputs[0]
    if tensor.get("name") != INPUT:
        raise ProtocolError(f"inputs[0].name {str(tensor.get('name'))[:40]!r}: expected {INPUT!r}")
    if tensor.get("datatype") != DATATYPE:
        got = str(tensor.get("datatype"))[:20]
        raise ProtocolError(f"inputs[0].datatype {got!r}: the model takes {DATATYPE}")
    count = _batch(tensor.get("shape"), max_batch)
    size = _parameters(tensor, "inputs[0]").get("binary_data_size")
    if size is None:
        if binary:
            raise ProtocolError("binary data after the JSON, but no input says binary_data_size")
        if "data" not in tensor:
            raise ProtocolError("inputs[0]: neither data nor parameters.binary_data_size")
        images = _json_values(tensor["data"], tensor["shape"])
    else:
        want = count * _IMAGE_VALUES * 4
        if not _is_int(size) or size != want:
            raise ProtocolError(f"inputs[0] binary_data_size {size!r}: shape needs {want} bytes")
        if len(binary) != want:
            raise ProtocolError(f"{len(binary)} bytes of binary data, binary_data_size says {want}")
        images = np.frombuffer(binary, "<f4").reshape(count, *IMAGE_SHAPE)
    if not np.isfinite(images).all():
        raise ProtocolError("inputs[0]: NaN or infinity (or a value beyond FP32's range)")
    return images


def _outputs(document: dict, default_binary: bool) -> tuple[Output, ...]:
    requested = document.get("outputs")
    if requested is None:
        return tuple(Output(name, default_binary, asked=False) for name in OUTPUTS)
    if not isinstance(requested, list) or not requested:
        raise ProtocolError("outputs: not a list of outputs")
    outputs, seen = [], set()
    for index, output in enumerate(requested):
        where = f"outputs[{index}]"
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS:
            known = " or ".join(map(repr, OUTPUTS))
            raise ProtocolError(f"{where}.name {str(name)[:40]!r}: the model gives {known}")
        if name in seen:
            raise ProtocolError(f"{where}.name {name!r}: asked for twice")
        seen.add(name)
        parameters = _parameters(output, where)
        classes = parameters.get("classification", 0)
        if not _is_int(classes) or not 0 <= classes <= len(CLASS_NAMES):
            raise ProtocolError(f"{where}.parameters.classification {classes!r}: not 0 to 10")
        if classes and name == OOD_SCORE:
            raise ProtocolError(f"{where}: classification is for logits and probabilities")
        binary = _flag(parameters, "binary_data", where, default_binary)
        outputs.append(Output(name, binary, classes))
    return tuple(outputs)


def parse_infer(body: bytes, header_length: str | None, max_batch: int) -> InferRequest:
    """An infer request from its body and its Inference-Header-Content-Length header."""
    if header_length is not None and header_length.strip() == "0":
        # Triton's raw binary request: the body is one image's bytes, outputs come as binary.
        document = {
            "inputs": [
                {
                    "name": INPUT,
                    "datatype": DATATYPE,
                    "shape": [1, *IMAGE_SHAPE],
                    "parameters": {"binary_data_size": len(body)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
        binary = body
    else:
        header, binary = split_body(body, header_length)
        document = _load_json(header)
    return parse_document(document, binary, max_batch)


def parse_document(document: dict, binary: bytes, max_batch: int) -> InferRequest:
    """An infer request from its JSON document and the binary data after it (gRPC's messages
    are turned into the same document, so both are checked by the same lines)."""
    identifier = document.get("id")
    if identifier is not None and not isinstance(identifier, str):
        raise ProtocolError("id: not a string")
    default_binary = _flag(_parameters(document, "request"), "binary_data_output", "request", False)
    images = _input(document, binary, max_batch)
    return InferRequest(identifier, images, _outputs(document, default_binary))


def encode_infer(
    request: InferRequest,
    model_name: str,
    version: str,
    computed: dict[str, np.ndarray],
    ood_scores: np.ndarray | None,
) -> tuple[bytes, dict[str, str]]:
    """The response body and headers from Classifier.run's outputs: JSON, then the binary ones in
    order. `ood_scores` None: a model without the flag, so no ood_score unless asked (400)."""
    outputs, buffers = [], []
    for tensor in output_tensors(request, computed, ood_scores):
        entry = {"name": tensor.output.name, "datatype": tensor.datatype, "shape": tensor.shape}
        if tensor.output.binary:
            entry["parameters"] = {"binary_data_size": len(tensor.raw)}
            buffers.append(tensor.raw)
        else:
            entry["data"] = tensor.data
        outputs.append(entry)
    identity = {} if request.id is None else {"id": request.id}
    response = {"model_name": model_name, "model_version": version, **identity, "outputs": outputs}
    header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    if not buffers:
        return header, {"content-type": "application/json"}
    headers = {"content-type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
    return header + b"".join(buffers), headers
