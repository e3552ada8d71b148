"""The four checks and the score they give an image, in NumPy alone (no TensorFlow).

- pixels: how unlikely the image is under the most likely class's probabilistic PCA model
  (Tipping and Bishop, 10 axes a class): digits, letters and noise are far from every class.
- shape: the same on the image scaled to unit length, so brightness does not matter: a dim
  blob or a faint word is as far off as a bright one.
- edges: squared differences of neighbouring pixels relative to the image's energy: blurred,
  flat or noisy images lie outside clothing's range.
- coverage: the share of pixels that are not black: blank frames and square photos lie
  outside it.
- fill: the share of the object's bounding box that is not black: a photo of a scene has no
  black background anywhere, even when it is wide and fitted into 28x28 between black bands
  (letterboxed photos looked like clothing to the other four: 8 % of them were flagged).
Each check's score is 0 at held-out clothing's median and 1 at its limit; an image's score is
the largest of the five, and above 1 it is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fmnist.ood.profile import CHECKS, PIXELS, Gaussians, Limit, Profile
from fmnist.tools.images import OBJECT_THRESHOLD

_TINY = 1e-6  # an all-black image has no length and no energy


@dataclass(frozen=True)
class Assessment:
    """Per image: the score (flagged above 1) and the check that gave it."""

    score: np.ndarray  # (N,) float64
    check: np.ndarray  # (N,) index into CHECKS

    @property
    def flagged(self) -> np.ndarray:
        return self.score > 1.0


@dataclass(frozen=True)
class _Prepared:
    """A class model laid out for one matrix product per batch, in float64."""

    weights: np.ndarray  # (784, classes * (k + 1)): every class's axes, then every mean
    shift: np.ndarray  # (classes, k): each class's mean projected on its axes
    mean_norms: np.ndarray  # (classes,)
    eigenvalues: np.ndarray
    noise: np.ndarray
    logdet: np.ndarray


@lru_cache(maxsize=4)  # a server keeps the current model's; reloads replace it
def _prepare(gaussians: Gaussians) -> _Prepared:
    bases = gaussians.bases.astype(np.float64)
    means = gaussians.means.astype(np.float64)
    classes, _, k = bases.shape
    axes = bases.transpose(1, 0, 2).reshape(PIXELS, classes * k)
    return _Prepared(
        weights=np.concatenate([axes, means.T], axis=1),
        shift=np.einsum("cd,cdk->ck", means, bases),
        mean_norms=np.sum(means * means, axis=1),
        eigenvalues=gaussians.eigenvalues.astype(np.float64),
        noise=gaussians.noise.astype(np.float64),
        logdet=gaussians.logdet.astype(np.float64),
    )


def negative_log_likelihood(flat: np.ndarray, gaussians: Gaussians) -> np.ndarray:
    """-2 log p(x) up to a constant, under the most likely class: (N, 784) float64 -> (N,)."""
    model = _prepare(gaussians)
    classes, k = model.shift.shape
    product = flat @ model.weights
    z = product[:, : classes * k].reshape(len(flat), classes, k) - model.shift
    # |x - m|^2 expanded, so the 784-wide difference is never formed per class.
    distance = np.sum(flat * flat, axis=1)[:, None] - 2 * product[:, classes * k :]
    distance += model.mean_norms
    within = np.sum(z * z, axis=2)
    residual = np.maximum(distance - within, 0.0)
    nll = np.sum(z * z / model.eigenvalues, axis=2) + residual / model.noise + model.logdet
    return nll.min(axis=1)


def unit_length(flat: np.ndarray) -> np.ndarray:
    """Each row divided by its length: the image's shape regardless of its brightness."""
    return flat / np.maximum(np.sqrt(np.sum(flat * flat, axis=1)), _TINY)[:, None]


def fill(images: np.ndarray) -> np.ndarray:
    """The share of pixels that are not black within the bounding box of the object's pixels
    (over OBJECT_THRESHOLD, as decoding trims); 1 for an image with no object."""
    lit = images > OBJECT_THRESHOLD
    rows, columns = lit.any(axis=2), lit.any(axis=1)  # (N, 28) each
    inside = (np.cumsum(rows, 1) > 0) & (np.cumsum(rows[:, ::-1], 1)[:, ::-1] > 0)
    across = (np.cumsum(columns, 1) > 0) & (np.cumsum(columns[:, ::-1], 1)[:, ::-1] > 0)
    box = inside[:, :, None] & across[:, None, :]
    area = box.sum(axis=(1, 2))
    found = ((images > 0) & box).sum(axis=(1, 2))
    return np.where(area > 0, found / np.maximum(area, 1), 1.0)


def statistics(images: np.ndarray, profile: Profile) -> np.ndarray:
    """The checks' raw values, one column each in CHECKS' order: (N, 28, 28) -> (N, 5)."""
    flat = images.reshape(len(images), PIXELS).astype(np.float64)
    energy = np.sum(flat * flat, axis=1)
    grid = flat.reshape(images.shape)
    across, down = np.diff(grid, axis=2), np.diff(grid, axis=1)
    edges = np.sum(across * across, axis=(1, 2)) + np.sum(down * down, axis=(1, 2))
    return np.stack(
        [
            negative_log_likelihood(flat, profile.pixels),
            negative_log_likelihood(unit_length(flat), profile.shape),
            edges / np.maximum(energy, _TINY),
            np.mean(flat > 0, axis=1),
            fill(images),
        ],
        axis=1,
    )


def ratios(values: np.ndarray, limit: Limit) -> np.ndarray:
    """A check's score: 0 at the middle, 1 at the limit on either side."""
    above = (values - limit.middle) / (limit.high - limit.middle)
    if np.isinf(limit.low):
        return above
    return np.maximum(above, (limit.middle - values) / (limit.middle - limit.low))


@lru_cache(maxsize=8)
def _limits(profile: Profile, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One kind's limits as arrays over the checks: low, middle, high."""
    limits = [profile.limits[kind][check] for check in CHECKS]
    return tuple(np.array([getattr(limit, side) for limit in limits]) for side in _SIDES)


_SIDES = ("low", "middle", "high")


def assess(images: np.ndarray, profile: Profile, kind: str) -> Assessment:
    """Score (N, 28, 28) images of the given kind ("tensor" or "file") against the profile."""
    values = statistics(images, profile)
    low, middle, high = _limits(profile, kind)
    # The one-sided checks' lower part is 0 (low is -inf): it never decides, as the two-sided
    # checks score at least 0.
    scores = np.maximum((values - middle) / (high - middle), (middle - values) / (middle - low))
    return Assessment(scores.max(axis=1), scores.argmax(axis=1))


def describe(assessment: Assessment, index: int) -> dict:
    """One image's verdict as users see it in JSON: score, flag and the check behind it."""
    score = float(assessment.score[index])
    return {"score": score, "flagged": score > 1.0, "check": CHECKS[assessment.check[index]]}
