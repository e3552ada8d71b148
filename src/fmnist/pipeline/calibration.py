"""How far the model's confidence can be believed: the reliability diagram's bins, the expected
calibration error, and the mean confidence of right and wrong answers. Pure functions.

Confidence is the top class's softmax probability. Bins are equal-width over [0, 1], 15 of them
as in Guo et al. (2017), "On Calibration of Modern Neural Networks", whose ECE this is: the
share of images in each bin times the gap between its accuracy and its mean confidence.

The temperature T that the shipped probabilities use, softmax(logits / T), is the one of Guo et
al. too: the T that minimises the cross-entropy of images the network did not train on.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

BINS = 15
# Temperatures are searched between e^-3 and e^3 (0.05 to 20: measured 0.66 to 1.27) and kept to
# three decimals, so that a last-bit difference in the logits between CPUs cannot change the
# shipped graph's constant, and with it model.tflite's bytes.
LOG_TEMPERATURE_RANGE = (-3.0, 3.0)
TEMPERATURE_DECIMALS = 3


def cross_entropy(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """The mean cross-entropy of softmax(logits / temperature) against the labels, in float64."""
    scaled = logits.astype(np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(scaled).sum(axis=1))
    return float(np.mean(log_total - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the cross-entropy of `logits` (held out of training)."""
    if not len(labels):
        raise ValueError("a temperature needs at least one held-out image")
    found = minimize_scalar(
        lambda log_t: cross_entropy(logits, labels, float(np.exp(log_t))),
        bounds=LOG_TEMPERATURE_RANGE,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return round(float(np.exp(found.x)), TEMPERATURE_DECIMALS)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> list[dict]:
    """One row per bin, (lower, upper] (the first includes 0): its images, mean confidence and
    accuracy (None for an empty bin)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = []
    for number in range(bins):
        members = index == number
        count = int(members.sum())
        rows.append(
            {
                "bin": number,
                "lower": float(edges[number]),
                "upper": float(edges[number + 1]),
                "count": count,
                "confidence": float(confidence[members].mean()) if count else None,
                "accuracy": float(correct[members].mean()) if count else None,
            }
        )
    return rows


def expected_calibration_error(rows: list[dict]) -> float:
    """The sum over bins of (images in bin / all images) * |accuracy - mean confidence|."""
    total = sum(row["count"] for row in rows)
    gaps = [row["count"] * abs(row["accuracy"] - row["confidence"]) for row in rows if row["count"]]
    return float(sum(gaps) / total) if total else 0.0


def calibration(probabilities: np.ndarray, labels: np.ndarray) -> tuple[dict, list[dict]]:
    """The metrics (ECE over 15 bins, mean confidence of right and wrong answers) and the
    reliability rows, from test-set probabilities and labels."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    rows = reliability(confidence, correct)
    metrics = {
        "ece": expected_calibration_error(rows),
        "confidence_right": float(confidence[correct].mean()) if correct.any() else 0.0,
        "confidence_wrong": float(confidence[~correct].mean()) if (~correct).any() else 0.0,
    }
    return metrics, rows


def implied_temperature(logits: np.ndarray, probabilities: np.ndarray) -> float:
    """The T with probabilities = softmax(logits / T), read back from a model's own outputs: per
    image, the gap between its top two logits over the gap between their log-probabilities
    (images whose top two are near-equal, or whose second is below float32's normal range, left
    out), the median, to the fitted temperature's decimals. 1.0 if no image tells."""
    order = np.argsort(-logits, axis=1)[:, :2]
    rows = np.arange(len(logits))[:, None]
    top = logits.astype(np.float64)[rows, order]
    chances = probabilities.astype(np.float64)[rows, order]
    usable = (top[:, 0] - top[:, 1] > 0.1) & (chances[:, 1] > 1e-30)
    if not usable.any():
        return 1.0
    gaps = top[usable, 0] - top[usable, 1]
    ratios = gaps / (np.log(chances[usable, 0]) - np.log(chances[usable, 1]))
    return round(float(np.median(ratios)), TEMPERATURE_DECIMALS)
