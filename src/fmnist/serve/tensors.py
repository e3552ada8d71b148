"""What an infer request asks and what its answer holds, whatever carries it (HTTP or gRPC).

The request's images and outputs, and the output tensors as names, datatypes, shapes and the
bytes the binary extension and gRPC's raw_output_contents carry: pure functions, no I/O. Every
problem a client can cause is a ProtocolError: an HTTP status (gRPC maps it to a code) and one
line, never a traceback.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from fmnist.core.dataset import CLASS_NAMES
from fmnist.inference.classifier import LOGITS, PROBABILITIES, probabilities_of
from fmnist.ood.score import KIND_OUTPUTS

INPUT = "images"
OOD_SCORE = KIND_OUTPUTS["tensor"][0]  # above 1: the image does not look like Fashion-MNIST
OUTPUTS = (LOGITS, PROBABILITIES, OOD_SCORE)
DATATYPE = "FP32"
_FP32_MAX = float(np.finfo(np.float32).max)


class ProtocolError(Exception):
    """A request the protocol or this model cannot take: an HTTP status and one line."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Output:
    """One requested output: its name, whether it comes back as binary, and top-k (0: all)."""

    name: str
    binary: bool
    classes: int = 0
    asked: bool = True  # named in the request, not one of the defaults


@dataclass(frozen=True)
class InferRequest:
    """What an infer request asks: (N, 28, 28) float32 images and the outputs wanted."""

    id: str | None
    images: np.ndarray
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class Tensor:
    """One output of the answer: its values as JSON takes them (`data`) and as bytes (`raw`)."""

    output: Output
    datatype: str
    shape: list[int]
    data: object
    raw: bytes


def classification(values: np.ndarray, count: int) -> list[list[str]]:
    """Triton's classification: the top `count` of each row as "value:index:label", best first
    (ties by index)."""
    rows = []
    for row in values:
        order = np.lexsort((np.arange(len(row)), -row))[:count]
        rows.append([f"{float(row[i]):.6g}:{i}:{CLASS_NAMES[i]}" for i in order])
    return rows


def bytes_tensor(rows: list[list[str]]) -> bytes:
    """A BYTES tensor in the binary extension's layout (gRPC's raw contents too): each element's
    4-byte length, then it."""
    elements = [text.encode() for row in rows for text in row]
    return b"".join(struct.pack("<I", len(element)) + element for element in elements)


def fp32_scores(scores: np.ndarray) -> np.ndarray:
    """Scores as FP32; one past FP32's range (or NaN: pixels so large that the checks overflow)
    as FP32's largest value, flagged all the same."""
    if scores.dtype != np.float32 or not np.isfinite(scores).all():  # else as it is, no copy
        scores = np.minimum(np.nan_to_num(scores.astype(np.float64), nan=_FP32_MAX), _FP32_MAX)
    return scores.astype(np.float32, copy=False)


def output_tensors(
    request: InferRequest, computed: dict[str, np.ndarray], ood_scores: np.ndarray | None
) -> list[Tensor]:
    """The outputs asked for, in order, from Classifier.run's outputs. `ood_scores` None: a model
    without the flag, so no ood_score unless asked (400)."""
    tensors = []
    for output in request.outputs:
        if output.name == OOD_SCORE:
            if ood_scores is None and output.asked:
                raise ProtocolError(f"{OOD_SCORE}: this model was exported without the flag")
            if ood_scores is None:
                continue
            values = fp32_scores(ood_scores)
        else:
            values = computed[LOGITS] if output.name == LOGITS else probabilities_of(computed)
        if output.classes:
            rows = classification(values, output.classes)
            data = [text for row in rows for text in row]
            shape = [len(rows), output.classes]
            tensors.append(Tensor(output, "BYTES", shape, data, bytes_tensor(rows)))
        else:
            raw = np.ascontiguousarray(values, "<f4").tobytes()
            tensors.append(Tensor(output, DATATYPE, list(values.shape), values.ravel(), raw))
    return tensors
