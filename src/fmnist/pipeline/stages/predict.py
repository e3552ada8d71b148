"""Stage predict: the tutorial's single-image checks, one test image at a time with a batch axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.core import paths
from fmnist.core.atomic import write_json
from fmnist.core.dataset import CLASS_NAMES, Split, load_split
from fmnist.inference.classifier import Classifier, load_classifier
from fmnist.pipeline.params import PredictParams, load_params
from fmnist.pipeline.stages.runner import stage_main


def check_sample(
    index: int, single: np.ndarray, batched: np.ndarray, label: int, tolerance: float
) -> dict:
    """One sample's record from its probabilities predicted alone and inside the batch."""
    predicted = int(single.argmax())
    difference = float(np.max(np.abs(single - batched)))
    return {
        "index": index,
        "true_label": label,
        "true_name": CLASS_NAMES[label],
        "predicted_label": predicted,
        "predicted_name": CLASS_NAMES[predicted],
        "confidence": float(single[predicted]),
        "correct": predicted == label,
        "batch_max_abs_diff": difference,
        "batch_consistent": predicted == int(batched.argmax()) and difference <= tolerance,
    }


def summarise(records: list[dict]) -> dict:
    """Counts over the checked samples."""
    return {
        "samples": len(records),
        "correct": sum(record["correct"] for record in records),
        "batch_consistent": sum(record["batch_consistent"] for record in records),
        "max_batch_abs_diff": max(record["batch_max_abs_diff"] for record in records),
    }


def predict_samples(classifier: Classifier, test: Split, params: PredictParams) -> list[dict]:
    """Predict each sample alone, as (1, 28, 28), and compare with the whole test set as a batch."""
    batched = classifier.probabilities(test.images)
    records = []
    for index in params.samples:
        image = test.images[index]  # (28, 28)
        single = classifier.probabilities(np.expand_dims(image, 0))[0]  # from (1, 28, 28)
        label = int(test.labels[index])
        records.append(check_sample(index, single, batched[index], label, params.tolerance))
    return records


def _run(root: Path) -> None:
    params = load_params(root / paths.PARAMS).predict
    test = load_split(root / paths.TEST_NPZ)
    records = predict_samples(load_classifier(root / paths.MODEL), test, params)
    write_json(root / paths.PREDICTIONS, records)
    summary = summarise(records)
    write_json(root / paths.PREDICT_METRICS, summary)
    for record in records:
        mark = "ok" if record["correct"] else "WRONG"
        print(
            f"predict: #{record['index']}: {record['predicted_name']} "
            f"({record['confidence']:.3f}), true {record['true_name']} [{mark}]"
        )
    print(
        f"predict: {summary['correct']}/{summary['samples']} correct, "
        f"{summary['batch_consistent']} consistent with batch prediction"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages predict [--root DIR]`."""
    return stage_main("predict", _run, argv)
