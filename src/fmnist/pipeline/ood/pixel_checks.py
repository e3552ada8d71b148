"""The five pixel checks of the flag, in NumPy (the reference the shipped graph is held to, and
what the profile's class models are fitted for):

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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fmnist.decoding import OBJECT_THRESHOLD
from fmnist.pipeline.ood.profile_format import CHECKS, PIXELS, Gaussians, Profile

_TINY = 1e-6  # an all-black image has no length and no energy


@dataclass(frozen=True)
class Prepared:
    """A class model laid out for one matrix product per batch, in float64."""

    weights: np.ndarray  # (784, classes * (k + 1)): every class's axes, then every mean
    shift: np.ndarray  # (classes, k): each class's mean projected on its axes
    axis_weights: np.ndarray  # (classes, k): 1/eigenvalue - 1/noise
    constant: np.ndarray  # (classes,): |mean|^2 / noise + logdet
    noise: np.ndarray


@lru_cache(maxsize=4)  # fitting and checking score the same profile many times
def prepare(gaussians: Gaussians) -> Prepared:
    """The class models as the likelihood's matrix product wants them (here and in the graph
    train builds, fmnist.pipeline.training.flag_graph)."""
    bases = gaussians.bases.astype(np.float64)
    means = gaussians.means.astype(np.float64)
    noise = gaussians.noise.astype(np.float64)
    classes, _, k = bases.shape
    axes = bases.transpose(1, 0, 2).reshape(PIXELS, classes * k)
    return Prepared(
        weights=np.concatenate([axes, means.T], axis=1),
        shift=np.einsum("cd,cdk->ck", means, bases),
        axis_weights=1.0 / gaussians.eigenvalues.astype(np.float64) - 1.0 / noise[:, None],
        constant=np.sum(means * means, axis=1) / noise + gaussians.logdet.astype(np.float64),
        noise=noise,
    )


def negative_log_likelihood(
    flat: np.ndarray, energy: np.ndarray, gaussians: Gaussians
) -> np.ndarray:
    """-2 log p(x) up to a constant, under the most likely class: (N, 784) float64 and each
    row's squared length -> (N,). With z the coordinates on a class's axes, it is
    sum z^2/eigenvalue + |x - m - Vz|^2/noise + logdet, and |x - m - Vz|^2 = |x - m|^2 - |z|^2:
    one matrix product per batch, the 784-wide difference never formed per class."""
    model = prepare(gaussians)
    classes, k = model.shift.shape
    product = flat @ model.weights
    z = product[:, : classes * k].reshape(len(flat), classes, k) - model.shift
    along = np.einsum("nck,nck,ck->nc", z, z, model.axis_weights)
    across = (energy[:, None] - 2 * product[:, classes * k :]) / model.noise
    return (along + across + model.constant).min(axis=1)


def unit_length(flat: np.ndarray) -> np.ndarray:
    """Each row divided by its length: the image's shape regardless of its brightness."""
    return flat / np.maximum(np.sqrt(np.einsum("ij,ij->i", flat, flat)), _TINY)[:, None]


def _span(lit: np.ndarray) -> np.ndarray:
    """Per row of (N, 28) booleans: True from its first True to its last, inclusive."""
    before = np.logical_and.accumulate(~lit, axis=1)
    after = np.logical_and.accumulate(~lit[:, ::-1], axis=1)[:, ::-1]
    return ~(before | after)


def fill(images: np.ndarray) -> np.ndarray:
    """The share of pixels that are not black within the bounding box of the object's pixels
    (over OBJECT_THRESHOLD, as decoding trims); 1 for an image with no object."""
    lit = images > OBJECT_THRESHOLD
    rows, columns = _span(lit.any(axis=2)), _span(lit.any(axis=1))
    area = rows.sum(axis=1) * columns.sum(axis=1)
    found = np.einsum("nij,ni,nj->n", images > 0, rows, columns, dtype=np.int64)
    return np.where(area > 0, found / np.maximum(area, 1), 1.0)


def statistics(images: np.ndarray, profile: Profile) -> np.ndarray:
    """The checks' raw values, one column each in CHECKS' order: (N, 28, 28) -> (N, 5)."""
    flat = images.reshape(len(images), PIXELS).astype(np.float64)
    energy = np.einsum("ij,ij->i", flat, flat)
    length = np.maximum(np.sqrt(energy), _TINY)
    grid = flat.reshape(images.shape)
    across, down = grid[:, :, 1:] - grid[:, :, :-1], grid[:, 1:] - grid[:, :-1]
    edges = np.einsum("nij,nij->n", across, across) + np.einsum("nij,nij->n", down, down)
    values = np.empty((len(images), len(CHECKS)))
    values[:, 0] = negative_log_likelihood(flat, energy, profile.pixels)
    values[:, 1] = negative_log_likelihood(
        flat / length[:, None], energy / length**2, profile.shape
    )
    values[:, 2] = edges / np.maximum(energy, _TINY)
    values[:, 3] = np.count_nonzero(flat, axis=1) / PIXELS
    values[:, 4] = fill(images)
    return values
