"""Calibration measures on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.pipeline.calibration import (
    calibration,
    cross_entropy,
    expected_calibration_error,
    fit_temperature,
    implied_temperature,
    reliability,
)


def test_bins_are_lower_exclusive_upper_inclusive_and_cover_zero():
    confidence = np.array([0.0, 1 / 15, 1 / 15 + 1e-9, 1.0])
    rows = reliability(confidence, np.array([True, True, False, True]))
    assert len(rows) == 15
    assert [row["count"] for row in rows if row["count"]] == [2, 1, 1]
    assert rows[0]["count"] == 2 and rows[1]["count"] == 1 and rows[14]["count"] == 1
    assert rows[3]["confidence"] is None and rows[3]["accuracy"] is None


def test_ece_weights_each_bin_by_its_images():
    # 3 images at 0.9, two right (accuracy 2/3); 1 image at 0.5, wrong (accuracy 0).
    confidence = np.array([0.9, 0.9, 0.9, 0.5])
    correct = np.array([True, True, False, False])
    expected = 3 / 4 * abs(2 / 3 - 0.9) + 1 / 4 * abs(0 - 0.5)
    assert expected_calibration_error(reliability(confidence, correct)) == pytest.approx(expected)


def test_confident_and_always_right_or_always_wrong():
    probabilities = np.tile(np.eye(10)[3], (20, 1))
    right, _ = calibration(probabilities, np.full(20, 3))
    wrong, _ = calibration(probabilities, np.full(20, 4))
    assert right == {"ece": 0.0, "confidence_right": 1.0, "confidence_wrong": 0.0}
    assert wrong == {"ece": 1.0, "confidence_right": 0.0, "confidence_wrong": 1.0}


def test_a_calibrated_model_has_a_small_ece():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, 200_000)
    correct = rng.uniform(size=confidence.size) < confidence  # right as often as it says
    assert expected_calibration_error(reliability(confidence, correct)) < 0.01


def labelled_at(temperature: float, images: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and labels drawn from softmax(logits / temperature): that temperature is the
    one the data calibrate to."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (images, 10))
    scaled = np.exp(logits / temperature)
    cumulative = np.cumsum(scaled / scaled.sum(axis=1, keepdims=True), axis=1)
    labels = (rng.random((images, 1)) > cumulative).sum(axis=1).clip(0, 9)
    return logits, labels


@pytest.mark.parametrize("temperature", [0.6, 1.0, 1.3, 4.0])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_at(temperature):
    logits, labels = labelled_at(temperature)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(temperature, rel=0.03)
    assert fitted == round(fitted, 3)  # three decimals: a constant stable across CPUs
    # The cross-entropy is lowest there: a step either side costs.
    for other in (fitted * 0.9, fitted * 1.1):
        assert cross_entropy(logits, labels, other) > cross_entropy(logits, labels, fitted)


def test_a_temperature_scales_with_the_logits():
    logits, labels = labelled_at(1.3)
    assert fit_temperature(2 * logits, labels) == pytest.approx(
        2 * fit_temperature(logits, labels), abs=0.002
    )


def test_no_images_no_temperature():
    with pytest.raises(ValueError, match="at least one held-out image"):
        fit_temperature(np.zeros((0, 10)), np.zeros(0, int))


@pytest.mark.parametrize("temperature", [0.635, 1.0, 1.272, 3.5])
def test_the_temperature_is_read_back_from_float32_outputs(temperature):
    logits = np.random.default_rng(2).normal(0, 4, (2000, 10)).astype(np.float32)
    scaled = np.exp((logits / np.float32(temperature)).astype(np.float64))
    probabilities = (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)
    assert implied_temperature(logits, probabilities) == temperature


def test_no_usable_image_reads_as_no_temperature():
    logits = np.zeros((3, 10), np.float32)  # every class tied
    assert implied_temperature(logits, np.full((3, 10), 0.1, np.float32)) == 1.0
