"""The "not like Fashion-MNIST" score inside the shipped graph: the six checks of
fmnist.pipeline.ood.semantic in Keras operations (matrix products, sums, comparisons, a running
sum for the object's bounding box), so that any LiteRT runtime gets the score with the logits
in one invoke.

Outputs, per image: `ood_score` (arrays as given; flagged above 1) and `ood_check` (the index in
ALL_CHECKS of the check furthest out), and the same for images decoded from picture files
(`ood_score_file`, `ood_check_file`), whose limits differ (decoding resamples and compresses).
"""

from __future__ import annotations

import numpy as np

from fmnist.decoding import OBJECT_THRESHOLD
from fmnist.ood.score import KIND_OUTPUTS
from fmnist.pipeline.ood.pixel_checks import prepare
from fmnist.pipeline.ood.profile_format import PIXELS, Gaussians
from fmnist.pipeline.ood.semantic import Flag, coefficients
from fmnist.pipeline.training.backend import keras, tf

ops = keras.ops
_TINY = 1e-6


def _f32(array) -> np.ndarray:
    return np.asarray(array, np.float32)


def _class_models(models: tuple[Gaussians, ...]) -> dict[str, np.ndarray]:
    """The class models as fmnist.ood.score prepares them, side by side for one matrix product:
    every model's axes, then every model's means (float32 constants)."""
    prepared = [prepare(gaussians) for gaussians in models]
    axes = [p.weights[:, : p.shift.size] for p in prepared]
    means = [p.weights[:, p.shift.size :] for p in prepared]
    # 1/eigenvalue in float32, as the shipped files have it (score's is float64 throughout: the
    # last bit of a few constants would differ, and with it the model's bytes).
    pairs = zip(models, prepared, strict=True)
    weights = [1.0 / g.eigenvalues - 1.0 / p.noise[:, None] for g, p in pairs]
    return {
        "matrix": _f32(np.concatenate(axes + means, axis=1)),
        "shift": _f32(np.stack([p.shift for p in prepared])),
        "weights": _f32(np.stack(weights)),
        "const": _f32(np.stack([p.constant for p in prepared])),
        "noise": _f32(np.stack([1.0 / p.noise for p in prepared])),
    }


def _negative_log_likelihoods(flat, energy, length, model: dict[str, np.ndarray]):
    """-2 log p(x) under the most likely class of each model, as fmnist.ood.score computes it:
    the first model on the image, the second on the image at unit length. (N, 2)."""
    models, classes, k = model["shift"].shape
    product = ops.matmul(flat, model["matrix"])  # one product for both models
    scale = ops.concatenate([ops.ones_like(length), 1.0 / length], axis=1)[:, :, None]  # (N, 2, 1)
    z = ops.reshape(product[:, : models * classes * k], (-1, models, classes, k)) * scale[..., None]
    z = z - model["shift"]
    along = ops.sum(z * z * model["weights"], axis=3)
    dot = ops.reshape(product[:, models * classes * k :], (-1, models, classes)) * scale
    across = (energy[:, :, None] * scale * scale - 2.0 * dot) * model["noise"]
    return ops.min(along + across + model["const"], axis=2)


def _fill(images):
    """The share of non-black pixels in the bounding box of the object's pixels (1: no object).
    A row (or column) is in the box when some lit one is at or before it and some at or after
    it: its running count of lit rows is above 0 and below the total plus its own."""
    lit = ops.cast(images > OBJECT_THRESHOLD, "float32")
    lines = ops.stack([ops.max(lit, axis=2), ops.max(lit, axis=1)], axis=1)  # (N, 2, 28)
    count = ops.cumsum(lines, axis=2)
    after = count[:, :, -1:] - count + lines
    span = ops.cast(ops.minimum(count, after) > 0, "float32")
    rows, columns = span[:, 0], span[:, 1]
    area = ops.sum(rows, axis=1) * ops.sum(columns, axis=1)
    inside = ops.cast(images > 0, "float32") * rows[:, :, None] * columns[:, None, :]
    found = ops.sum(inside, axis=(1, 2))
    return ops.where(area > 0, found / ops.maximum(area, 1.0), 1.0)


class FlagScore(keras.layers.Layer):
    """(images (N, 28, 28), features (N, D)) -> the four flag outputs, keyed by name."""

    def __init__(self, flag: Flag, **kwargs):
        super().__init__(name="ood_flag", **kwargs)
        self.class_models = _class_models((flag.pixels, flag.shape))
        self.bank = _f32(flag.bank.T)
        # Per kind (rows: KIND_OUTPUTS' order) and check: middle, 1/above, 1/below; thresholds.
        middle, above, below = (
            _f32(np.stack(rows))
            for rows in zip(*(coefficients(flag.spreads[k]) for k in KIND_OUTPUTS), strict=True)
        )
        self.middle, self.above, self.below = middle, above, below
        self.inverse_threshold = _f32([1.0 / flag.thresholds[k] for k in KIND_OUTPUTS])

    def _values(self, images, features):
        """The six checks' raw values, (N, 6), in ALL_CHECKS' order."""
        flat = ops.reshape(images, (-1, PIXELS))
        energy = ops.sum(flat * flat, axis=1, keepdims=True)
        length = ops.maximum(ops.sqrt(energy), _TINY)
        across = images[:, :, 1:] - images[:, :, :-1]
        down = images[:, 1:] - images[:, :-1]
        edges = ops.sum(across * across, axis=(1, 2)) + ops.sum(down * down, axis=(1, 2))
        unit = features / ops.maximum(ops.norm(features, axis=1, keepdims=True), _TINY)
        likelihoods = _negative_log_likelihoods(flat, energy, length, self.class_models)
        columns = [
            likelihoods[:, 0],
            likelihoods[:, 1],
            edges / ops.maximum(energy[:, 0], _TINY),
            ops.sum(ops.cast(ops.not_equal(flat, 0.0), "float32"), axis=1) / PIXELS,
            _fill(images),
            1.0 - ops.max(ops.matmul(unit, self.bank), axis=1),
        ]
        return ops.stack(columns, axis=1)

    def call(self, images, features):
        table = self._values(images, features)[:, None, :]  # (N, 1, 6) against (kinds, 6)
        difference = table - self.middle
        scaled = ops.maximum(ops.maximum(difference * self.above, -difference * self.below), 0.0)
        scores = (ops.max(scaled[:, :, :-1], axis=2) + scaled[:, :, -1]) * self.inverse_threshold
        # tf.argmax: Keras' own adds bitwise handling of -0.0 that LiteRT has no kernel for.
        checks = tf.math.argmax(scaled, axis=2, output_type=tf.int32)
        outputs = {}
        for column, (score_name, check_name) in enumerate(KIND_OUTPUTS.values()):
            outputs[score_name], outputs[check_name] = scores[:, column], checks[:, column]
        return outputs
