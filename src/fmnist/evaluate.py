"""Stage evaluate: test and train accuracy, their gap, and a per-class report into metrics JSON."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import classification_report

from fmnist import paths
from fmnist.atomic import write_json
from fmnist.dataset import CLASS_NAMES, Split, load_split
from fmnist.errors import run_stage
from fmnist.model import load_model, predict_logits, softmax
from fmnist.params import load_params


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
        "report": class_report(test.labels, test_logits.argmax(axis=1)),
    }


def _run() -> None:
    params = load_params().evaluate
    test, train = load_split(paths.TEST_NPZ), load_split(paths.TRAIN_NPZ)
    model = load_model(paths.MODEL)
    test_logits = predict_logits(model, test.images, params.batch_size)
    train_logits = predict_logits(model, train.images, params.batch_size)
    metrics = evaluate(test, test_logits, train, train_logits)
    write_json(paths.EVALUATE_METRICS, metrics)
    print(
        f"evaluate: test accuracy {metrics['test_accuracy']:.4f}, "
        f"train {metrics['train_accuracy']:.4f}, gap {metrics['accuracy_gap']:.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.evaluate`."""
    del argv
    return run_stage("evaluate", _run)


if __name__ == "__main__":
    raise SystemExit(main())
