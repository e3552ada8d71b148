"""The tutorial's network: shape, parameter count, reproducible saving."""

import zipfile

import numpy as np
import pytest

from fmnist.model import build_model, save_model
from fmnist.network import load_network
from fmnist.params import load_params

from .conftest import ROOT


@pytest.fixture(scope="module")
def model():
    return build_model(load_params(ROOT / "params.yaml").train)


def test_tutorial_architecture(model):
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert [layer.__class__.__name__ for layer in model.layers] == ["Flatten", "Dense", "Dense"]
    assert model.layers[1].units == 128 and model.layers[1].activation.__name__ == "relu"
    assert model.layers[2].activation.__name__ == "linear"  # logits
    assert model.count_params() == 101_770
    assert model.loss.get_config()["from_logits"] is True


def test_saved_model_is_byte_reproducible_and_loads(model, tmp_path):
    first, second = tmp_path / "a.keras", tmp_path / "b.keras"
    save_model(model, first)
    save_model(model, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert b"date_saved" not in archive.read("metadata.json")
    images = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(
        load_network(first).logits(images, 4), np.asarray(model(images)), atol=1e-5
    )
