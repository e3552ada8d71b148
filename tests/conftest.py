"""Shared fixtures: the real Fashion-MNIST data, verified, from whatever source set-up provided."""

from __future__ import annotations

import os
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
