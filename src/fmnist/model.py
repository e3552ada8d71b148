"""The tutorial's dense network: built and compiled from params, saved byte-reproducibly.

Loading is fmnist.network's, in NumPy, for the stages that only predict.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras

from fmnist.atomic import atomic_path
from fmnist.dataset import CLASS_NAMES, IMAGE_SHAPE
from fmnist.params import TrainParams


def build_model(params: TrainParams) -> keras.Model:
    """Flatten -> Dense(hidden_units, relu) -> Dense(10) logits, compiled as in the tutorial."""
    model = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(params.hidden_units, activation="relu"),
            keras.layers.Dense(len(CLASS_NAMES)),
        ],
        name="fmnist_dense",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# Keras stamps the archive with the save date, zip times and Python object ids (as
# "shared_object_id"); fixed values keep the file's hash, and so dvc.lock, unchanged when the
# same inputs train the same weights again.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _renumber_shared_ids(node: Any, ids: dict[int, int]) -> Any:
    """Replace each distinct shared_object_id (an id() of the saving process) by its rank."""
    if isinstance(node, dict):
        return {
            key: ids.setdefault(value, len(ids))
            if key == "shared_object_id"
            else _renumber_shared_ids(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_ids(item, ids) for item in node]
    return node


def _normalise(name: str, data: bytes) -> bytes:
    if name == "metadata.json":
        metadata = json.loads(data)
        metadata.pop("date_saved", None)
        return json.dumps(metadata, sort_keys=True).encode()
    if name == "config.json":
        return json.dumps(_renumber_shared_ids(json.loads(data), {}), sort_keys=True).encode()
    return data


def save_model(model: keras.Model, path: Path) -> None:
    """Save in the Keras format, byte-reproducibly and atomically."""
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "model.keras"
        model.save(plain)
        with (
            zipfile.ZipFile(plain) as source,
            atomic_path(path) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for name in sorted(source.namelist()):
                data = _normalise(name, source.read(name))
                info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                target.writestr(info, data, zipfile.ZIP_DEFLATED)
