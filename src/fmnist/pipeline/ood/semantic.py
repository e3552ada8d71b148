"""The semantic check and the fused score, fitted on the training split alone.

The semantic check: how far an image's features (the network's penultimate layer, unit length)
lie from those of the nearest of BANK training images, as 1 - cosine similarity (Sun et al.
2022, with k = 1). It knows things the pixel checks do not: an icon of a cup, an emoji or a
chart can have clothing's pixel statistics and still be nothing the network was trained on.

The fusion: each of the six checks is measured from held-out clothing's median in units of its
spread (its 99.5th percentile, and 0.5th for the two-sided), the pixel checks' largest and the
semantic check's positive parts are added, and that sum is divided by its own 95th percentile
on held-out clothing: above 1, flagged. Chosen among candidates by the protocol in
docs/trust.md. This module is the reference in NumPy (float64); the shipped model computes the
same in its graph (fmnist.pipeline.training.flag_graph), and train checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist.ood.score import FLAG_CHECKS, Assessment
from fmnist.pipeline.ood.pixel_checks import statistics
from fmnist.pipeline.ood.profile_format import CHECKS, Gaussians, Profile

# Training images whose features the semantic check compares with: a seeded sample of the part
# the class models were fitted on. 2,048 x 128 float32 is 1 MB in model.tflite and about 13 us
# per image in LiteRT (one thread, AMD EPYC Zen 4); 10,000 told sets apart slightly better
# (docs/trust.md) at 55 us, more than the flag's cost target allows.
BANK = 2048
# The six checks, in the order of the graph's columns: the pixel checks, then the semantic one.
ALL_CHECKS = FLAG_CHECKS
_ONE_SIDED = ("pixels", "shape", "semantic")  # only an unlikely image is suspicious
# Held-out clothing's quantiles that set each check's unit, and the share of it flagged.
SPREAD = (0.005, 0.995)
FLAG_RATE = 0.05
_TINY = 1e-6


@dataclass(frozen=True)
class Limit:
    """One check's unit on held-out clothing: measured from `middle` (the median), 1 at `high`
    and, for a two-sided check, at `low` (-inf: one-sided)."""

    low: float
    middle: float
    high: float


@dataclass(frozen=True, eq=False)
class Flag:
    """Everything the shipped score needs: the pixel class models, the feature bank, and per
    input kind ("tensor", "file") the six checks' spreads and the fused score's threshold."""

    pixels: Gaussians
    shape: Gaussians
    bank: np.ndarray  # (BANK, features) float32, unit rows
    spreads: dict[str, tuple[Limit, ...]]  # kind -> one per check, ALL_CHECKS' order
    thresholds: dict[str, float]  # kind -> the fused score's 95th percentile on held-out


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each row divided by its length (float64)."""
    features = np.asarray(features, np.float64)
    lengths = np.sqrt(np.einsum("ij,ij->i", features, features))
    return features / np.maximum(lengths, _TINY)[:, None]


def nearest_distance(features: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """1 - the cosine similarity to the nearest bank row, per row of `features`."""
    bank = np.asarray(bank, np.float64)
    out = [
        1.0 - (unit_rows(features[start : start + 2048]) @ bank.T).max(axis=1)
        for start in range(0, len(features), 2048)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def values(images: np.ndarray, features: np.ndarray, flag: Flag) -> np.ndarray:
    """The six checks' raw values: (N, 28, 28) images and their (N, D) features -> (N, 6)."""
    pixel = statistics(images, Profile(flag.pixels, flag.shape))
    return np.column_stack([pixel, nearest_distance(features, flag.bank)])


def spread(column: np.ndarray, check: str) -> Limit:
    """A check's unit on held-out clothing: median to its SPREAD quantiles."""
    middle = float(np.median(column))
    low, high = (float(q) for q in np.quantile(column, SPREAD))
    return Limit(-np.inf if check in _ONE_SIDED else low, middle, high)


def coefficients(spreads: tuple[Limit, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spreads as arrays: middle, 1 / (high - middle), 1 / (middle - low) (0: one-sided)."""
    middle = np.array([s.middle for s in spreads])
    above = 1.0 / np.array([s.high - s.middle for s in spreads])
    below = np.array([0.0 if np.isinf(s.low) else 1.0 / (s.middle - s.low) for s in spreads])
    return middle, above, below


def check_ratios(table: np.ndarray, spreads: tuple[Limit, ...]) -> np.ndarray:
    """Every check in units of its spread, 0 at held-out clothing's median, never below 0 (a
    one-sided check's lower side counts nothing): (N, 6)."""
    middle, above, below = coefficients(spreads)
    return np.maximum(np.maximum((table - middle) * above, (middle - table) * below), 0.0)


def fused(table: np.ndarray) -> np.ndarray:
    """The fusion of (N, 6) check ratios: the pixel checks' largest plus the semantic check."""
    return table[:, : len(CHECKS)].max(axis=1) + table[:, -1]


def assess(table: np.ndarray, flag: Flag, kind: str) -> Assessment:
    """Score raw (N, 6) values: the fused score over its threshold (flagged above 1), and the
    check furthest out."""
    scaled = check_ratios(table, flag.spreads[kind])
    return Assessment(fused(scaled) / flag.thresholds[kind], scaled.argmax(axis=1))


def fit_flag(profile: Profile, bank: np.ndarray, held_out: dict[str, tuple]) -> Flag:
    """The flag from the pixel class models, the bank, and per kind held-out clothing's
    (images, features): every spread and threshold from those alone."""
    partial = Flag(profile.pixels, profile.shape, bank, {}, {})
    spreads, thresholds = {}, {}
    for kind, (images, features) in held_out.items():
        table = values(images, features, partial)
        spreads[kind] = tuple(spread(table[:, i], check) for i, check in enumerate(ALL_CHECKS))
        thresholds[kind] = float(
            np.quantile(fused(check_ratios(table, spreads[kind])), 1 - FLAG_RATE)
        )
    return Flag(profile.pixels, profile.shape, bank, spreads, thresholds)
