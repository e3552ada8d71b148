"""The temperature: fitted on a twin's logits for held-out training images, the same every run,
and no trace of the twin in the shipped network's bytes."""

import dataclasses

import numpy as np
import pytest

from fmnist.core.dataset import Split
from fmnist.pipeline.calibration import cross_entropy
from fmnist.pipeline.params import load_params
from fmnist.pipeline.training.fit import fit, make_deterministic
from fmnist.pipeline.training.network import build_model, save_model
from fmnist.pipeline.training.temperature import held_out_split, twin_logits, twin_temperature

from ...conftest import ROOT


def split_of(count: int) -> Split:
    return Split(np.zeros((count, 28, 28), np.float32), np.arange(count) % 10)


@pytest.mark.parametrize(("count", "held"), [(60_000, 6_000), (7_000, 700), (10, 1)])
def test_the_held_out_images_are_the_last_ones(count, held):
    fitted_on, held_out = held_out_split(split_of(count))
    assert len(held_out.labels) == held and len(fitted_on.labels) == count - held
    assert np.array_equal(held_out.labels, np.arange(count - held, count) % 10)


def test_a_split_too_small_to_hold_any_out_is_refused():
    with pytest.raises(ValueError, match="9 training images leave none"):
        held_out_split(split_of(9))


@pytest.fixture(scope="module")
def params():
    return dataclasses.replace(load_params(ROOT / "params.yaml").train, epochs=2)


@pytest.fixture(scope="module")
def subset(real_train) -> Split:
    return Split(real_train.images[:6000], real_train.labels[:6000])


def shipped_bytes(params, split: Split, folder, name: str) -> bytes:
    """The network train ships, trained from a fresh session, as model.keras bytes."""
    make_deterministic(params.seed)
    model = build_model(params, len(split.labels))
    fit(model, split, params.epochs, params.batch_size, params.seed)
    save_model(model, folder / name)
    return (folder / name).read_bytes()


@pytest.mark.slow
def test_the_twin_is_deterministic_and_leaves_the_shipped_network_alone(params, subset, tmp_path):
    alone = shipped_bytes(params, subset, tmp_path, "alone.keras")
    first = twin_temperature(params, subset)
    assert twin_temperature(params, subset) == first  # two runs, the same temperature
    after_twin = shipped_bytes(params, subset, tmp_path, "after.keras")
    assert after_twin == alone
    assert first.held_out == 600 and 0.6 < first.twin_accuracy < 1.0
    assert 0.3 < first.value < 3.0 and first.value == round(first.value, 3)


@pytest.mark.slow
def test_the_fitted_temperature_lowers_the_held_out_cross_entropy(params, subset):
    fitted_on, held_out = held_out_split(subset)
    logits = twin_logits(params, fitted_on, held_out)
    value = twin_temperature(params, subset).value
    assert np.array_equal(logits, twin_logits(params, fitted_on, held_out))
    plain = cross_entropy(logits, held_out.labels)
    assert cross_entropy(logits, held_out.labels, value) < plain
