"""The tutorial's network: shape, parameter count, reproducible saving."""

import dataclasses
import zipfile

import numpy as np
import pytest

from fmnist.backend import keras
from fmnist.model import build_model, save_model
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
    loaded = keras.saving.load_model(first, compile=False)
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(model(images)))


def test_cnn_architecture_follows_params():
    params = load_params(ROOT / "params.yaml").train
    cnn = dataclasses.replace(params.cnn, filters=(8, 16, 32), kernel_size=5, batch_norm=True)
    model = build_model(dataclasses.replace(params, model="cnn", cnn=cnn))
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds[0] == "Reshape" and kinds.count("Conv2D") == 3
    assert kinds.count("BatchNormalization") == 3 and kinds.count("MaxPooling2D") == 3
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [8, 16, 32] and convs[0].kernel_size == (5, 5)
    assert not convs[0].use_bias  # batch norm makes the conv's bias redundant
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    assert model.layers[-1].activation.__name__ == "linear"


def test_tuned_cnn_parameter_count():
    params = load_params(ROOT / "params.yaml").train
    model = build_model(dataclasses.replace(params, model="cnn"))
    # conv 3x3x1x32+32, conv 3x3x32x64+64, dense 3136x128+128, dense 128x10+10
    assert model.count_params() == 320 + 18_496 + 401_536 + 1_290


def test_the_deepest_cnn_the_loader_allows_builds():
    params = load_params(ROOT / "params.yaml").train
    cnn = dataclasses.replace(params.cnn, filters=(4, 4, 4, 4), dense_units=8)
    model = build_model(dataclasses.replace(params, model="cnn", cnn=cnn))
    assert model.output_shape == (None, 10)  # four blocks pool 28 down to 1, not 0
