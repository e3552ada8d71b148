"""The DVC contract, proven on the real pipeline and data with the real `dvc`: each stage reruns
exactly when its own params, code or inputs change, and a params.yaml the loader refuses stops
`dvc repro` before any output is touched.

The other parts of the contract: tests/e2e/test_dvc_runs.py (reruns byte for byte, the
run-cache, clones, diffs) and tests/e2e/test_dvc_experiments.py (`dvc exp`).
"""

from __future__ import annotations

import pytest
import yaml

from ..conftest import ROOT
from ..project_copy import dvc, ran_stages, set_params, status
from .conftest import ALL, DOWNSTREAM_OF_TRAIN, snapshot

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow

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
    "train.shift": (1, {"train"}, DOWNSTREAM_OF_TRAIN),
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
    "src/fmnist/decoding.py": {"ood_sets", "profile", "train", "evaluate"},
    "src/fmnist/pipeline/ood/profile_format.py": {"profile", "train"},
    "src/fmnist/pipeline/ood/pixel_checks.py": {"profile", "train"},
    "src/fmnist/pipeline/ood/clothing_files.py": {"ood_sets", "train"},
    "src/fmnist/ood/score.py": {"profile", "train", "evaluate", "predict"},
    "src/fmnist/pipeline/ood/fit_profile.py": {"profile", "train"},
    "src/fmnist/pipeline/ood/semantic.py": {"train"},
    "src/fmnist/pipeline/training/flag_graph.py": {"train"},
    "src/fmnist/pipeline/stages/profile.py": {"profile"},
    "src/fmnist/pipeline/ood/sets.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/drawn.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/bundled.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/things.py": {"ood_sets", "evaluate"},
    "src/fmnist/pipeline/ood/measure.py": {"evaluate"},
    "src/fmnist/pipeline/stages/ood_sets.py": {"ood_sets"},
    "README.md": set(),
    "tests/core/test_idx.py": set(),
    "Makefile": set(),
}


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in tree.items():
        if isinstance(value, dict):
            keys += leaf_keys(value, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


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
def test_editing_a_file_changes_exactly_the_stages_that_import_it(base, path):
    project = base[0]
    original = (project / path).read_bytes()
    with (project / path).open("a") as handle:
        handle.write("\n# an edit that changes no behaviour\n")
    try:
        assert status(project) == CODE_SCOPES[path]
    finally:
        (project / path).write_bytes(original)  # `dvc status` only reads: nothing else to undo


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
