"""What the DVC contract's files share: a project copy per file, its one-epoch run restored from
the session's run and committed, that every test leaves as it found it.

test_pipeline.py, test_interrupt.py and test_plots.py build their own `project`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..project_copy import (
    ONE_EPOCH,
    commit,
    dvc,
    head,
    make_project,
    ran_stages,
    reset,
    restored_stages,
)

ALL = ["check", "prepare", "ood_sets", "profile", "train", "evaluate", "predict"]
DOWNSTREAM_OF_TRAIN = ["train", "evaluate", "predict"]

# What the stages write, whichever test reads it (each adds its own few below and in
# test_pipeline.py).
STAGE_OUTPUTS = (
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/model.keras",
    "models/model.tflite",
    "reports/live/plots/metrics/train/accuracy.tsv",
    "reports/confusion.json",
    "reports/per_class.json",
    "reports/reliability.json",
    "reports/reliability_uncalibrated.json",
    "reports/figures/reliability.png",
    "reports/figures/samples.png",
    "reports/figures/mistakes.png",
    "reports/figures/confusion.png",
    "reports/predictions.json",
    "metrics/evaluate.json",
    "metrics/predict.json",
)

# The bytes a rerun must give back, and the lock.
OUTPUTS = [*STAGE_OUTPUTS, "reports/live/plots/metrics/test/loss.tsv", "dvc.lock"]


def snapshot(project: Path) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def base(tmp_path_factory, one_epoch_run):
    """A copy of the project with one-epoch training, reproduced and committed.

    Its repro restores every stage from the run-cache: the session's run (tests/conftest.py)
    computed them from the same files and params, and tests/e2e/test_pipeline.py checks that every
    stage really ran there. Each test file that asks gets a copy and a DVC cache of its own.
    """
    project = make_project(tmp_path_factory.mktemp("contract"), ONE_EPOCH, one_epoch_run)
    output = dvc(project, "repro").stdout
    assert restored_stages(output) == ALL and ran_stages(output) == [], output
    commit(project, "one-epoch run")
    return project, head(project), snapshot(project)


@pytest.fixture
def project(base):
    """The base copy, put back to its committed run after the test (git's files, DVC's outputs)."""
    path, commit_id, _ = base
    yield path
    reset(path, commit_id)
