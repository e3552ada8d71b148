"""The LiteRT export against Keras' own logits, for every architecture build_model can make."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from fmnist.inference.classifier import (
    classifier_from_bytes,
    seal_digest,
    seal_position,
    softmax,
)
from fmnist.pipeline.params import TrainParams, load_params

from ...conftest import ROOT, TEMPERATURE

TOLERANCE = 1e-4


def base_params() -> TrainParams:
    return load_params(ROOT / "params.yaml").train


def cnn_params(blocks: int, kernel_size: int, batch_norm: bool, dropout: bool) -> TrainParams:
    params = base_params()
    cnn = dataclasses.replace(
        params.cnn,
        filters=(8, 12, 16)[:blocks],
        kernel_size=kernel_size,
        batch_norm=batch_norm,
        dropout=0.25 if dropout else 0.0,
        dense_units=32,
        dense_dropout=0.3 if dropout else 0.0,
    )
    return dataclasses.replace(params, model="cnn", cnn=cnn)


# Every combination the CNN's switches allow, kernel 3 and 5; the odd and even kernel sizes in
# between on one architecture (an even kernel pads "same" unevenly).
ARCHITECTURES = (
    {"dense": lambda: base_params()}
    | {
        f"cnn-{blocks}blocks-k{kernel}-{'bn' if bn else 'nobn'}-{'drop' if drop else 'nodrop'}": (
            lambda b=blocks, k=kernel, n=bn, d=drop: cnn_params(b, k, n, d)
        )
        for blocks, kernel, bn, drop in itertools.product(
            (1, 2, 3), (3, 5), (True, False), (True, False)
        )
    }
    | {
        f"cnn-2blocks-k{kernel}-bn-drop": (lambda k=kernel: cnn_params(2, k, True, True))
        for kernel in (1, 2, 4, 7)
    }
)


def built(params: TrainParams):
    """build_model's network, with batch-norm statistics moved far from their defaults."""
    from fmnist.pipeline.training.backend import keras
    from fmnist.pipeline.training.network import build_model

    model = build_model(params)
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [rng.uniform(0.5, 2, w.shape).astype(np.float32) for w in layer.get_weights()]
            )
    return model


# The dense network and one CNN in the quick tier; the other 27 architectures in the full suite.
QUICK = ("dense", "cnn-2blocks-k3-bn-drop")


@pytest.mark.parametrize(
    "name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in ARCHITECTURES]
)
def test_tflite_logits_match_keras(name, real_test):
    from fmnist.pipeline.training.export import convert, seal

    model = built(ARCHITECTURES[name]())
    images = real_test.images[:300]
    expected = np.asarray(model(images, training=False))
    assert np.ptp(expected, axis=0).max() > 0.01  # the logits vary with the image
    got = classifier_from_bytes(name, seal(convert(model))).logits(images)
    assert got.dtype == np.float32 and got.shape == (300, 10)
    assert np.abs(got - expected).max() <= TOLERANCE
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_architectures_cover_every_layer_kind_build_model_makes():
    kinds = {
        type(layer).__name__ for make in ARCHITECTURES.values() for layer in built(make()).layers
    }
    assert kinds == {
        "Flatten",
        "Dense",
        "Reshape",
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "MaxPooling2D",
        "Dropout",
    }


def test_trained_export_matches_keras_on_the_whole_test_set(trained, real_test):
    model, path = trained
    expected = np.asarray(model.predict(real_test.images, batch_size=1000, verbose=0))
    got = classifier_from_bytes(path, path.read_bytes()).logits(real_test.images)
    assert np.abs(got - expected).max() <= TOLERANCE
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_export_is_byte_reproducible_and_sealed(trained, real_train, real_test, profile):
    """The flag fitted again and the model exported again: the same bytes."""
    from fmnist.pipeline.ood.profile_format import from_bytes
    from fmnist.pipeline.training.flag_fit import export_with_flag

    model, path = trained
    again = export_with_flag(
        model, from_bytes(profile), real_train.images, real_test.images[:100], False, TEMPERATURE
    )
    assert again == path.read_bytes()
    position = seal_position(again)
    assert position is not None and again[position : position + 32] == seal_digest(again, position)
    # float32 weights, no quantization: the file holds every parameter at 4 bytes.
    assert len(again) > 4 * model.count_params()


def test_export_refuses_a_conversion_that_computes_something_else(real_test, monkeypatch):
    from fmnist.pipeline.training import export as export_module

    model, other = built(base_params()), built(base_params())  # two random initialisations
    convert = export_module.convert
    monkeypatch.setattr(export_module, "convert", lambda _, plain=None: convert(other))
    with pytest.raises(export_module.ExportError, match=r"differ from Keras' by \d"):
        export_module.export(model, real_test.images[:100])


def test_test_time_flip_ships_the_average_of_image_and_mirror(real_test):
    """train.test_time_flip: the .tflite itself averages the logits of each image and its
    mirror, so every caller of the file (evaluate, predict, fmnist predict) gets the same."""
    from fmnist.pipeline.training.export import export, shipped_model

    model = built(cnn_params(2, 3, True, True))
    images = real_test.images[:300]
    mirrors = images[:, :, ::-1]
    sealed = export(shipped_model(model, None, True, 1.0), images)
    got = classifier_from_bytes("averaged", sealed).logits(images)
    expected = (np.asarray(model(images)) + np.asarray(model(mirrors))) / 2
    assert np.abs(got - expected).max() <= TOLERANCE
    # Mirror-invariant by construction; the plain network is not.
    assert np.abs(classifier_from_bytes("m", sealed).logits(mirrors) - got).max() <= TOLERANCE
    assert np.abs(np.asarray(model(images)) - np.asarray(model(mirrors))).max() > 100 * TOLERANCE
    assert export(shipped_model(model, None, True, 1.0), images) == sealed  # byte-reproducible


def test_an_export_with_the_flag_also_has_the_logits_alone_on_the_same_weights(trained, real_test):
    """Two signatures: every output, and the logits alone (cheaper) from the same weights."""
    from ai_edge_litert.interpreter import Interpreter

    model, path = trained
    interpreter = Interpreter(model_path=str(path))
    assert sorted(interpreter.get_signature_list()) == ["logits", "serving_default"]
    images = real_test.images[:200]
    alone = interpreter.get_signature_runner("logits")(images=images)
    everything = interpreter.get_signature_runner("serving_default")(images=images)
    assert sorted(alone) == ["logits", "probabilities"]
    for name in alone:
        assert np.array_equal(alone[name], everything[name])
    expected = np.asarray(model.predict(images, verbose=0))
    assert np.abs(alone["logits"] - expected).max() <= TOLERANCE
    # The weights once: the file is not two models.
    assert path.stat().st_size < 4 * model.count_params() + 2048 * 128 * 4 + 900_000


def test_the_probabilities_are_the_softmax_of_the_logits_over_the_temperature(trained, real_test):
    """In the graph, in both signatures: softmax(logits / T); a positive T never changes the
    class, on clothing, noise, blank frames and inverted clothing alike."""
    _, path = trained
    classifier = classifier_from_bytes(path, path.read_bytes())
    rng = np.random.default_rng(0)
    images = np.concatenate(
        [
            real_test.images[:3000],
            1 - real_test.images[3000:3500],
            rng.random((300, 28, 28), np.float32),
            np.repeat(np.linspace(0, 1, 11, dtype=np.float32), 784).reshape(11, 28, 28),
        ]
    )
    for flag in (True, False):
        outputs = classifier.run(images, flag)
        expected = softmax(outputs["logits"] / TEMPERATURE)
        assert np.abs(outputs["probabilities"] - expected).max() <= 1e-6
        assert np.array_equal(outputs["probabilities"].argmax(1), outputs["logits"].argmax(1))
    # Not the plain softmax: the temperature is there.
    assert np.abs(outputs["probabilities"] - softmax(outputs["logits"])).max() > 0.01
