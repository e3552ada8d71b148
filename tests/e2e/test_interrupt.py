"""Killed or corrupted mid-pipeline: a clear error, no half-written output, a clean recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ..pipeline import dvc, make_project, project_env, ran_stages, restored_stages

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow

MODEL = "models/model.tflite"
KERAS_MODEL = "models/model.keras"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("interrupt"))
    dvc(path, "repro", "prepare")
    return path


def leftovers(project: Path) -> list[Path]:
    """Temporary files our atomic writes would leave if they were not atomic."""
    return [p for p in project.rglob(".*.tmp")]


def start_repro(project: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "--force", "--single-item", "train"],
        cwd=project,
        env=project_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C would reach
    )


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # exited, or a zombie, between listing and reading
        return []


def wait_for_training(repro: subprocess.Popen, project: Path) -> psutil.Process:
    """The train stage's Python process (not the shell DVC runs it in), once this run has logged
    its first epoch, so that training is under way."""
    started = time.time()
    metrics = project / "reports/live/metrics.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stages = [
            child
            for child in psutil.Process(repro.pid).children(recursive=True)
            if _cmdline(child)[1:] == ["-m", "fmnist.stages", "train"]
        ]
        if stages and metrics.exists() and metrics.stat().st_mtime >= started:
            return stages[0]
        time.sleep(0.05)
    raise AssertionError("training never started")


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_interrupted_training_recovers_to_the_same_model(project, how):
    repro = start_repro(project)
    stage = wait_for_training(repro, project)
    if how == "SIGINT":
        os.killpg(repro.pid, signal.SIGINT)  # Ctrl-C: dvc and the stage both get it
    else:
        stage.kill()  # the stage dies without a chance to clean up
    output, _ = repro.communicate(timeout=120)
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
