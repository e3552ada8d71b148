"""The DVC contract, proven on the real pipeline and data with the real `dvc`.

Each stage reruns exactly when its own params, code or inputs change; reruns that change nothing
leave everything byte for byte as it was; the run-cache, `dvc metrics diff`, `dvc params diff`
and `dvc exp` work as the README says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from ..project_copy import (
    commit,
    dvc,
    head,
    make_project,
    ran_stages,
    reset,
    run,
    set_params,
    status,
)

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow

ALL = ["check", "prepare", "ood_sets", "profile", "train", "evaluate", "predict"]
DOWNSTREAM_OF_TRAIN = ["train", "evaluate", "predict"]

# key -> (new value, stages `dvc status` reports, stages `dvc repro` then runs), written by hand
# from what each stage reads, not derived from dvc.yaml, so that a wrong dvc.yaml fails here.
# The check stage, whose dep is the whole params.yaml, comes on top of each (see the test).
# A prepare key reruns prepare alone: its output is the same verified data whatever the source,
# so DVC sees unchanged .npz files and skips the rest.
PARAM_SCOPES = {
    "prepare.mirrors": (["https://example.invalid/fmnist"], {"prepare"}, ["prepare"]),
    "prepare.download_timeout_s": (30, {"prepare"}, ["prepare"]),
    "train.seed": (43, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.epochs": (2, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.batch_size": (64, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.hidden_units": (64, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.learning_rate": (0.002, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.lr_schedule": ("cosine", {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.model": ("cnn", {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.label_smoothing": (0.1, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.flip": (True, {"train"}, DOWNSTREAM_OF_TRAIN),
    "train.test_time_flip": (True, {"train"}, DOWNSTREAM_OF_TRAIN),
    # The CNN's keys, read by train whichever model is chosen: with the dense model chosen they
    # retrain it, to the same bytes, so evaluate and predict are skipped.
    "train.cnn.filters": ([8], {"train"}, ["train"]),
    "train.cnn.kernel_size": (5, {"train"}, ["train"]),
    "train.cnn.batch_norm": (True, {"train"}, ["train"]),
    "train.cnn.dropout": (0.2, {"train"}, ["train"]),
    "train.cnn.dense_units": (64, {"train"}, ["train"]),
    "train.cnn.dense_dropout": (0.4, {"train"}, ["train"]),
    "predict.samples": ([0, 7, 9999], {"predict"}, ["predict"]),
    "predict.tolerance": (1.0e-4, {"predict"}, ["predict"]),
}

# file -> stages `dvc status` reports after a comment is appended to it, by hand again.
CODE_SCOPES = {
    "src/fmnist/pipeline/stages/prepare.py": {"prepare"},
    "src/fmnist/pipeline/sources.py": {"prepare"},
    "src/fmnist/pipeline/stages/train.py": {"train"},
    "src/fmnist/pipeline/training/fit.py": {"train"},
    "src/fmnist/pipeline/training/network.py": {"train"},
    "src/fmnist/pipeline/training/export.py": {"train"},
    "src/fmnist/inference/classifier.py": {"train", "evaluate", "predict"},
    "src/fmnist/memory.py": {"ood_sets", "profile", "train", "evaluate", "predict"},
    "src/fmnist/inference/native_stderr.py": {"train", "evaluate", "predict"},
    "src/fmnist/pipeline/stages/evaluate.py": {"evaluate"},
    "src/fmnist/pipeline/figures.py": {"evaluate"},
    "src/fmnist/pipeline/stages/predict.py": {"predict"},
    "src/fmnist/pipeline/stages/check.py": {"check"},
    "src/fmnist/pipeline/params.py": {"check", "prepare", "train", "predict"},
    "src/fmnist/core/dataset.py": set(ALL),
    "src/fmnist/core/paths.py": set(ALL),
    "src/fmnist/pipeline/stages/__main__.py": set(ALL),
    "src/fmnist/pipeline/stages/runner.py": set(ALL),
    "src/fmnist/pipeline/__init__.py": set(ALL),
    "src/fmnist/entry.py": set(ALL),
    "src/fmnist/__init__.py": set(ALL),
    "src/fmnist/cli.py": set(),  # `fmnist predict` only; no stage imports it
    "src/fmnist/decoding.py": {"ood_sets", "profile", "evaluate"},  # decoding files
    "src/fmnist/ood/profile_format.py": {"profile", "train", "evaluate", "predict"},
    "src/fmnist/pipeline/ood/clothing_files.py": {"ood_sets", "profile"},
    "src/fmnist/ood/score.py": {"profile", "evaluate"},
    "src/fmnist/pipeline/ood/fit_profile.py": {"profile"},
    "src/fmnist/pipeline/stages/profile.py": {"profile"},
    "src/fmnist/pipeline/ood/sets.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/drawn.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/bundled.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/measure.py": {"evaluate"},
    "src/fmnist/pipeline/stages/ood_sets.py": {"ood_sets"},
    "README.md": set(),
    "tests/core/test_idx.py": set(),
    "Makefile": set(),
}

OUTPUTS = [
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/model.keras",
    "models/model.tflite",
    "reports/live/plots/metrics/train/accuracy.tsv",
    "reports/live/plots/metrics/test/loss.tsv",
    "reports/confusion.json",
    "reports/per_class.json",
    "reports/reliability.json",
    "reports/figures/reliability.png",
    "reports/figures/samples.png",
    "reports/figures/mistakes.png",
    "reports/figures/confusion.png",
    "reports/predictions.json",
    "metrics/evaluate.json",
    "metrics/predict.json",
    "dvc.lock",
]


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in tree.items():
        if isinstance(value, dict):
            keys += leaf_keys(value, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def snapshot(project) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A copy of the project with one-epoch training, reproduced and committed."""
    project = make_project(tmp_path_factory.mktemp("contract"), {"train": {"epochs": 1}})
    assert ran_stages(dvc(project, "repro").stdout) == ALL
    commit(project, "one-epoch run")
    return project, head(project), snapshot(project)


@pytest.fixture
def project(base):
    path, commit_id, _ = base
    yield path
    reset(path, commit_id)


def test_the_table_covers_every_key_in_params_yaml():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    # train.warmup_epochs needs more epochs than the one this project trains (the loader
    # refuses a warm-up as long as the run); tests/pipeline/test_params.py and test_network.py
    # hold it.
    assert sorted(set(leaf_keys(params)) - {"train.warmup_epochs"}) == sorted(PARAM_SCOPES)


@pytest.mark.parametrize("key", list(PARAM_SCOPES))
def test_a_param_reruns_exactly_its_stages(project, key):
    value, expected_status, expected_runs = PARAM_SCOPES[key]
    *sections, name = key.split(".")
    override = {name: value}
    for section in reversed(sections):
        override = {section: override}
    set_params(project, override)
    assert status(project) == {"check", *expected_status}, dvc(project, "status").stdout
    # --no-run-cache: really run, so that the stages listed are the stages DVC executes. check
    # runs first every time, and its unchanged output reruns nothing by itself.
    runs = ran_stages(dvc(project, "repro", "--no-run-cache").stdout)
    assert runs == ["check", *expected_runs]
    assert status(project) == set()


@pytest.mark.parametrize("path", list(CODE_SCOPES))
def test_editing_a_file_changes_exactly_the_stages_that_import_it(project, path):
    with (project / path).open("a") as handle:
        handle.write("\n# an edit that changes no behaviour\n")
    assert status(project) == CODE_SCOPES[path]


def test_an_edit_that_keeps_the_output_reruns_no_downstream_stage(project, base):
    with (project / "src/fmnist/pipeline/stages/train.py").open("a") as handle:
        handle.write("\n# an edit that changes no behaviour\n")
    # train reruns, writes a byte-identical model, so evaluate and predict have nothing to do.
    assert ran_stages(dvc(project, "repro").stdout) == ["train"]
    for model in ("models/model.keras", "models/model.tflite"):
        assert (project / model).read_bytes() == base[2][model]
    assert status(project) == set()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"train": {"epochs": 0}}, "train.epochs: 0 is out of range, must be >= 1"),
        ({"predict": {"tolerance": "tight"}}, "predict.tolerance: expected a number"),
        (None, "params.yaml: expected a mapping, got null"),
    ],
    ids=["train-key", "predict-key", "empty-file"],
)
def test_a_refused_params_yaml_leaves_every_output_in_place(project, base, edit, message):
    """DVC deletes a stage's outputs before it runs it: the check stage refuses first."""
    if edit is None:
        (project / "params.yaml").write_text("")
    else:
        set_params(project, edit)
    result = dvc(project, "repro", check=False)
    assert result.returncode != 0 and f"fmnist check: error: {message}" in result.stderr
    assert ran_stages(result.stdout) == ["check"]
    assert snapshot(project) == base[2]


def test_second_repro_is_a_no_op(project):
    result = dvc(project, "repro")
    assert ran_stages(result.stdout) == []
    assert "is cached" not in result.stdout
    assert "up to date" in dvc(project, "status").stdout


def test_fresh_clone_with_outputs_checked_out_is_up_to_date(base, tmp_path):
    source, _, outputs = base
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(source), str(clone)], tmp_path)
    cache = dvc(source, "cache", "dir").stdout.strip()
    dvc(clone, "cache", "dir", "--local", cache)
    dvc(clone, "checkout")
    # Bytecode beside the sources, as any run leaves it, must not count as a change.
    run(["python", "-m", "compileall", "-q", "src"], clone)
    assert list((clone / "src/fmnist/__pycache__").glob("*.pyc"))
    assert status(clone) == set()
    assert ran_stages(dvc(clone, "repro").stdout) == []
    assert snapshot(clone) == outputs
    lock = (clone / "dvc.lock").read_text()
    assert str(source) not in lock and "/tmp" not in lock  # no absolute paths in hashes


def test_run_cache_restores_an_earlier_run_without_training(project, base):
    # Three epochs: a value no other test trains with, so this repro really trains.
    set_params(project, {"train": {"epochs": 3}})
    assert "Running stage 'train'" in dvc(project, "repro").stdout
    set_params(project, {"train": {"epochs": 1}})
    result = dvc(project, "repro")
    assert ran_stages(result.stdout) == []
    for stage in DOWNSTREAM_OF_TRAIN:
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in result.stdout
    assert snapshot(project) == base[2]


def test_metrics_and_params_diff_across_commits(project):
    set_params(project, {"train": {"epochs": 2}})
    dvc(project, "repro")
    commit(project, "two epochs")
    metrics = json.loads(dvc(project, "metrics", "diff", "HEAD~1", "--json").stdout)
    accuracy = metrics["metrics/evaluate.json"]["test_accuracy"]
    assert accuracy["new"] > accuracy["old"] and accuracy["diff"] == pytest.approx(
        accuracy["new"] - accuracy["old"]
    )
    params = json.loads(dvc(project, "params", "diff", "HEAD~1", "--json").stdout)
    assert params == {"params.yaml": {"train.epochs": {"old": 1, "new": 2, "diff": 1}}}


def test_exp_run_with_set_param_and_exp_show(project):
    # A seed no other test trains with, so the run-cache cannot answer instead of training.
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


def test_dvc_finds_the_project_environment_without_activation(project):
    """`.venv/bin/dvc repro` from a shell that never activated .venv: the stages still run in
    it (each command puts $DVC_ROOT/.venv/bin first on PATH)."""
    venv = Path(sys.executable).parent.parent  # not resolved: .venv, not the base Python
    (project / ".venv").symlink_to(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    try:
        result = subprocess.run(
            [venv / "bin/dvc", "repro", "--force", "--single-item", "check"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        (project / ".venv").unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    assert ran_stages(result.stdout) == ["check"]


def test_exp_run_with_a_misspelt_key_is_refused_by_dvc(project):
    result = dvc(project, "exp", "run", "-S", "train.epoch=2", check=False)
    assert result.returncode != 0
    assert "Could not override 'train.epoch'" in result.stdout + result.stderr


def test_forced_rerun_is_byte_identical(project, base):
    assert ran_stages(dvc(project, "repro", "--force").stdout) == ALL
    assert snapshot(project) == base[2]
    run(["git", "diff", "--exit-code"], project)


@pytest.mark.slow
def test_fresh_clone_reproduces_the_committed_run(tmp_path):
    """A clone of this repository, reproduced, gives back the committed lock and metrics."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(ROOT), str(clone)], tmp_path)
    dvc(clone, "repro")
    changed = run(["git", "status", "--porcelain"], clone).stdout
    assert changed == "", f"the committed run did not reproduce:\n{changed}"


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
