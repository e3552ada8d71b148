"""The pure parts of evaluate and predict, on crafted logits."""

import numpy as np
import pytest

from fmnist.core.dataset import CLASS_NAMES
from fmnist.pipeline.figures import most_confident_mistakes
from fmnist.pipeline.stages.evaluate import (
    class_report,
    confusion_records,
    loss_and_accuracy,
    per_class_records,
)
from fmnist.pipeline.stages.predict import check_sample, summarise


def test_loss_and_accuracy_match_hand_computation():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]], dtype=np.float32)
    labels = np.array([0, 2])
    loss, accuracy = loss_and_accuracy(logits, labels)
    expected = -(np.log(np.exp(2) / (np.exp(2) + 2)) + np.log(1 / (np.exp(3) + 2))) / 2
    assert loss == pytest.approx(expected)
    assert accuracy == 0.5


def test_class_report_is_keyed_by_class_name():
    labels = np.arange(10).repeat(3)
    predicted = labels.copy()
    predicted[:3] = 6  # all three T-shirts called shirts
    report = class_report(labels, predicted)
    assert list(report)[:10] == list(CLASS_NAMES)
    assert set(report) == {*CLASS_NAMES, "macro avg", "weighted avg"}
    assert report["T-shirt/top"]["recall"] == 0.0
    assert report["Shirt"]["precision"] == 0.5
    assert report["Trouser"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 3.0}


def test_check_sample_records_prediction_and_batch_consistency():
    single = np.full(10, 0.01)
    single[9] = 0.91
    record = check_sample(0, single, single + 1e-7, label=9, tolerance=1e-5)
    assert record["predicted_name"] == "Ankle boot" and record["correct"]
    assert record["confidence"] == pytest.approx(0.91)
    assert record["batch_consistent"]
    drifted = check_sample(0, single, single + 1e-3, label=5, tolerance=1e-5)
    assert not drifted["correct"] and not drifted["batch_consistent"]
    summary = summarise([record, drifted])
    assert summary == {
        "samples": 2,
        "correct": 1,
        "batch_consistent": 1,
        "max_batch_abs_diff": pytest.approx(1e-3),
    }


def test_confusion_and_per_class_records():
    labels, predicted = np.array([9, 0, 6]), np.array([9, 6, 6])
    assert confusion_records(labels, predicted) == [
        {"actual": "Ankle boot", "predicted": "Ankle boot"},
        {"actual": "T-shirt/top", "predicted": "Shirt"},
        {"actual": "Shirt", "predicted": "Shirt"},
    ]
    rows = per_class_records(class_report(labels, predicted))
    assert [row["class"] for row in rows] == list(CLASS_NAMES)
    assert rows[6] == {
        "class": "Shirt",
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
    }


def test_most_confident_mistakes_orders_by_confidence_then_index():
    labels = np.array([0, 1, 2, 3, 4])
    predicted = np.array([1, 1, 0, 0, 0])  # indices 0, 2, 3, 4 are wrong
    confidence = np.array([0.6, 0.99, 0.9, 0.6, 0.95])
    assert most_confident_mistakes(predicted, labels, confidence).tolist() == [4, 2, 0, 3]
