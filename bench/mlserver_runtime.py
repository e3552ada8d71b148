"""An MLServer runtime over the same model.tflite that `fmnist serve` serves, for bench/serve.py.

MLServer has no LiteRT runtime of its own, so this is the smallest one its docs describe: an
MLModel whose load() opens the interpreter and whose predict() decodes the V2 input with
MLServer's NumpyCodec, runs it and returns the logits as one FP32 output. It runs inside
MLServer's own virtual environment (build/mlserver-venv), never the project's: it imports
nothing from fmnist.
"""

from __future__ import annotations

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


def _threads() -> int:
    """As many interpreter threads as fmnist's own Classifier uses: only the server differs."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LiteRTModel(MLModel):
    """images FP32 [N, 28, 28] in, logits FP32 [N, 10] out."""

    async def load(self) -> bool:
        self._interpreter = Interpreter(
            model_path=await get_model_uri(self.settings), num_threads=_threads()
        )
        self._input = self._interpreter.get_input_details()[0]["index"]
        # The shipped file's first subgraph is its signature "logits" (the logits and the
        # calibrated probabilities; "serving_default" adds the flag): LiteRT's plain calls run
        # that one, and its output named "logits" is what this runtime returns.
        named = self._interpreter.get_signature_runner("logits").get_output_details()["logits"]
        if named["shape_signature"].tolist() != [-1, 10]:
            raise ValueError("expected the logits, [-1, 10], in the model's first subgraph")
        self._output = named["index"]
        self._batch = 0
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        images = np.ascontiguousarray(NumpyCodec.decode_input(payload.inputs[0]), np.float32)
        if len(images) != self._batch:
            self._interpreter.resize_tensor_input(self._input, images.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(images)
        self._interpreter.set_tensor(self._input, images)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._output).copy()
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output("logits", logits)],
        )
