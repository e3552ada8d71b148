"""Helpers for tests that run the real `dvc` on a temporary copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import ROOT

# Everything a user's clone holds except the committed run's outputs, which the tests recreate.
_LEFT_OUT = {"dvc.lock", "metrics", "reports"}


def project_files() -> list[str]:
    """Files git tracks or would track (untracked, not ignored) in the project."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and Path(name).parts[0] not in _LEFT_OUT]


def project_env(project: Path) -> dict[str, str]:
    """The environment `make` gives stages, with a copy's own code first.

    PATH puts this environment's `python` first; PYTHONPATH makes the stages' command (`python -m
    fmnist.pipeline.stages NAME`) import the copy's src/, not the editable install under test.
    """
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
    }


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command in a project copy, as `make` would."""
    result = subprocess.run(args, cwd=cwd, env=project_env(cwd), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check=check)


def make_project(target: Path, overrides: dict[str, dict] | None = None) -> Path:
    """Copy the project into `target` as a fresh git repository, with params overridden."""
    for name in project_files():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    set_params(target, overrides or {})
    run(["git", "init", "-q"], target)
    commit(target, "copy of the project")
    return target


def _merge(tree: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict):
            _merge(tree[key], value)
        else:
            tree[key] = value


def set_params(project: Path, overrides: dict[str, dict]) -> None:
    """Override params.yaml keys, nested mappings key by key (`{"train": {"cnn": {...}}}`)."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    _merge(params, overrides)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def commit(project: Path, message: str) -> None:
    """Commit everything git does not ignore, as a user commits a run."""
    run(["git", "add", "-A"], project)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    run(["git", *identity, "commit", "-q", "--allow-empty", "-m", message], project)


def ran_stages(output: str) -> list[str]:
    """The stages a `dvc repro` output says it ran, in order."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def status(project: Path) -> set[str]:
    """The stages `dvc status` reports as changed."""
    return set(json.loads(dvc(project, "status", "--json").stdout))


def head(project: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], project).stdout.strip()


def reset(project: Path, commit_id: str) -> None:
    """Back to a committed state: git's files and, from the DVC cache, the data and model."""
    # Without its index git rewrites every file. With it, a same-size edit made in the second
    # the file was checked out can look unmodified (racy git: 60 -> 30 in params.yaml did).
    (project / ".git" / "index").unlink()
    run(["git", "reset", "-q", "--hard", commit_id], project)
    run(["git", "clean", "-q", "-fd"], project)
    dvc(project, "checkout", "--force")
    run(["git", "diff", "--exit-code"], project)  # dvc checkout changed nothing git tracks


def restored_stages(output: str) -> list[str]:
    """The stages a `dvc repro` output says it restored from the run-cache instead of running."""
    return [line.split("'")[1] for line in output.splitlines() if "is cached - skipping" in line]
