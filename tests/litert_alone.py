"""A model's outputs as LiteRT alone gives them: its own interpreter and signature runner, no
project code, as MLServer, Triton's TFLite backend or an app would run model.tflite."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def litert_alone(model: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(model)).get_signature_runner("serving_default")
    return runner(images=np.ascontiguousarray(images, np.float32))
