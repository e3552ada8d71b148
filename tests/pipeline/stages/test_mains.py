"""Every stage's main(argv) in-process, on a project root in tmp_path: what it writes, that it
reads only its own params section, and one line for every damaged input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fmnist.core import paths
from fmnist.core.dataset import Split, load_split, save_split
from fmnist.core.errors import RESTORE_HINT
from fmnist.inference.classifier import load_classifier
from fmnist.pipeline.stages import check, evaluate, predict, prepare

from ...conftest import ROOT, TEMPERATURE
from ...interrupts import run_interrupted

TRAIN_IMAGES, TEST_IMAGES = 320, 200


def write_params(root: Path, **sections: dict) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in sections.items():
        raw[section] |= values
    (root / "params.yaml").write_text(yaml.safe_dump(raw))


@pytest.fixture
def project(tmp_path, ood_sets_file, real_train, real_test, trained, profile) -> Path:
    """A project root holding a tiny split of the real data, a real exported model and the
    flag's sets. The sets come first: under xdist this worker makes them while the other makes
    the profile that `trained` seals (tests/conftest.py), instead of one after the other."""
    write_params(tmp_path, predict={"samples": [0, 1, 2, 199]})
    small = lambda split, n: Split(split.images[:n], split.labels[:n])  # noqa: E731
    save_split(tmp_path / paths.TRAIN_NPZ, small(real_train, TRAIN_IMAGES))
    save_split(tmp_path / paths.TEST_NPZ, small(real_test, TEST_IMAGES))
    (tmp_path / "models").mkdir()
    (tmp_path / paths.MODEL).write_bytes(trained[1].read_bytes())
    (tmp_path / paths.OOD_SETS).write_bytes(ood_sets_file.read_bytes())
    (tmp_path / paths.OOD_PROFILE).write_bytes(profile)
    return tmp_path


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run(stage, root: Path, capsys) -> tuple[int, str]:
    code = stage.main(["--root", str(root)])
    return code, capsys.readouterr().err


def test_check_writes_its_constant_line_only_for_good_params(tmp_path, capsys):
    write_params(tmp_path)
    assert run(check, tmp_path, capsys)[0] == 0
    assert (tmp_path / paths.PARAMS_CHECKED).read_text() == check.CHECKED
    (tmp_path / paths.PARAMS_CHECKED).unlink()
    write_params(tmp_path, train={"epochs": 0})
    code, err = run(check, tmp_path, capsys)
    assert (code, err) == (
        1,
        "fmnist check: error: train.epochs: 0 is out of range, must be >= 1\n",
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["data", "params.yaml"]


def test_evaluate_scores_the_model_it_is_given(project, capsys):
    code, _ = run(evaluate, project, capsys)
    assert code == 0
    metrics = json.loads((project / paths.EVALUATE_METRICS).read_text())
    test = load_split(project / paths.TEST_NPZ)
    predicted = load_classifier(project / paths.MODEL).logits(test.images).argmax(axis=1)
    assert metrics["test_accuracy"] == pytest.approx(np.mean(predicted == test.labels))
    assert sorted(metrics) == [
        "accuracy_gap",
        "calibration",
        "test_accuracy",
        "test_loss",
        "train_accuracy",
        "train_loss",
        "unlike_fashion_mnist",
        "z_per_class",
    ]
    assert metrics["z_per_class"]["macro avg"]["support"] == TEST_IMAGES
    confusion = json.loads((project / paths.CONFUSION).read_text())
    assert [cell["predicted"] for cell in confusion].count("Ankle boot") == np.sum(predicted == 9)
    figures = sorted(p.name for p in (project / paths.FIGURES_DIR).iterdir())
    assert figures == ["confusion.png", "mistakes.png", "reliability.png", "samples.png"]
    assert sorted(metrics["calibration"]) == [
        "confidence_right",
        "confidence_wrong",
        "ece",
        "ece_before_temperature",
        "temperature",
    ]
    assert metrics["calibration"]["temperature"] == TEMPERATURE  # what the file applies
    assert 0 <= metrics["calibration"]["ece"] <= 1
    ood = metrics["unlike_fashion_mnist"]
    assert sorted(ood) == ["clothing_flagged", "held_back", "sets"]
    assert sorted(ood["held_back"]) == [
        "gnome_icon_files",
        "gnome_icons",
        "tango_icon_files",
        "tango_icons",
    ]
    assert len(ood["sets"]) == 27 and sorted(ood["clothing_flagged"]) == ["file", "tensor"]
    for row in [*ood["sets"].values(), *ood["held_back"].values()]:
        assert sorted(row) == ["auroc", "flagged", "fpr_at_95"]
        assert all(0 <= value <= 1 for value in row.values())
    # Noise and blank frames are told apart from clothing every time; a few clothing images not.
    assert ood["sets"]["noise"]["auroc"] == 1.0 and ood["sets"]["constants"]["flagged"] == 1.0
    assert 0.0 < ood["clothing_flagged"]["tensor"] < 0.12
    for table in (paths.RELIABILITY, paths.RELIABILITY_UNCALIBRATED):
        reliability = json.loads((project / table).read_text())
        assert sum(row["count"] for row in reliability) == TEST_IMAGES
    first = files(project)
    assert run(evaluate, project, capsys)[0] == 0
    assert files(project) == first  # byte for byte on a rerun


def test_predict_checks_each_sample_and_reads_only_its_section(project, capsys):
    assert run(predict, project, capsys)[0] == 0
    records = json.loads((project / paths.PREDICTIONS).read_text())
    test = load_split(project / paths.TEST_NPZ)
    assert [r["index"] for r in records] == [0, 1, 2, 199]
    assert [r["true_label"] for r in records] == [int(test.labels[i]) for i in (0, 1, 2, 199)]
    summary = json.loads((project / paths.PREDICT_METRICS).read_text())
    assert summary["samples"] == 4 and summary["correct"] == sum(r["correct"] for r in records)
    first = files(project)
    write_params(project, predict={"samples": [0, 1, 2, 199]}, train={"epochs": 3}, prepare={})
    assert run(predict, project, capsys)[0] == 0
    assert {k: v for k, v in files(project).items() if k != "params.yaml"} == {
        k: v for k, v in first.items() if k != "params.yaml"
    }


def test_prepare_writes_the_committed_splits_whatever_the_other_sections(tmp_path, capsys):
    write_params(tmp_path, train={"epochs": 3}, predict={"samples": [5]})
    code, err = run(prepare, tmp_path, capsys)
    assert code == 0, err
    # The committed run's hashes (a fresh clone has no data/ yet).
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]["prepare"]["outs"]
    committed = {out["path"]: out["md5"] for out in lock}
    for split in (paths.TRAIN_NPZ, paths.TEST_NPZ):
        digest = hashlib.md5((tmp_path / split).read_bytes()).hexdigest()
        assert digest == committed[str(split)], split


def test_a_bad_param_stops_prepare_before_any_work(tmp_path, capsys):
    write_params(tmp_path, train={"epochs": 0})
    code, err = run(prepare, tmp_path, capsys)
    assert (code, err) == (
        1,
        "fmnist prepare: error: train.epochs: 0 is out of range, must be >= 1\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def damage(target: Path, how: str) -> None:
    if how == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif how == "garbage":
        target.write_bytes(b"\x00not what it should be" * 10)
    elif how == "missing":
        target.unlink()
    elif how == "wrong-shape":
        save_split(target, Split(np.zeros((3, 28, 27), np.float32), np.zeros(3, np.int64)))


@pytest.mark.parametrize(
    ("stage", "damaged", "how", "reason"),
    [
        (evaluate, paths.TEST_NPZ, "truncate", "corrupt or not a prepared split"),
        (evaluate, paths.TRAIN_NPZ, "garbage", "corrupt or not a prepared split"),
        (
            evaluate,
            paths.TEST_NPZ,
            "wrong-shape",
            "must be float32 (N, 28, 28), got float32 (3, 28, 27)",
        ),
        (predict, paths.TEST_NPZ, "missing", "missing; `make repro` builds it, or `make pull`"),
        (evaluate, paths.MODEL, "garbage", "not a .tflite model"),
        (evaluate, paths.OOD_SETS, "garbage", "corrupt or not written by this pipeline"),
        (evaluate, paths.OOD_SETS, "missing", "missing; `make repro` builds it, or `make pull`"),
        (predict, paths.MODEL, "missing", "missing; `make repro` builds it, or `make pull`"),
        (predict, paths.MODEL, "truncate", "damaged (its checksum does not match)"),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)).rsplit(".", 1)[-1],
)
def test_a_damaged_input_is_one_line_naming_it_and_nothing_is_written(
    project, capsys, stage, damaged, how, reason
):
    damage(project / damaged, how)
    before = sorted(project.rglob("*"))
    code, err = run(stage, project, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"fmnist {stage.__name__.rsplit('.', 1)[1]}: error: {project / damaged}")
    assert reason in err, err
    assert sorted(project.rglob("*")) == before  # no output, no temporary file


def test_the_dispatcher_names_the_stages_it_knows():
    result = subprocess.run(
        [sys.executable, "-m", "fmnist.pipeline.stages", "tarin"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "usage: python -m fmnist.pipeline.stages {check,prepare,ood_sets,profile,train,evaluate,"
        "predict} "
        "[--root DIR]\n"
    )


# Nine processes that import TensorFlow (24 s): the process tier's, not the edit loop's.
@pytest.mark.slow
def test_ctrl_c_while_a_stage_imports_tensorflow_is_one_line(tmp_path):
    """train's imports take seconds (TensorFlow): an interrupt there ends like one in the work.
    At 8 moments spread evenly over the run's Python events, counted rather than timed."""
    project = tmp_path / "project"
    project.mkdir()
    write_params(project)  # no data: a run that finishes its imports fails in one line
    command = [sys.executable, "-m", "fmnist.pipeline.stages", "train", "--root", str(project)]
    whole = run_interrupted(command, 0, tmp_path)
    missing = f"{project / paths.TRAIN_NPZ}: missing; {RESTORE_HINT}"
    assert (whole.returncode, whole.stderr) == (1, f"fmnist train: error: {missing}\n")
    assert whole.events > 10_000 and whole.done_at is not None  # TensorFlow's import and all
    for at in np.linspace(1, whole.done_at - 1, 8).round().astype(int):
        run = run_interrupted(command, int(at), tmp_path)
        assert (run.returncode, run.stderr) == (130, "fmnist train: interrupted\n"), at


def test_train_writes_the_same_bytes_twice_and_reads_only_its_section(project, capsys):
    from fmnist.pipeline.stages import train

    write_params(project, train={"epochs": 1})
    code, err = run(train, project, capsys)
    assert code == 0, err
    outputs = [paths.KERAS_MODEL, paths.MODEL, paths.TRAIN_LIVE / "metrics.json"]
    first = {path: (project / path).read_bytes() for path in outputs}
    assert load_classifier(project / paths.MODEL).logits(np.zeros((1, 28, 28))).shape == (1, 10)
    write_params(project, train={"epochs": 1}, predict={"samples": [7]})
    assert run(train, project, capsys)[0] == 0
    assert {path: (project / path).read_bytes() for path in outputs} == first


@pytest.mark.parametrize(
    ("how", "reason"),
    [("missing", "missing; `make repro` builds it, or `make pull`"), ("truncate", "cut short")],
)
def test_train_refuses_a_missing_or_damaged_profile_before_any_work(project, capsys, how, reason):
    from fmnist.pipeline.stages import train

    target = project / paths.OOD_PROFILE
    if how == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[:-100])
    before = files(project)
    code, err = run(train, project, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"fmnist train: error: {target}: ") and reason in err
    assert files(project) == before


def test_train_refuses_a_batch_that_would_not_fit_before_any_work(project, capsys):
    from fmnist.pipeline.stages import train

    write_params(project, train={"model": "cnn", "batch_size": 60_000})
    before = files(project)
    code, err = run(train, project, capsys)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("fmnist train: error: train.batch_size: 60000 would need about ")
    assert files(project) == before


@pytest.mark.slow
def test_train_ships_the_tuned_recipe_reproducibly(project, capsys):
    """The CNN with flips, label smoothing, a warm-up and test-time flips, through train's main:
    the same bytes twice, and a shipped model that gives an image and its mirror one answer."""
    from fmnist.pipeline.stages import train

    recipe = {
        "model": "cnn",
        "epochs": 2,
        "batch_size": 64,
        "lr_schedule": "cosine",
        "warmup_epochs": 1,
        "label_smoothing": 0.1,
        "flip": True,
        "test_time_flip": True,
        "cnn": {
            "filters": [4, 8],
            "kernel_size": 3,
            "batch_norm": False,
            "dropout": 0.0,
            "dense_units": 16,
            "dense_dropout": 0.2,
        },
    }
    write_params(project, train=recipe)
    outputs = [paths.KERAS_MODEL, paths.MODEL, paths.TRAIN_LIVE / "metrics.json"]
    shipped = []
    for _ in range(2):
        code, err = run(train, project, capsys)
        assert code == 0, err
        shipped.append({path: (project / path).read_bytes() for path in outputs})
    assert shipped[0] == shipped[1]
    images = load_split(project / paths.TEST_NPZ).images
    classifier = load_classifier(project / paths.MODEL)
    np.testing.assert_allclose(
        classifier.logits(images), classifier.logits(images[:, :, ::-1]), atol=1e-5
    )


def test_evaluate_refuses_a_model_without_the_flag_before_writing(project, trained, capsys):
    from fmnist.pipeline.training.export import convert, seal

    (project / paths.MODEL).write_bytes(seal(convert(trained[0])))  # sealed, no flag
    before = files(project)
    code, err = run(evaluate, project, capsys)
    model = project / paths.MODEL
    assert (code, err) == (
        1,
        f"fmnist evaluate: error: {model}: exported without the flag; rerun train\n",
    )
    assert files(project) == before
