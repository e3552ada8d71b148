"""Shared fixtures: the real Fashion-MNIST data, verified, from whatever source set-up provided."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmnist.core.dataset import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Split,
    to_split,
)
from fmnist.pipeline.params import load_params
from fmnist.pipeline.sources import default_sources
from fmnist.pipeline.stages.prepare import fetch_all

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_content() -> dict[str, bytes]:
    """The four official files' decompressed content, verified by checksum."""
    params = load_params(ROOT / "params.yaml").prepare
    sources = default_sources(params.mirrors)
    return fetch_all(params, sources)


@pytest.fixture(scope="session")
def real_train(real_content) -> Split:
    return to_split(real_content[TRAIN_IMAGES.name], real_content[TRAIN_LABELS.name], "train")


@pytest.fixture(scope="session")
def real_test(real_content) -> Split:
    return to_split(real_content[TEST_IMAGES.name], real_content[TEST_LABELS.name], "test")


@pytest.fixture(scope="session")
def ood_sets_file(real_test, tmp_path_factory) -> Path:
    """data/ood_sets.npz as the ood_sets stage writes it from the real test split."""
    from fmnist.core import paths
    from fmnist.core.dataset import save_split
    from fmnist.pipeline.stages import ood_sets

    root = tmp_path_factory.mktemp("ood_sets")
    save_split(root / paths.TEST_NPZ, real_test)
    assert ood_sets.main(["--root", str(root)]) == 0
    return root / paths.OOD_SETS


@pytest.fixture(scope="session")
def profile(real_train) -> bytes:
    """The input profile train fits on the real training split (fmnist.ood), as bytes."""
    from fmnist.ood.profile_format import to_bytes
    from fmnist.pipeline.ood.fit_profile import fit_on_training
    from fmnist.pipeline.stages.profile import SEED

    return to_bytes(fit_on_training(real_train.images, real_train.labels, 10, SEED))


@pytest.fixture(scope="session")
def trained(real_train, real_test, profile, tmp_path_factory):
    """A real model: one epoch on the real training set, saved and exported as train does.

    Returns the Keras model and the path of its model.tflite (model.keras lies beside it).
    """
    # TensorFlow is imported here, not at collection, so tests that never train start fast.
    from fmnist.pipeline.training.export import export
    from fmnist.pipeline.training.fit import fit, make_deterministic
    from fmnist.pipeline.training.network import build_model, save_model

    params = load_params(ROOT / "params.yaml").train
    make_deterministic(params.seed)
    model = build_model(params)
    fit(model, real_train, 1, params.batch_size, params.seed)
    folder = tmp_path_factory.mktemp("model")
    save_model(model, folder / "model.keras")
    (folder / "model.tflite").write_bytes(export(model, real_test.images[:1000], profile))
    return model, folder / "model.tflite"
