"""The fitted profile of Fashion-MNIST's training images (the profile stage's output): the pixel
checks' class models, from which train builds the flag into model.tflite's graph.

Format: a first line naming the format, a JSON line (the limits and the arrays' names and
shapes), then the arrays as little-endian float32 in that order. Readable by anything that can
split two lines and read floats.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.core.errors import RESTORE_HINT, FmnistError

MAGIC = b"fmnist-ood/1\n"
PIXELS = 784
# The five checks, in this order everywhere: users see these names.
CHECKS = ("pixels", "shape", "edges", "coverage", "fill")
# The input kinds with their own thresholds: arrays as given, and images decoded from files
# (resampled, trimmed and compressed on the way, so sharper or softer than the originals).
KINDS = ("tensor", "file")
_ARRAYS = ("means", "bases", "eigenvalues", "noise", "logdet")


class ProfileError(FmnistError):
    """The profile in a model file cannot be read."""


@dataclass(frozen=True, eq=False)  # hashed by identity: score.py caches per model
class Gaussians:
    """One probabilistic PCA model per class: mean, top principal axes and their variances,
    the variance left over per remaining dimension, and the log-determinant."""

    means: np.ndarray  # (classes, 784)
    bases: np.ndarray  # (classes, 784, k), orthonormal columns
    eigenvalues: np.ndarray  # (classes, k)
    noise: np.ndarray  # (classes,)
    logdet: np.ndarray  # (classes,)


@dataclass(frozen=True)
class Limit:
    """One check's thresholds: flagged below `low` or above `high` (low -inf: one-sided);
    `middle` is held-out clothing's median, from where the check's score is measured."""

    low: float
    middle: float
    high: float


@dataclass(frozen=True, eq=False)  # hashed by identity: score.py caches per profile
class Profile:
    """What the checks need: the class models on images and on unit-length images, and the
    limits of every check for each input kind."""

    pixels: Gaussians
    shape: Gaussians
    limits: dict[str, dict[str, Limit]]  # kind -> check -> limit


def _limit_json(limit: Limit) -> list:
    return [None if math.isinf(limit.low) else limit.low, limit.middle, limit.high]


def to_bytes(profile: Profile) -> bytes:
    """The profile's bytes: the same profile gives the same bytes."""
    arrays = [
        (f"{model}.{name}", np.ascontiguousarray(getattr(gaussians, name), "<f4"))
        for model, gaussians in (("pixels", profile.pixels), ("shape", profile.shape))
        for name in _ARRAYS
    ]
    header = {
        "limits": {
            kind: {check: _limit_json(limits[check]) for check in CHECKS}
            for kind, limits in profile.limits.items()
        },
        "arrays": [[name, list(array.shape)] for name, array in arrays],
    }
    line = json.dumps(header, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    return MAGIC + line + b"".join(array.tobytes() for _, array in arrays)


def _limit(value: object) -> Limit:
    if not (isinstance(value, list) and len(value) == 3):
        raise ValueError(f"a limit is three numbers, got {value!r}")
    low, middle, high = (-math.inf if value[0] is None else value[0]), value[1], value[2]
    if not all(isinstance(v, (int, float)) for v in (low, middle, high)) or not low < middle < high:
        raise ValueError(f"a limit needs low < middle < high, got {value!r}")
    return Limit(float(low), float(middle), float(high))


def read_profile(path: Path) -> bytes:
    """A profile file's bytes, checked: ProfileError in one line if missing or damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"{path}: missing; {RESTORE_HINT}") from None
    except OSError as error:
        raise ProfileError(f"{path}: cannot read ({error.strerror})") from None
    try:
        from_bytes(data)
    except ProfileError as error:
        raise ProfileError(f"{path}: {error}") from None
    return data


def from_bytes(data: bytes) -> Profile:
    """The profile in `data`, every shape and limit checked."""
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not an fmnist-ood/1 profile")
        end = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC) : end])
        limits = {
            kind: {check: _limit(header["limits"][kind][check]) for check in CHECKS}
            for kind in KINDS
        }
        offset, arrays = end + 1, {}
        for name, shape in header["arrays"]:
            size = 4 * math.prod(shape)
            if offset + size > len(data):
                raise ValueError(f"{name} is cut short")
            arrays[name] = np.frombuffer(data, "<f4", math.prod(shape), offset).reshape(shape)
            offset += size
        if offset != len(data):
            raise ValueError(f"{len(data) - offset} bytes after the last array")
        models = [
            Gaussians(*(arrays[f"{model}.{name}"].astype(np.float32) for name in _ARRAYS))
            for model in ("pixels", "shape")
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise ProfileError(f"not a readable input profile ({error})") from None
    for gaussians in models:
        classes, _, k = gaussians.bases.shape
        # In _ARRAYS' order: means, bases, eigenvalues, noise, logdet.
        expected = ((classes, PIXELS), (classes, PIXELS, k), (classes, k), (classes,), (classes,))
        if tuple(getattr(gaussians, name).shape for name in _ARRAYS) != expected:
            raise ProfileError("an input profile with the wrong shapes")
    return Profile(models[0], models[1], limits)
