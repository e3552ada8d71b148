"""The model being served, and its swap for a new one when the file changes.

The file is loaded by the same `load_classifier` as evaluate and predict: the seal, the contract
check and the probe run before a model serves anything. A changed file (a repro, a checkout, a
pull) is loaded beside the one serving and swapped in only once it passed; a damaged or
half-written file is refused and the old model keeps serving. The version is the seal's digest,
so two files with the same bytes are the same version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.inference.classifier import Classifier, checked_classifier, load_classifier

# LiteRT's kernels on one thread: the HTTP stack and the load's clients need the other core.
# Side by side under wrk at 8 connections (2-core AMD EPYC, Zen 4): single images 6,000 req/s
# on one thread against 4,000-4,800 on two; batches of 64 the same on either (1,900-2,250).
SERVING_THREADS = 1
# Hex digits of the seal's SHA-256: ample to tell the files of one project apart.
VERSION_LENGTH = 12


@dataclass(frozen=True)
class Stamp:
    """What tells a changed file from the same one without reading it."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def stamp(path: Path) -> Stamp | None:
    """The file's stamp, or None if it is missing now."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return Stamp(found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


@dataclass(frozen=True)
class ServedModel:
    """A loaded, checked model and its version."""

    classifier: Classifier
    version: str
    stamp: Stamp | None

    def run(self, images: np.ndarray, flag: bool) -> dict[str, np.ndarray]:
        """Every output of one invoke by name: the (N, 10) logits and, with `flag` and a model
        that has it, its scores and checks (without: the cheaper logits-only signature).
        Called from the event loop's thread only, one call at a time, which is what LiteRT's
        interpreter allows."""
        return self.classifier.run(images, flag)


def load(path: Path) -> ServedModel:
    """The model at `path`, checked as evaluate and predict check it; ModelError if it fails."""
    before = stamp(path)
    classifier = load_classifier(path, threads=SERVING_THREADS)
    return ServedModel(classifier, version_of(classifier), before)


def load_bytes(path: Path, data: bytes) -> ServedModel:
    """The model of `data`, read from `path`, checked as load checks a file."""
    classifier = checked_classifier(path, data, threads=SERVING_THREADS)
    return ServedModel(classifier, version_of(classifier), None)


def version_of(classifier: Classifier) -> str:
    """The seal's digest, shortened: the version every response names."""
    return classifier.seal.hex()[:VERSION_LENGTH]
