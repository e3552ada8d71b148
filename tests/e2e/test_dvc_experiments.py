"""The DVC contract for experiments, with the real `dvc`: `dvc exp run -S` and `dvc exp show`, a
refused or misspelt `-S` value, and the README's queued sweep of both models.
"""

from __future__ import annotations

import json
import time

import pytest

from ..project_copy import dvc, ran_stages
from .conftest import DOWNSTREAM_OF_TRAIN

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow


def test_exp_run_with_set_param_and_exp_show(project):
    # A seed no other test of this file trains with (each file has its own copy and cache), so
    # the run-cache cannot answer instead of training.
    result = dvc(project, "exp", "run", "-S", "train.seed=44", "--name", "seed-44")
    assert ran_stages(result.stdout) == ["check", *DOWNSTREAM_OF_TRAIN]
    shown = json.loads(dvc(project, "exp", "show", "--json").stdout)
    experiments = [exp for rev in shown for exp in (rev.get("experiments") or [])]
    runs = [run for exp in experiments for run in exp["revs"] if run["name"] == "seed-44"]
    assert len(runs) == 1
    data = runs[0]["data"]
    assert data["params"]["params.yaml"]["data"]["train"]["seed"] == 44
    assert 0.8 < data["metrics"]["metrics/evaluate.json"]["data"]["test_accuracy"] < 0.9


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("+train.epoch=2", "train.epoch: unknown key"),
        ("train.epochs=0", "train.epochs: 0 is out of range, must be >= 1"),
        ("train.learning_rate=fast", "train.learning_rate: expected a number, got str 'fast'"),
    ],
)
def test_exp_run_with_a_bad_param_fails_with_the_loader_message(project, assignment, message):
    result = dvc(project, "exp", "run", "-S", assignment, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    # DVC leaves the -S values in params.yaml and does not say so; the loader's line does.
    assert "left its -S values in params.yaml: `git checkout params.yaml` undoes them" in (
        result.stderr
    )


def test_exp_run_with_a_misspelt_key_is_refused_by_dvc(project):
    result = dvc(project, "exp", "run", "-S", "train.epoch=2", check=False)
    assert result.returncode != 0
    assert "Could not override 'train.epoch'" in result.stdout + result.stderr


def test_queued_sweep_compares_both_models_in_exp_show(project):
    """The README's sweep: both architectures queued by one command, run, shown in one table."""
    # Tiny CNN settings keep the test short; the comma makes it a sweep of two experiments.
    sweep = ["-S", "train.model=dense,cnn", "-S", "train.cnn.filters=[4]"]
    dvc(project, "exp", "run", "--queue", *sweep, "-S", "train.cnn.dense_units=16")
    dvc(project, "queue", "start")
    deadline = time.monotonic() + 600
    while (states := queue_states(project)) & {"Queued", "Running"}:
        assert time.monotonic() < deadline, states
        time.sleep(2)
    assert states == {"Success"}, dvc(project, "queue", "status").stdout
    shown = json.loads(dvc(project, "exp", "show", "--json").stdout)
    entries = [e for rev in shown for exp in rev.get("experiments") or [] for e in exp["revs"]]
    by_model = {}
    for entry in entries:
        train = entry["data"]["params"]["params.yaml"]["data"]["train"]
        if train["cnn"]["dense_units"] == 16:
            by_model[train["model"]] = entry["data"]["metrics"]["metrics/evaluate.json"]["data"]
    assert set(by_model) == {"dense", "cnn"}
    for metrics in by_model.values():  # one epoch of either model is well past chance
        assert 0.75 < metrics["test_accuracy"] < 0.95
    assert by_model["dense"]["test_accuracy"] != by_model["cnn"]["test_accuracy"]


def queue_states(project) -> set[str]:
    """The states in the Status column of `dvc queue status`."""
    words = [line.split() for line in dvc(project, "queue", "status").stdout.splitlines()]
    return {w[-1] for w in words if w and w[-1] in {"Queued", "Running", "Success", "Failed"}}
