"""Where one epoch of the CNN's training goes, op by op: TensorFlow's profiler over one epoch.

`python bench/profile_cnn.py '{"shift": 1}'` trains `make cnn`'s network (params.yaml's train
section as the CNN, with the Makefile's recipe and these overrides) for two epochs on the first
12,288 training images, profiles the second, and prints the busy time of each op kind on
TensorFlow's compute threads, scaled to an epoch of 60,000 images, with the epoch's wall time.
The op time of the two threads adds up to more than the wall time when both are busy.
"""

from __future__ import annotations

import collections
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from tune_cnn import candidate  # noqa: E402

from fmnist.core import paths  # noqa: E402
from fmnist.core.dataset import Split, load_split  # noqa: E402
from fmnist.pipeline.params import load_params  # noqa: E402
from fmnist.pipeline.training.backend import tf  # noqa: E402
from fmnist.pipeline.training.fit import fit, make_deterministic  # noqa: E402
from fmnist.pipeline.training.network import build_model  # noqa: E402

IMAGES = 12_288
RECIPE = {
    "batch_size": 512,
    "flip": True,
    "label_smoothing": 0.1,
    "cnn": {"filters": [16, 32], "dropout": 0.0, "dense_dropout": 0.2},
}


def op_kind(name: str) -> str:
    """The op kind, as "conv2d_1 Conv2DBackpropFilter (gradient)", of a node of the graph:
    the Keras layer (inside the loop its name gets one more "_N", taken off here) and the
    op. A conv's forward pass is fused with its relu, under the activation layer's name."""
    layer = re.search(r"fmnist_cnn_\d+/([a-z0-9_]+)_\d+/", name)
    kind = name.rsplit("/", 1)[-1].split(":")[0]
    if layer is None:
        return f"other: {kind}"
    return f"{layer.group(1)} {kind}" + (" (gradient)" if "gradient_tape" in name else "")


def busy_by_kind(folder: Path) -> collections.Counter:
    """Picoseconds per op kind on TensorFlow's compute threads, from the profile in `folder`."""
    # Only the profile's message classes: TensorFlow itself is loaded, configured, by now.
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: TID251

    space = xplane_pb2.XSpace()
    space.ParseFromString(next(folder.rglob("*.xplane.pb")).read_bytes())
    total: collections.Counter = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                if not name.startswith("ExecutorState"):
                    total[op_kind(name)] += event.duration_ps
    return total


def main(overrides_json: str = "{}") -> None:
    overrides = RECIPE | json.loads(overrides_json) | {"epochs": 2, "warmup_epochs": 0}
    params = candidate(load_params(ROOT / paths.PARAMS).train, overrides)
    train = load_split(ROOT / paths.TRAIN_NPZ)
    part = Split(np.ascontiguousarray(train.images[:IMAGES]), train.labels[:IMAGES])
    make_deterministic(params.seed)
    model = build_model(params, IMAGES)
    marks: list[float] = []
    with tempfile.TemporaryDirectory() as folder:

        def on_epoch(_row: dict) -> None:
            marks.append(time.perf_counter())
            if len(marks) == 1:
                tf.profiler.experimental.start(folder)
            else:
                tf.profiler.experimental.stop()

        fit(
            model,
            part,
            2,
            params.batch_size,
            params.seed,
            jit_compile=False,
            flip=params.flip,
            shift=params.shift,
            label_smoothing=params.label_smoothing,
            on_epoch=on_epoch,
        )
        total = busy_by_kind(Path(folder))
    scale = 60_000 / IMAGES * 1e-12
    epoch = (marks[1] - marks[0]) * 60_000 / IMAGES
    print(f"{overrides_json}: epoch of 60,000 images {epoch:.2f} s")
    print(f"ops on the compute threads: {sum(total.values()) * scale:.2f} s")
    for kind, picoseconds in total.most_common(16):
        share = 100 * picoseconds / sum(total.values())
        print(f"{picoseconds * scale:6.2f} s {share:5.1f} %  {kind}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
