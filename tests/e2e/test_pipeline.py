"""End to end: the real `dvc repro` on the real data, in a temporary copy of the project.

That repro is the session's `one_epoch_run` (tests/conftest.py), run from an empty cache: every
stage really runs. The other project copies start from its cache.
"""

import json

import pytest

from ..project_copy import dvc, ran_stages
from .conftest import STAGE_OUTPUTS

# Every stage's outputs, dvclive's summary and the test split's curve among them.
OUTPUTS = (
    *STAGE_OUTPUTS,
    "reports/live/metrics.json",
    "reports/live/plots/metrics/test/accuracy.tsv",
)

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(one_epoch_run):
    """The reproduced copy. Copies start from it, so these tests only read it."""
    return one_epoch_run.project


@pytest.fixture(scope="module")
def first_repro(one_epoch_run):
    """What its `dvc repro` printed."""
    return one_epoch_run


def test_repro_runs_every_stage_and_writes_every_output(project, first_repro):
    assert ran_stages(first_repro.stdout) == [
        "check",
        "prepare",
        "ood_sets",
        "profile",
        "train",
        "evaluate",
        "predict",
    ]
    for output in OUTPUTS:
        assert (project / output).stat().st_size > 0, output
    curve = (project / "reports/live/plots/metrics/test/accuracy.tsv").read_text().splitlines()
    assert curve[0] == "step\taccuracy" and len(curve) == 2  # one epoch, one point
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert 0.80 < metrics["test_accuracy"] < 0.88  # one epoch: below the ten-epoch 0.885
    assert metrics["accuracy_gap"] == metrics["train_accuracy"] - metrics["test_accuracy"]
    assert metrics["z_per_class"]["Ankle boot"]["support"] == 1000
    predictions = json.loads((project / "reports/predictions.json").read_text())
    assert predictions[0]["index"] == 0 and predictions[0]["true_name"] == "Ankle boot"
    assert all(record["batch_consistent"] for record in predictions)


def test_repro_prints_the_stages_own_lines_and_no_warnings(first_repro):
    """No DVC warning (an empty file as a dep was one) and none of TensorFlow's start-up log."""
    assert "WARNING" not in first_repro.stdout + first_repro.stderr, first_repro.stderr
    assert "absl" not in first_repro.stderr and "oneDNN" not in first_repro.stderr
    assert "train: 1 epochs in " in first_repro.stdout


def test_second_repro_runs_nothing(project, first_repro):
    again = dvc(project, "repro")
    assert ran_stages(again.stdout) == []
    assert "up to date" in dvc(project, "status").stdout


def test_metrics_show_lists_the_metrics(project, first_repro):
    shown = json.loads(dvc(project, "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    evaluate = files["metrics/evaluate.json"]["data"]
    predict = files["metrics/predict.json"]["data"]
    assert evaluate["test_accuracy"] > 0.8
    assert predict["samples"] == 6


def test_metrics_diff_lists_the_headline_figures_before_the_per_class_report(project, first_repro):
    rows = dvc(project, "metrics", "diff").stdout.splitlines()[1:]  # after the header
    evaluate = [row.split()[1] for row in rows if row.startswith("metrics/evaluate.json")]
    headline = ["accuracy_gap", "calibration.confidence_right", "calibration.confidence_wrong"]
    headline += ["calibration.ece", "calibration.ece_before_temperature"]
    headline += ["calibration.temperature"]
    headline += ["test_accuracy", "test_loss", "train_accuracy", "train_loss"]
    assert evaluate[: len(headline)] == headline
    # The flag's figures: clothing flagged (2 kinds), then AUROC, FPR and share flagged per set.
    flag = [key for key in evaluate if key.startswith("unlike_fashion_mnist.")]
    assert evaluate[len(headline) : len(headline) + len(flag)] == flag
    assert len(flag) == 2 + 3 * 31  # 31 sets
    # Precision, recall, F1 and support of 10 classes and the macro and weighted averages.
    assert len(evaluate) == len(headline) + len(flag) + 12 * 4
    assert all(key.startswith("z_per_class.") for key in evaluate[len(headline) + len(flag) :])
