"""Infer requests as clients send them (JSON, Triton's binary tensors) and their answers read
back: what the in-process and the process tests both build."""

from __future__ import annotations

import struct

import numpy as np
import orjson

INFER = "/v2/models/fmnist/infer"


def image_request(count: int = 1, value: float = 0.5) -> bytes:
    """A JSON request of `count` images, every pixel `value`."""
    data = [value] * (count * 784)
    tensor = {"name": "images", "datatype": "FP32", "shape": [count, 28, 28], "data": data}
    return orjson.dumps({"inputs": [tensor]})


def json_request(images: np.ndarray, outputs: list | None = None) -> bytes:
    """A JSON request of these images, asking for `outputs` (all of them if None)."""
    tensor = {"name": "images", "datatype": "FP32", "shape": list(images.shape)}
    document: dict = {"inputs": [{**tensor, "data": images.ravel().tolist()}]}
    if outputs is not None:
        document["outputs"] = outputs
    return orjson.dumps(document)


def binary_request(images: np.ndarray, outputs: list | None = None) -> tuple[bytes, dict]:
    """A binary request of these images (outputs binary too, as tritonclient asks by default),
    and its Inference-Header-Content-Length header."""
    raw = images.astype("<f4").tobytes()
    tensor = {"name": "images", "datatype": "FP32", "shape": list(images.shape)}
    document: dict = {"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]}
    document["parameters"] = {"binary_data_output": True}
    if outputs is not None:
        document["outputs"] = outputs
    header = orjson.dumps(document)
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def outputs_of(body: bytes, header_length: str | None) -> dict[str, np.ndarray]:
    """An infer response's outputs by name, from JSON data or from the binary part: FP32 as
    arrays of their shape, BYTES (classification) as arrays of str."""
    split = len(body) if header_length is None else int(header_length)
    document, rest = orjson.loads(body[:split]), body[split:]
    outputs = {}
    for output in document["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            values = output["data"]
        else:
            raw, rest = rest[:size], rest[size:]
            values = _strings(raw) if output["datatype"] == "BYTES" else np.frombuffer(raw, "<f4")
        dtype = str if output["datatype"] == "BYTES" else np.float32
        outputs[output["name"]] = np.array(values, dtype).reshape(output["shape"])
    assert rest == b""
    return outputs


def _strings(raw: bytes) -> list[str]:
    """A BYTES tensor in the binary extension's layout: each element's 4-byte length, then it."""
    strings, at = [], 0
    while at < len(raw):
        (length,) = struct.unpack_from("<I", raw, at)
        strings.append(raw[at + 4 : at + 4 + length].decode())
        at += 4 + length
    return strings
