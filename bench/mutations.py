"""How LiteRT itself takes malformed models, with fmnist's seal check out of the way.

`fmnist.inference.classifier` refuses any file whose seal does not match before LiteRT sees it (the
tests prove that on 240 random mutations). This measures what that guard is for: each mutant
here is re-sealed, so the C++ runtime parses it. Mutations land only on the model's structure
(its flatbuffer tables, not the weight buffers, where a change is just other weights). Each
mutant runs in its own process, so that a crash counts as a signal instead of ending the bench.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_LOAD = """
import sys
import numpy as np
from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import classifier_from_bytes
try:
    logits = classifier_from_bytes("m", open(sys.argv[1], "rb").read()).logits(
        np.zeros((3, 28, 28), np.float32))
except FmnistError:
    sys.exit(3)
sys.exit(0 if np.isfinite(logits).all() else 4)
"""
OUTCOMES = {0: "accepted", 3: "refused in one line", 4: "accepted, non-finite logits"}


def structure_positions(data: bytes) -> np.ndarray:
    """Byte offsets of `data` outside its weight buffers' contents."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(data, 0)
    start = np.frombuffer(data, np.uint8).ctypes.data
    outside = np.ones(len(data), bool)
    for index in range(model.BuffersLength()):
        values = model.Buffers(index).DataAsNumpy()
        if isinstance(values, np.ndarray) and values.size > 64:
            offset = values.ctypes.data - start
            outside[offset : offset + values.size] = False
    return np.flatnonzero(outside)


def run(model: Path, count: int, seed: int = 0) -> dict[str, int]:
    """Outcomes of `count` re-sealed mutants (1-4 random bytes each) of `model`."""
    from fmnist.inference.classifier import DIGEST_SIZE, SEAL_MARKER, seal_digest, seal_position

    good = model.read_bytes()
    seal_at = seal_position(good)
    positions = structure_positions(good)
    # The seal itself stays intact: it is re-computed, not mutated.
    positions = positions[
        (positions < seal_at - len(SEAL_MARKER)) | (positions >= seal_at + DIGEST_SIZE)
    ]
    rng = np.random.default_rng(seed)
    outcomes: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mutant.tflite"
        for _ in range(count):
            data = bytearray(good)
            for spot in rng.choice(positions, size=rng.integers(1, 5)):
                data[spot] = int(rng.integers(256))
            data[seal_at : seal_at + DIGEST_SIZE] = seal_digest(bytes(data), seal_at)
            path.write_bytes(data)
            result = subprocess.run(
                [sys.executable, "-c", _LOAD, path], capture_output=True, text=True, timeout=120
            )
            if result.returncode < 0:
                outcomes[f"crashed (signal {-result.returncode})"] += 1
            elif "Traceback" in result.stderr:
                outcomes["traceback"] += 1
            else:
                outcomes[OUTCOMES.get(result.returncode, f"exit {result.returncode}")] += 1
    return dict(outcomes)


if __name__ == "__main__":
    print(run(Path(sys.argv[1]), int(sys.argv[2])))
