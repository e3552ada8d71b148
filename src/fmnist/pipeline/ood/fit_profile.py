"""Fitting the profile: the pixel checks' class models on the training split.

They use no output of the network, so one profile serves every model; the limits, fused with
the semantic check, are fitted for each trained network in train (docs/trust.md).
"""

from __future__ import annotations

import math

import numpy as np

from fmnist.pipeline.ood.pixel_checks import unit_length
from fmnist.pipeline.ood.profile_format import PIXELS, Gaussians, Profile

# Principal axes per class: 10 kept digits, letters and noise apart from clothing (k = 20 and
# 50 measured no better as a whole, and cost more bytes).
AXES = 10
# Training images kept out of the class models to set the flag's limits on (the last 6,000).
HELD_OUT = 6000


def fit_gaussians(images: np.ndarray, labels: np.ndarray, classes: int) -> Gaussians:
    """Probabilistic PCA per class (true labels): the top AXES eigenvectors of the class's
    covariance, and the mean of the remaining eigenvalues as the leftover variance."""
    flat = images.reshape(len(images), PIXELS).astype(np.float64)
    parts: dict[str, list] = {key: [] for key in ("means", "bases", "eigenvalues", "noise")}
    logdet = []
    for label in range(classes):
        members = flat[labels == label]
        mean = members.mean(axis=0)
        centred = members - mean
        eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / len(members))
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues = np.maximum(eigenvalues[order], 1e-12)
        noise = float(eigenvalues[AXES:].mean())
        # eigh's sign of each axis is arbitrary; fixed so the largest entry is positive.
        bases = vectors[:, order[:AXES]]
        bases *= np.sign(bases[np.abs(bases).argmax(axis=0), range(AXES)])
        parts["means"].append(mean)
        parts["bases"].append(bases)
        parts["eigenvalues"].append(eigenvalues[:AXES])
        parts["noise"].append(noise)
        logdet.append(
            sum(math.log(v) for v in eigenvalues[:AXES]) + (PIXELS - AXES) * math.log(noise)
        )
    arrays = {key: np.array(value, np.float32) for key, value in parts.items()}
    return Gaussians(logdet=np.array(logdet, np.float32), **arrays)


def held_out_count(total: int) -> int:
    """How many of a training split's last images are held out: HELD_OUT, or a tenth of a split
    too small for it (tests train on a few hundred)."""
    return min(HELD_OUT, total // 10)


def fit_on_training(images: np.ndarray, labels: np.ndarray, classes: int) -> Profile:
    """The profile from the training split alone: class models on all but its last HELD_OUT
    images (train fits the flag's limits on those, fmnist.pipeline.training.flag_fit)."""
    held = held_out_count(len(images))
    fit_images, fit_labels = images[:-held], labels[:-held]
    flat = fit_images.reshape(len(fit_images), PIXELS).astype(np.float64)
    pixels = fit_gaussians(fit_images, fit_labels, classes)
    return Profile(pixels, fit_gaussians(unit_length(flat), fit_labels, classes))
