"""Shared fixtures: the real Fashion-MNIST data, verified, from whatever source set-up provided."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fmnist import paths
from fmnist.dataset import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, Split, to_split
from fmnist.params import load_params
from fmnist.prepare import fetch_all
from fmnist.sources import ordered_sources

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_content() -> dict[str, bytes]:
    """The four official files' decompressed content, verified by checksum."""
    params = load_params(ROOT / "params.yaml").prepare
    sources = ordered_sources(os.environ.get(paths.DATA_ENV), paths.DEBIAN_DATA_DIR, params.mirrors)
    return fetch_all(params, sources)


@pytest.fixture(scope="session")
def real_train(real_content) -> Split:
    return to_split(real_content[TRAIN_IMAGES.name], real_content[TRAIN_LABELS.name], "train")


@pytest.fixture(scope="session")
def real_test(real_content) -> Split:
    return to_split(real_content[TEST_IMAGES.name], real_content[TEST_LABELS.name], "test")


@pytest.fixture(scope="session")
def trained(real_train, tmp_path_factory):
    """A real model: one epoch on the real training set, saved as the train stage saves it."""
    # TensorFlow is imported here, not at collection, so tests that never train start fast.
    from fmnist.fit import fit, make_deterministic
    from fmnist.model import build_model, save_model

    params = load_params(ROOT / "params.yaml").train
    make_deterministic(params.seed)
    model = build_model(params)
    fit(model, real_train, 1, params.batch_size, params.seed)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_model(model, path)
    return model, path


def rewrite_member(source: Path, target: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    """Copy a .keras archive with one member replaced by change(its bytes)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.namelist():
            data = original.read(member)
            copy.writestr(member, change(data) if member == name else data)
    return target


def foreign_model(path: Path, layers: list) -> Path:
    """A Keras model that is not one of this project's, saved at `path`."""
    import keras

    keras.Sequential(layers).save(path)
    return path
