"""Killed or corrupted mid-pipeline: a clear error, no half-written output, a clean recovery."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..project_copy import dvc, make_project, project_env, ran_stages, restored_stages

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow

TWO_EPOCHS = {"train": {"epochs": 2}}
MODEL = "models/model.tflite"
KERAS_MODEL = "models/model.keras"


@pytest.fixture(scope="module")
def project(tmp_path_factory, one_epoch_run):
    """Two epochs: the interruption comes as the first one ends, with training under way."""
    path = make_project(tmp_path_factory.mktemp("interrupt"), TWO_EPOCHS, one_epoch_run)
    # train's inputs, the splits and the flag's profile, restored from the session's run.
    assert restored_stages(dvc(path, "repro", "profile").stdout) == ["prepare", "profile"]
    return path


def leftovers(project: Path) -> list[Path]:
    """Temporary files our atomic writes would leave if they were not atomic."""
    return [p for p in project.rglob(".*.tmp")]


# Loaded into every Python process of the interrupted run through PYTHONPATH: when the train
# stage opens dvclive's metrics.json to record its first epoch (training is under way, one
# epoch to go), it is interrupted there. A moment chosen by an event, not by a sleep, so a
# loaded machine tests the same moment as a quiet one.
SITECUSTOMIZE = """
import os, signal, sys

def _hook(event, args):
    if event != "open" or "w" not in str(args[1]):
        return
    if str(args[0]).endswith("reports/live/metrics.json"):
        if os.environ["FMNIST_TEST_HOW"] == "SIGINT":
            os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C: dvc and the stage both get it
        else:
            os.kill(os.getpid(), signal.SIGKILL)  # the stage dies without a chance to clean up

sys.addaudithook(_hook)
"""


def interrupted_repro(project: Path, how: str, folder: Path) -> subprocess.CompletedProcess:
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = project_env(project)
    env["PYTHONPATH"] = f"{folder}{os.pathsep}{env['PYTHONPATH']}"
    return subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "--force", "--single-item", "train"],
        cwd=project,
        env={**env, "FMNIST_TEST_HOW": how},
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C would reach
        # As from a terminal, whatever started this suite: with SIGINT not ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_interrupted_training_recovers_to_the_same_model(project, how, tmp_path):
    repro = interrupted_repro(project, how, tmp_path)
    output = repro.stdout + repro.stderr
    if how == "SIGINT":
        assert "fmnist train: interrupted" in output and "Traceback" not in output, output
    else:
        # Killed by signal 9: DVC reports -9 when the shell exec'd the stage, 137 (128 + 9) when a
        # shell that did not (which one runs depends on $SHELL and its version) saw it die.
        assert re.search(r"exited with (-9|137)\b", output), output
    assert repro.returncode != 0, output
    # No partial model where a good one belongs.
    assert not (project / MODEL).exists() and not (project / KERAS_MODEL).exists()
    assert leftovers(project) == []
    # Retrained, or (after an earlier test ran the same params) restored from the run-cache.
    output = dvc(project, "repro").stdout
    assert "train" in ran_stages(output) + restored_stages(output)
    assert "up to date" in dvc(project, "status").stdout
    recovered = (project / MODEL).read_bytes()
    assert ran_stages(dvc(project, "repro", "--force", "--single-item", "train").stdout) == [
        "train"
    ]
    assert (project / MODEL).read_bytes() == recovered  # what an uninterrupted run gives
