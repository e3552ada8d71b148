"""A saved model's inference in NumPy: evaluate, predict and the CLI run without TensorFlow.

`import tensorflow` costs several seconds a process; the light stages only need the forward
pass. This reads the .keras archive (its config.json and its weights' HDF5 file) and runs the
layers this project builds. A layer it does not know, or weights that do not fit, make the file
"not ours". tests/test_network.py checks the logits against Keras' own on real models.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from fmnist.dataset import CLASS_NAMES, IMAGE_SHAPE
from fmnist.errors import FmnistError

Layer = Callable[[np.ndarray], np.ndarray]


class ModelError(FmnistError):
    """The model file is missing, corrupt or not a model of this project."""


_ACTIVATIONS: dict[str, Layer] = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0)}


def _activation(name: str) -> Layer:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation {name!r}")
    return _ACTIVATIONS[name]


def _dense(config: dict, weights: list[np.ndarray]) -> Layer:
    kernel, *bias = weights
    activation = _activation(config["activation"])
    return lambda x: activation(x @ kernel + (bias[0] if bias else 0))


def _conv2d(config: dict, weights: list[np.ndarray]) -> Layer:
    """Stride-1, undilated 2-D convolution as one matrix product over image patches."""
    if config["strides"] != [1, 1] or config["dilation_rate"] != [1, 1] or config["groups"] != 1:
        raise ValueError("Conv2D with strides, dilation or groups")
    if config["padding"] not in ("valid", "same"):
        raise ValueError(f"Conv2D padding {config['padding']!r}")
    kernel, *bias = weights
    height, width, channels, filters = kernel.shape
    matrix = kernel.reshape(height * width * channels, filters)
    activation = _activation(config["activation"])
    same = config["padding"] == "same"

    def conv(x: np.ndarray) -> np.ndarray:
        if same:  # TensorFlow's "same": the odd pixel of padding goes after
            pad_h, pad_w = height - 1, width - 1
            x = np.pad(
                x,
                (
                    (0, 0),
                    (pad_h // 2, pad_h - pad_h // 2),
                    (pad_w // 2, pad_w - pad_w // 2),
                    (0, 0),
                ),
            )
        patches = np.lib.stride_tricks.sliding_window_view(x, (height, width), axis=(1, 2))
        n, rows, cols = patches.shape[:3]
        # (n, rows, cols, channels, h, w) -> rows of (h, w, channels), the kernel's order
        columns = patches.transpose(0, 1, 2, 4, 5, 3).reshape(n * rows * cols, -1)
        out = (columns @ matrix).reshape(n, rows, cols, filters)
        return activation(out + bias[0] if bias else out)

    return conv


def _max_pooling2d(config: dict, weights: list[np.ndarray]) -> Layer:
    size = config["pool_size"]
    if config["strides"] != size or config["padding"] != "valid":
        raise ValueError("MaxPooling2D with strides other than its size or padding")
    ph, pw = size

    def pool(x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        x = x[:, : h // ph * ph, : w // pw * pw]
        return x.reshape(n, h // ph, ph, w // pw, pw, c).max(axis=(2, 4))

    return pool


def _batch_normalization(config: dict, weights: list[np.ndarray]) -> Layer:
    if config["axis"] not in (-1, [-1], 3, [3]):
        raise ValueError("BatchNormalization over an axis other than the channels")
    weights = list(weights)
    gamma = weights.pop(0) if config["scale"] else 1.0
    beta = weights.pop(0) if config["center"] else 0.0
    mean, variance = weights
    scale = (gamma / np.sqrt(variance + np.float32(config["epsilon"]))).astype(np.float32)
    shift = (beta - mean * scale).astype(np.float32)
    return lambda x: x * scale + shift


def _reshape(config: dict, weights: list[np.ndarray]) -> Layer:
    shape = tuple(config["target_shape"])
    return lambda x: x.reshape(len(x), *shape)


def _identity(config: dict, weights: list[np.ndarray]) -> Layer:
    return lambda x: x


_LAYERS: dict[str, Callable[[dict, list[np.ndarray]], Layer]] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "MaxPooling2D": _max_pooling2d,
    "BatchNormalization": _batch_normalization,
    "Reshape": _reshape,
    "Flatten": lambda config, weights: lambda x: x.reshape(len(x), -1),
    "Activation": lambda config, weights: _activation(config["activation"]),
    # Training-only layers: at inference Keras passes the input through unchanged.
    "Dropout": _identity,
    "RandomTranslation": _identity,
    "RandomFlip": _identity,
}


@dataclass(frozen=True)
class Network:
    """A model's layers as NumPy functions, from images (N, 28, 28) to logits (N, 10)."""

    layers: tuple[Layer, ...]

    def logits(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        """Logits in float32, computed `batch_size` images at a time."""
        chunks = []
        for start in range(0, len(images), batch_size):
            x = np.asarray(images[start : start + batch_size], np.float32)
            for layer in self.layers:
                x = layer(x)
            chunks.append(x.astype(np.float32, copy=False))
        return np.concatenate(chunks) if chunks else np.zeros((0, len(CLASS_NAMES)), np.float32)


def _weights_names(kinds: list[str]) -> list[str]:
    """Where Keras' saving_lib stores each layer: its class snake_cased, "_1", "_2" on repeats."""
    names, seen = [], {}
    for kind in kinds:
        base = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", kind))
        base = base.lower()
        seen[base] = seen.get(base, -1) + 1
        names.append(f"{base}_{seen[base]}" if seen[base] else base)
    return names


def _build(config: dict, weights: h5py.File) -> Network:
    if config.get("class_name") != "Sequential":
        raise ValueError("not a Sequential model")
    specs = config["config"]["layers"]
    first, shape = specs[0], specs[0]["config"]["batch_shape"]
    if first["class_name"] != "InputLayer" or shape != [None, *IMAGE_SHAPE]:
        raise ValueError(f"input other than {IMAGE_SHAPE}")
    kinds = [spec["class_name"] for spec in specs[1:]]
    layers = []
    for spec, name in zip(specs[1:], _weights_names(kinds), strict=True):
        kind = spec["class_name"]
        if kind not in _LAYERS:
            raise ValueError(f"layer {kind}")
        group = weights["layers"][name]["vars"]
        arrays = [np.asarray(group[str(i)], np.float32) for i in range(len(group))]
        layers.append(_LAYERS[kind](spec["config"], arrays))
    network = Network(tuple(layers))
    # Any shape mismatch between the layers and their weights shows here, not in a stage.
    if network.logits(np.zeros((1, *IMAGE_SHAPE), np.float32), 1).shape != (1, len(CLASS_NAMES)):
        raise ValueError(f"output other than {len(CLASS_NAMES)} logits")
    return network


def load_network(path: Path) -> Network:
    """The NumPy forward pass of a model saved by `fmnist.model.save_model`."""
    if not path.is_file():
        raise ModelError(f"{path}: missing; run the train stage (dvc repro)")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ModelError(f"{path}: not a loadable Keras model ({type(error).__name__})") from None
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            return _build(config, h5)
    except ValueError as error:  # ours are Sequential models of the layers above, 28x28 to 10
        raise ModelError(f"{path}: not ours ({error})") from None
    except (OSError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise ModelError(f"{path}: damaged, or not ours ({type(error).__name__})") from None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, row by row, in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
