"""The tutorial's dense network: built and compiled from params, saved and loaded safely."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fmnist.atomic import atomic_path
from fmnist.dataset import CLASS_NAMES, IMAGE_SHAPE
from fmnist.errors import FmnistError
from fmnist.params import TrainParams


class ModelError(FmnistError):
    """The model file is missing, corrupt or not a model of this project."""


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


def load_model(path: Path) -> keras.Model:
    """Load a model saved by `save_model`, in Keras' safe mode (no arbitrary code)."""
    if not path.is_file():
        raise ModelError(f"{path}: missing; run the train stage (dvc repro)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad archive; all mean "not ours".
        raise ModelError(f"{path}: not a loadable Keras model ({type(error).__name__})") from None
    if model.input_shape != (None, *IMAGE_SHAPE) or model.output_shape != (None, len(CLASS_NAMES)):
        raise ModelError(
            f"{path}: expects {model.input_shape}, outputs {model.output_shape}; not ours"
        )
    return model


def predict_logits(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits for `images` (N, 28, 28), computed `batch_size` images at a time."""
    chunks = [
        np.asarray(model(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(CLASS_NAMES)), np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, row by row, in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
