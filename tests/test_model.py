"""The tutorial's network: shape, parameter count, reproducible saving, safe loading."""

import zipfile

import numpy as np
import pytest

from fmnist.model import ModelError, build_model, load_model, predict_logits, save_model, softmax
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


def test_predict_logits_shape_and_batching(model):
    images = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    whole = predict_logits(model, images, 7)
    assert whole.shape == (7, 10)
    np.testing.assert_allclose(predict_logits(model, images, 3), whole, atol=1e-6)
    probabilities = softmax(whole)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_saved_model_is_byte_reproducible_and_loads(model, tmp_path):
    first, second = tmp_path / "a.keras", tmp_path / "b.keras"
    save_model(model, first)
    save_model(model, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert b"date_saved" not in archive.read("metadata.json")
    loaded = load_model(first)
    images = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(
        predict_logits(loaded, images, 4), predict_logits(model, images, 4)
    )


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "empty"])
def test_load_model_rejects_bad_files(model, tmp_path, damage):
    path = tmp_path / "model.keras"
    save_model(model, path)
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"this is not a keras archive")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "empty":
        path.write_bytes(b"")
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
