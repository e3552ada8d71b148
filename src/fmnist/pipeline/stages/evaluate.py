"""Stage evaluate: accuracy, the train/test gap, calibration and a per-class report; plot data
and pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from fmnist.core import paths
from fmnist.core.atomic import write_json
from fmnist.core.dataset import CLASS_NAMES, Split, load_images, load_split
from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import (
    LOGITS,
    Classifier,
    load_classifier,
    probabilities_of,
    softmax,
)
from fmnist.pipeline import figures
from fmnist.pipeline.calibration import calibration, implied_temperature
from fmnist.pipeline.ood.measure import ood_metrics, scores_in, worst_auroc
from fmnist.pipeline.ood.sets import CLOTHING_FILES_KEY, SETS
from fmnist.pipeline.stages.runner import stage_main


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean sparse categorical cross-entropy from logits, and accuracy."""
    probabilities = softmax(logits)
    true_class = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.maximum(true_class, np.finfo(np.float64).tiny))))
    return loss, float(np.mean(logits.argmax(axis=1) == labels))


def class_report(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """scikit-learn's report keyed by class name, plus macro and weighted averages."""
    report = classification_report(
        labels,
        predicted,
        labels=list(range(len(CLASS_NAMES))),
        target_names=list(CLASS_NAMES),
        output_dict=True,
        zero_division=0,
    )
    report.pop("accuracy", None)  # the same number as test_accuracy
    return {name: {key: float(value) for key, value in row.items()} for name, row in report.items()}


def confusion_records(labels: np.ndarray, predicted: np.ndarray) -> list[dict]:
    """One {actual, predicted} row per test image, as DVC's confusion template reads them."""
    return [
        {"actual": CLASS_NAMES[label], "predicted": CLASS_NAMES[guess]}
        for label, guess in zip(labels.tolist(), predicted.tolist(), strict=True)
    ]


def per_class_records(report: dict) -> list[dict]:
    """Precision, recall and F1 per class, one row each, for a bar plot."""
    return [
        {
            "class": name,
            "precision": report[name]["precision"],
            "recall": report[name]["recall"],
            "f1": report[name]["f1-score"],
        }
        for name in CLASS_NAMES
    ]


def write_figures(test: Split, probabilities: np.ndarray, folder: Path, panels: list) -> None:
    """The PNG pictures: sample images, the most confident mistakes, the confusion heatmap,
    the reliability diagrams (`panels`, as figures.reliability_diagram takes them)."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    matrix = confusion_matrix(test.labels, predicted, labels=list(range(len(CLASS_NAMES))))
    figures.save_png(figures.sample_grid(test.images, test.labels), folder / "samples.png")
    mistakes = figures.mistakes_grid(test.images, test.labels, predicted, confidence)
    figures.save_png(mistakes, folder / "mistakes.png")
    figures.save_png(figures.confusion_heatmap(matrix), folder / "confusion.png")
    figures.save_png(figures.reliability_diagram(panels), folder / "reliability.png")


def calibration_metrics(
    probabilities: np.ndarray, test_logits: np.ndarray, labels: np.ndarray
) -> tuple[dict, list[dict], list[dict]]:
    """How far the shipped probabilities' confidence can be believed (ECE over 15 bins, the
    mean confidence of right and wrong answers), beside the ECE of the logits' plain softmax,
    before the temperature, and the temperature the file applies; and both reliability tables,
    shipped first."""
    shipped, rows = calibration(probabilities, labels)
    before, rows_before = calibration(softmax(test_logits), labels)
    extra = {
        "ece_before_temperature": before["ece"],
        "temperature": implied_temperature(test_logits, probabilities),
    }
    return shipped | extra, rows, rows_before


def evaluate(test: Split, test_logits: np.ndarray, train: Split, train_logits: np.ndarray) -> dict:
    """The metrics of a model from its logits on both splits."""
    test_loss, test_accuracy = loss_and_accuracy(test_logits, test.labels)
    train_loss, train_accuracy = loss_and_accuracy(train_logits, train.labels)
    return {
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        # The tutorial's overfitting signal: how much better the model does on what it saw.
        "accuracy_gap": train_accuracy - test_accuracy,
        paths.PER_CLASS_KEY: class_report(test.labels, test_logits.argmax(axis=1)),
    }


def _ood(root: Path, classifier: Classifier, test_outputs: dict) -> dict:
    """The flag's figures on every set, against the test images' own scores as arrays (among
    `test_outputs`, the model's every output on them) and as files, or a one-line refusal for a
    model without the flag."""
    if not classifier.has_flag:
        raise FmnistError(f"{root / paths.MODEL}: exported without the flag; rerun train")
    names = [CLOTHING_FILES_KEY, *(ood_set.name for ood_set in SETS)]
    arrays = load_images(root / paths.OOD_SETS, names, mapped=True)

    def score(images: np.ndarray, kind: str) -> np.ndarray:
        return classifier.assess(images, kind).score

    reference = {
        "tensor": scores_in(test_outputs, "tensor"),
        "file": score(arrays.pop(CLOTHING_FILES_KEY), "file"),
    }
    return ood_metrics(score, reference, arrays)


def _run(root: Path) -> None:
    # Mapped: read straight from the files' pages, no copy (this stage only reads them).
    test = load_split(root / paths.TEST_NPZ, mapped=True)
    train = load_split(root / paths.TRAIN_NPZ, mapped=True)
    classifier = load_classifier(root / paths.MODEL)
    test_outputs = classifier.run(test.images)  # the flag's outputs too, for _ood
    test_logits = test_outputs[LOGITS]
    probabilities = probabilities_of(test_outputs).astype(np.float64)  # measured in float64
    train_logits = classifier.logits(train.images)
    metrics = evaluate(test, test_logits, train, train_logits)
    # The top class's probability against how often it is right (an overfitted network is
    # over-confident, a label-smoothed one under-confident), with the temperature and without.
    metrics["calibration"], rows, rows_before = calibration_metrics(
        probabilities, test_logits, test.labels
    )
    metrics[paths.OOD_KEY] = _ood(root, classifier, test_outputs)
    write_json(root / paths.CONFUSION, confusion_records(test.labels, test_logits.argmax(axis=1)))
    write_json(root / paths.PER_CLASS, per_class_records(metrics[paths.PER_CLASS_KEY]))
    write_json(root / paths.RELIABILITY, [row for row in rows if row["count"]])
    write_json(root / paths.RELIABILITY_UNCALIBRATED, [row for row in rows_before if row["count"]])
    ece, ece_before = (
        metrics["calibration"]["ece"],
        metrics["calibration"]["ece_before_temperature"],
    )
    panels = [("before the temperature", rows_before, ece_before), ("shipped", rows, ece)]
    write_figures(test, probabilities, root / paths.FIGURES_DIR, panels)
    write_json(root / paths.EVALUATE_METRICS, metrics)
    print(
        f"evaluate: test accuracy {metrics['test_accuracy']:.4f}, "
        f"train {metrics['train_accuracy']:.4f}, gap {metrics['accuracy_gap']:.4f}, "
        f"ECE {ece:.4f} at temperature {metrics['calibration']['temperature']:.3f} (before it "
        f"{ece_before:.4f}); not-like-Fashion-MNIST flag on "
        f"{100 * metrics[paths.OOD_KEY]['clothing_flagged']['tensor']:.1f} % of test images, "
        f"worst AUROC {worst_auroc(metrics[paths.OOD_KEY]):.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages evaluate [--root DIR]`."""
    return stage_main("evaluate", _run, argv)
