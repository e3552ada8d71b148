"""The fitted profile of Fashion-MNIST's training images (the profile stage's output): the pixel
checks' class models, from which train builds the flag into model.tflite's graph.

Format: a first line naming the format, a JSON line (the arrays' names and shapes), then the
arrays as little-endian float32 in that order. Readable by anything that can split two lines and
read floats. (Format 1 also held round one's limits, which the flag fitted in train replaced.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.core.errors import RESTORE_HINT, FmnistError
from fmnist.ood.score import FLAG_CHECKS

MAGIC = b"fmnist-ood/2\n"
PIXELS = 784
# The five pixel checks whose class models a profile holds (the first two), in the flag's order.
CHECKS = FLAG_CHECKS[:5]
_ARRAYS = ("means", "bases", "eigenvalues", "noise", "logdet")


class ProfileError(FmnistError):
    """The profile in a model file cannot be read."""


@dataclass(frozen=True, eq=False)  # hashed by identity: pixel_checks caches per model
class Gaussians:
    """One probabilistic PCA model per class: mean, top principal axes and their variances,
    the variance left over per remaining dimension, and the log-determinant."""

    means: np.ndarray  # (classes, 784)
    bases: np.ndarray  # (classes, 784, k), orthonormal columns
    eigenvalues: np.ndarray  # (classes, k)
    noise: np.ndarray  # (classes,)
    logdet: np.ndarray  # (classes,)


@dataclass(frozen=True, eq=False)  # hashed by identity: pixel_checks caches per profile
class Profile:
    """What the pixel checks need: the class models on images and on unit-length images."""

    pixels: Gaussians
    shape: Gaussians


def to_bytes(profile: Profile) -> bytes:
    """The profile's bytes: the same profile gives the same bytes."""
    arrays = [
        (f"{model}.{name}", np.ascontiguousarray(getattr(gaussians, name), "<f4"))
        for model, gaussians in (("pixels", profile.pixels), ("shape", profile.shape))
        for name in _ARRAYS
    ]
    header = {"arrays": [[name, list(array.shape)] for name, array in arrays]}
    line = json.dumps(header, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    return MAGIC + line + b"".join(array.tobytes() for _, array in arrays)


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
    """The profile in `data`, every shape checked."""
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not an fmnist-ood/2 profile")
        end = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC) : end])
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
    return Profile(models[0], models[1])
