"""How far the model's confidence can be believed: the reliability diagram's bins, the expected
calibration error, and the mean confidence of right and wrong answers. Pure functions.

Confidence is the top class's softmax probability. Bins are equal-width over [0, 1], 15 of them
as in Guo et al. (2017), "On Calibration of Modern Neural Networks", whose ECE this is: the
share of images in each bin times the gap between its accuracy and its mean confidence.
"""

from __future__ import annotations

import numpy as np

BINS = 15


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
