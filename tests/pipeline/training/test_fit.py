"""Training: the tutorial's batches and updates, and bit-identical weights for the same seed."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from fmnist.core.dataset import Split
from fmnist.pipeline.params import load_params
from fmnist.pipeline.training.backend import ISA_FLAG, YNN_FLAG
from fmnist.pipeline.training.fit import fit, make_deterministic
from fmnist.pipeline.training.network import build_model, train_network

from ...conftest import ROOT

# Real training, seconds per test: the full suite only (make test).
pytestmark = pytest.mark.slow


def train_once(split: Split, seed: int, epochs: int = 1, batch_size: int = 32):
    params = dataclasses.replace(load_params(ROOT / "params.yaml").train, seed=seed)
    make_deterministic(seed)
    model = build_model(params)
    history = fit(model, split, epochs, batch_size, seed)
    return model, history


@pytest.fixture(scope="module")
def subset(real_train) -> Split:
    return Split(real_train.images[:6000], real_train.labels[:6000])


def test_same_seed_gives_identical_weights(subset):
    first, first_history = train_once(subset, seed=7)
    second, second_history = train_once(subset, seed=7)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first_history == second_history


def test_other_seed_gives_other_weights(subset):
    first, _ = train_once(subset, seed=7)
    other, _ = train_once(subset, seed=8)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_learns_and_reports_per_epoch_history(subset):
    model, history = train_once(subset, seed=7, epochs=2)
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    assert history[1]["accuracy"] > 0.75  # far above the 0.10 of guessing, even on 6,000 images
    assert int(model.optimizer.iterations) == 2 * 188  # 187 full batches and one of 16


def test_monitoring_a_held_out_split_changes_no_weight(subset, real_test):
    plain, plain_history = train_once(subset, seed=7)
    params = dataclasses.replace(load_params(ROOT / "params.yaml").train, seed=7)
    make_deterministic(7)
    monitored = build_model(params)
    seen = []
    history = fit(monitored, subset, 1, 32, 7, held_out=real_test, on_epoch=seen.append)
    for a, b in zip(plain.get_weights(), monitored.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert seen == history
    assert {k: history[0][k] for k in plain_history[0]} == plain_history[0]
    assert 0.7 < history[0]["held_out_accuracy"] < 0.9
    assert history[0]["held_out_loss"] > 0


def test_keeps_the_last_partial_batch(subset):
    small = Split(subset.images[:100], subset.labels[:100])
    model, history = train_once(small, seed=7, batch_size=32)
    assert int(model.optimizer.iterations) == 4  # 3 batches of 32 and one of 4, as Keras fit
    assert history[0]["accuracy"] * 100 == pytest.approx(round(history[0]["accuracy"] * 100))


def small_cnn(seed: int, batch_norm: bool):
    """The CNN of params.yaml at a size a test can afford, with a cosine schedule."""
    params = load_params(ROOT / "params.yaml").train
    cnn = dataclasses.replace(params.cnn, filters=(4, 8), dense_units=16, batch_norm=batch_norm)
    return dataclasses.replace(
        params,
        model="cnn",
        seed=seed,
        cnn=cnn,
        epochs=2,
        batch_size=64,
        lr_schedule="cosine",
        learning_rate=0.002,
    )


@pytest.mark.parametrize("batch_norm", [False, True])
def test_cnn_is_deterministic_and_learns(subset, batch_norm):
    """Dropout, batch-norm statistics and the schedule included: same seed, same weights."""
    runs = []
    for _ in range(2):
        model, history = train_network(small_cnn(seed=5, batch_norm=batch_norm), subset)
        runs.append((model.get_weights(), history))
    (first, first_history), (second, second_history) = runs
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first_history == second_history
    assert first_history[-1]["accuracy"] > 0.4  # chance is 0.1
    # The schedule really decays: after all its steps the rate is 0.
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, f"{YNN_FLAG}=-individual_dot {ISA_FLAG}=AVX2"),
        # A user's own choice is kept as it is, flag by flag, with their other flags.
        (
            f"--xla_cpu_use_xnnpack=false {YNN_FLAG}=",
            f"--xla_cpu_use_xnnpack=false {YNN_FLAG}= {ISA_FLAG}=AVX2",
        ),
        (f"{ISA_FLAG}=AVX512", f"{ISA_FLAG}=AVX512 {YNN_FLAG}=-individual_dot"),
    ],
)
def test_importing_fit_sets_its_xla_flags_unless_the_user_chose(given, expected):
    env = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}
    if given is not None:
        env["XLA_FLAGS"] = given
    code = "import os, fmnist.pipeline.training.fit; print(os.environ['XLA_FLAGS'])"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == expected


def test_importing_fit_skips_sklearn_and_leaves_it_importable():
    code = (
        "import sys, fmnist.pipeline.training.fit\n"
        "assert 'sklearn' not in sys.modules, 'Keras loaded scikit-learn'\n"
        "import sklearn.metrics\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def recipe_cnn(seed: int, flip: bool, label_smoothing: float):
    """The small CNN with the tuned recipe's switches: flips, smoothing, a warm-up."""
    return dataclasses.replace(
        small_cnn(seed, batch_norm=False),
        flip=flip,
        label_smoothing=label_smoothing,
        warmup_epochs=1,
    )


def train_recipe(split: Split, params):
    return train_network(params, split)


def test_flips_and_smoothing_are_deterministic_and_change_the_weights(subset):
    small = Split(subset.images[:2000], subset.labels[:2000])
    plain, _ = train_recipe(small, recipe_cnn(5, flip=False, label_smoothing=0.0))
    flipped, history = train_recipe(small, recipe_cnn(5, flip=True, label_smoothing=0.1))
    again, again_history = train_recipe(small, recipe_cnn(5, flip=True, label_smoothing=0.1))
    for a, b in zip(flipped.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history == again_history
    assert not np.array_equal(plain.get_weights()[0], flipped.get_weights()[0])
    assert history[-1]["accuracy"] > 0.2  # chance is 0.1


def test_flips_mirror_a_seeded_half_and_leave_the_shuffle_alone():
    from fmnist.pipeline.training.fit import _flips

    first, second = list(_flips(3, 10_000, 2))
    assert set(np.unique(first)) == {0, 1}
    assert 0.48 < np.mean(first) < 0.52  # about half, a new half each epoch
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, next(_flips(3, 10_000, 1)))


def test_flipped_images_are_mirror_images(subset):
    """What the graph trains on where flips says 1 is the image mirrored left to right."""
    from fmnist.pipeline.training.backend import tf
    from fmnist.pipeline.training.fit import mirrored

    images = subset.images[:6]
    flips = np.array([0, 1, 1, 0, 1, 0], np.int32)
    out = mirrored(tf.constant(images), tf.constant(flips)).numpy()
    for i, flip in enumerate(flips):
        np.testing.assert_array_equal(out[i], images[i][:, ::-1] if flip else images[i])


def test_label_smoothing_is_cross_entropy_against_smoothed_targets():
    from fmnist.pipeline.training.backend import tf
    from fmnist.pipeline.training.fit import training_loss

    params = recipe_cnn(5, flip=False, label_smoothing=0.2)
    model = build_model(params, 100)
    logits = tf.constant(np.random.default_rng(0).normal(size=(4, 10)), tf.float32)
    labels = tf.constant([0, 3, 9, 3], tf.int32)
    targets = np.full((4, 10), 0.02) + 0.8 * np.eye(10)[[0, 3, 9, 3]]
    log_softmax = logits.numpy() - np.log(np.exp(logits.numpy()).sum(axis=1, keepdims=True))
    expected = -np.mean(np.sum(targets * log_softmax, axis=1))
    assert float(training_loss(model, 0.2)(labels, logits)) == pytest.approx(expected, rel=1e-5)
    assert training_loss(model, 0.0) is model.loss


def test_shifts_are_deterministic_and_change_the_weights(subset):
    small = Split(subset.images[:2000], subset.labels[:2000])
    recipe = recipe_cnn(5, flip=True, label_smoothing=0.1)
    plain, _ = train_recipe(small, recipe)
    moved, history = train_recipe(small, dataclasses.replace(recipe, shift=2))
    again, again_history = train_recipe(small, dataclasses.replace(recipe, shift=2))
    for a, b in zip(moved.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history == again_history
    assert not np.array_equal(plain.get_weights()[0], moved.get_weights()[0])
    assert history[-1]["accuracy"] > 0.2  # chance is 0.1
