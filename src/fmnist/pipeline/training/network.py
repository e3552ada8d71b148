"""The networks: the tutorial's dense one or a CNN, built from params, sized against this
machine's memory, saved byte-reproducibly (export.py turns them into what ships)."""

from __future__ import annotations

import json
import math
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fmnist.core.atomic import atomic_path
from fmnist.core.dataset import CLASS_NAMES, IMAGE_SHAPE, TRAIN_SIZE, Split
from fmnist.memory import size_text
from fmnist.pipeline.params import CnnParams, ParamsError, TrainParams
from fmnist.pipeline.training.backend import keras
from fmnist.pipeline.training.fit import fit, make_deterministic


def _dense_layers(params: TrainParams) -> list[keras.layers.Layer]:
    """The tutorial's hidden part: Flatten -> Dense(hidden_units, relu)."""
    return [keras.layers.Flatten(), keras.layers.Dense(params.hidden_units, activation="relu")]


def _cnn_layers(cnn: CnnParams) -> list[keras.layers.Layer]:
    """Conv blocks (conv, [batch norm], relu, 2x2 max pooling, dropout), then a dense layer."""
    layers: list[keras.layers.Layer] = [keras.layers.Reshape((*IMAGE_SHAPE, 1))]
    for filters in cnn.filters:
        # With batch norm the conv's bias would only be cancelled by the normalisation.
        layers.append(
            keras.layers.Conv2D(
                filters, cnn.kernel_size, padding="same", use_bias=not cnn.batch_norm
            )
        )
        if cnn.batch_norm:
            layers.append(keras.layers.BatchNormalization())
        layers += [keras.layers.Activation("relu"), keras.layers.MaxPooling2D()]
        if cnn.dropout:
            layers.append(keras.layers.Dropout(cnn.dropout))
    layers += [keras.layers.Flatten(), keras.layers.Dense(cnn.dense_units, activation="relu")]
    if cnn.dense_dropout:
        layers.append(keras.layers.Dropout(cnn.dense_dropout))
    return layers


def learning_rate(
    params: TrainParams, train_size: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The constant rate, or a cosine decay to 0 over all of the run's optimizer steps; either
    after a linear warm-up from 0 over the first warmup_epochs."""
    if params.lr_schedule == "constant" and not params.warmup_epochs:
        return params.learning_rate
    steps_per_epoch = math.ceil(train_size / params.batch_size)
    steps = params.epochs * steps_per_epoch
    if not params.warmup_epochs:
        return keras.optimizers.schedules.CosineDecay(params.learning_rate, decay_steps=steps)
    warmup = params.warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=steps - warmup,
        # alpha is the floor as a fraction of the rate: 1 keeps it constant after the warm-up.
        alpha=1.0 if params.lr_schedule == "constant" else 0.0,
        warmup_target=params.learning_rate,
        warmup_steps=warmup,
    )


def build_model(params: TrainParams, train_size: int = TRAIN_SIZE) -> keras.Model:
    """The chosen network, ending in Dense(10) logits, compiled as in the tutorial."""
    hidden = _dense_layers(params) if params.model == "dense" else _cnn_layers(params.cnn)
    model = keras.Sequential(
        [keras.Input(shape=IMAGE_SHAPE), *hidden, keras.layers.Dense(len(CLASS_NAMES))],
        name=f"fmnist_{params.model}",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate(params, train_size)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def train_network(
    params: TrainParams, split: Split, **monitoring: Any
) -> tuple[keras.Model, list[dict]]:
    """The network `params` describe, built in a fresh session seeded with params.seed and
    fitted on `split` as params say; its history (`monitoring`: fit's held_out, on_epoch)."""
    make_deterministic(params.seed)
    model = build_model(params, len(split.labels))
    history = fit(
        model,
        split,
        params.epochs,
        params.batch_size,
        params.seed,
        jit_compile=uses_xla(params),
        flip=params.flip,
        shift=params.shift,
        label_smoothing=params.label_smoothing,
        **monitoring,
    )
    return model, history


def activation_floats(params: TrainParams) -> int:
    """Floats one image's forward pass produces, layer by layer (the input included): what
    training keeps for the gradient, and an upper bound of what a pass for scoring holds."""
    total = math.prod(IMAGE_SHAPE) + len(CLASS_NAMES)  # the input and the logits
    if params.model == "dense":
        return total + 2 * params.hidden_units
    cnn, side = params.cnn, IMAGE_SHAPE[0]
    for filters in cnn.filters:
        total += side * side * filters * (3 if cnn.batch_norm else 2)  # conv, [norm], relu
        side //= 2
        total += side * side * filters * (2 if cnn.dropout else 1)  # pooling, [dropout]
    return total + cnn.dense_units * (3 if cnn.dense_dropout else 2)


# Bytes per activation float: in training, float32 plus its gradient; measured peaks here
# (CNN 32/64 filters, batch 4096: 1.8 GB) stay under this estimate (3.1 GB).
TRAIN_BYTES_PER_FLOAT = 8
SCORE_BYTES_PER_FLOAT = 4


# What one call scoring the held-out split each epoch may hold in activations: the CNN's 10,000
# test images at once took 880 MB more than training itself (a train stage's peak 1.9 GB).
SCORE_BUDGET = 256 * 2**20


def scoring_batch(params: TrainParams) -> int:
    """Images per call when fit scores the held-out split: all 10,000 at once for the dense
    model (so its curves keep their bits), fewer where their activations would pass the
    budget."""
    return max(1, SCORE_BUDGET // (SCORE_BYTES_PER_FLOAT * activation_floats(params)))


def check_memory(params: TrainParams, weights: int, held_out: int, available: int) -> None:
    """Refuse, before any work, a batch or an architecture whose training would not fit in
    `available` bytes: one batch's activations and one call scoring the held-out split, plus
    the weights, their gradients and Adam's two moments."""
    floats = activation_floats(params)
    fixed = 4 * 4 * weights
    batch = fixed + TRAIN_BYTES_PER_FLOAT * floats * params.batch_size
    score = fixed + SCORE_BYTES_PER_FLOAT * floats * min(held_out, scoring_batch(params))
    where = f"on this machine ({size_text(available)} available)"
    if score > available:
        key, fewer = (
            ("hidden_units", "fewer units")
            if params.model == "dense"
            else ("cnn.filters", "fewer or narrower blocks")
        )
        raise ParamsError(
            f"train.{key}: scoring {held_out:,} test images each epoch would need about "
            f"{size_text(score)} {where}; {fewer}"
        )
    if batch > available:
        fits = max(1, (available - fixed) // (TRAIN_BYTES_PER_FLOAT * floats))
        raise ParamsError(
            f"train.batch_size: {params.batch_size} would need about {size_text(batch)} {where}; "
            f"at most {fits:,} fits"
        )


def uses_xla(params: TrainParams) -> bool:
    """Whether fit can compile the network with XLA: not the CNN, whose max pooling has no
    deterministic XLA gradient ("MaxPool gradient ops do not yet have a deterministic XLA
    implementation" under op determinism)."""
    return params.model == "dense"


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
