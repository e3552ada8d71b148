"""The NumPy forward pass against Keras' own, and its refusal of files that are not ours."""

import keras
import numpy as np
import pytest

from fmnist.model import save_model
from fmnist.network import ModelError, load_network, softmax

from .conftest import foreign_model, rewrite_member


def keras_logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model(images, training=False))


def every_layer_model() -> keras.Model:
    """Each layer kind the NumPy pass knows, with batch-norm statistics far from their defaults."""
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.RandomTranslation(0.1, 0.1, seed=1),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(5, (3, 2), use_bias=False),
            keras.layers.BatchNormalization(scale=False),
            keras.layers.Activation("relu"),
            keras.layers.Conv2D(4, 4, padding="same"),
            keras.layers.MaxPooling2D(3),
            keras.layers.Dropout(0.5),
            keras.layers.Flatten(),
            keras.layers.Dense(7, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [rng.uniform(0.5, 2, w.shape).astype(np.float32) for w in layer.get_weights()]
            )
    return model


def test_dense_logits_match_keras_on_real_images(trained, real_test):
    model, path = trained
    ours = load_network(path).logits(real_test.images, 4096)
    np.testing.assert_allclose(ours, keras_logits(model, real_test.images), rtol=0, atol=2e-5)
    assert (ours.argmax(1) == keras_logits(model, real_test.images).argmax(1)).mean() > 0.9999


def test_every_layer_kind_matches_keras(real_test, tmp_path):
    model = every_layer_model()
    path = tmp_path / "cnn.keras"
    save_model(model, path)
    images = real_test.images[:300]
    expected = keras_logits(model, images)
    assert np.abs(expected).max() > 0.1  # not a trivially constant network
    np.testing.assert_allclose(load_network(path).logits(images, 128), expected, atol=2e-5)


def test_logits_do_not_depend_on_batching(trained, real_test):
    network = load_network(trained[1])
    whole = network.logits(real_test.images[:50], 50)
    np.testing.assert_allclose(network.logits(real_test.images[:50], 7), whole, atol=2e-5)
    assert network.logits(real_test.images[:0], 7).shape == (0, 10)
    np.testing.assert_allclose(softmax(whole).sum(axis=1), 1.0)


BAD = {
    "missing": (lambda good, p: p.unlink(), "missing"),
    "empty": (lambda good, p: p.write_bytes(b""), "not a loadable Keras model"),
    "garbage": (lambda good, p: p.write_bytes(b"not a keras archive"), "not a loadable Keras"),
    "truncated": (lambda good, p: p.write_bytes(good.read_bytes()[:5000]), "not a loadable"),
    "no-weights": (
        lambda good, p: rewrite_member(good, p, "model.weights.h5", lambda d: d[: len(d) // 3]),
        "damaged, or not ours (",
    ),
    "bad-config": (
        lambda good, p: rewrite_member(good, p, "config.json", lambda d: b"{"),
        "loadable",
    ),
    "other-input": (
        lambda good, p: foreign_model(p, [keras.Input((5,)), keras.layers.Dense(10)]),
        "not ours (input other than (28, 28))",
    ),
    "other-output": (
        lambda good, p: foreign_model(
            p, [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(3)]
        ),
        "not ours (output other than 10 logits)",
    ),
    "unknown-layer": (
        lambda good, p: foreign_model(
            p, [keras.Input((28, 28)), keras.layers.LayerNormalization(), keras.layers.Flatten()]
        ),
        "not ours (layer LayerNormalization)",
    ),
    "unknown-activation": (
        lambda good, p: foreign_model(
            p, [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, "tanh")]
        ),
        "not ours (activation 'tanh')",
    ),
}


@pytest.mark.parametrize("damage", list(BAD))
def test_bad_model_files_get_one_line_naming_them(trained, tmp_path, damage):
    make, message = BAD[damage]
    path = tmp_path / "model.keras"
    path.write_bytes(trained[1].read_bytes())
    make(trained[1], path)
    with pytest.raises(ModelError) as caught:
        load_network(path)
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert "\n" not in str(caught.value)
