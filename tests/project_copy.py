"""Helpers for tests that run the real `dvc` on a temporary copy of the project.

A test session reproduces the project for real once (`reproduce_once`, the `one_epoch_run`
fixture); the copies made from that run (`make_project(..., start_from=run)`) begin with a DVC
cache of their own that already holds it, so that their first `dvc repro` restores from DVC's
run-cache every stage whose code, inputs and params match, instead of computing it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .conftest import ROOT, made_once
from .warm_dvc import run_dvc

# Everything a user's clone holds except the committed run's outputs, which the tests recreate.
_LEFT_OUT = {"dvc.lock", "metrics", "reports"}

# The params of every project copy that starts from the session's run: one epoch of training,
# and a CNN a quarter as wide as the tuned one for the tests that choose it (`train.model=cnn`).
ONE_EPOCH = {"train": {"epochs": 1, "cnn": {"filters": [8, 16], "dense_units": 32}}}


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
    return _checked(result, check)


def _checked(result: subprocess.CompletedProcess, check: bool) -> subprocess.CompletedProcess:
    args = result.args
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m dvc *args` in a project copy, as `make` would run it (tests/warm_dvc.py)."""
    return _checked(run_dvc(list(args), cwd, project_env(cwd)), check)


@dataclass(frozen=True)
class Reproduced:
    """A project copy that the real `dvc repro` reproduced from an empty cache, once per session.

    Tests only read it: copies start from its files and its cache (`make_project`).
    """

    source: Path  # the project's files as the session found them, before any params override
    project: Path  # the reproduced copy
    stdout: str  # what that `dvc repro` printed
    stderr: str

    @property
    def cache(self) -> Path:
        return self.project / ".dvc" / "cache"


def make_project(
    target: Path, overrides: dict[str, dict] | None = None, start_from: Reproduced | None = None
) -> Path:
    """Copy the project into `target` as a fresh git repository, with params overridden.

    With `start_from`, the copy holds the files that run was made from (one snapshot for the
    session: an edit made to the tree while the suite runs cannot make two copies disagree) and a
    DVC cache of its own holding that run, so its first `dvc repro` restores every stage the
    overrides leave unchanged. Hard links: DVC names a cache file by its hash and never writes it
    in place, so what the copy adds to its cache stays its own.
    """
    if start_from is None:
        _copy_files(ROOT, project_files(), target)
    else:
        _copy_files(start_from.source, _files_under(start_from.source), target)
        link_cache(target, start_from)
    return _as_repository(target, overrides or {})


def link_cache(project: Path, start_from: Reproduced) -> None:
    """Give `project` a DVC cache of its own that already holds `start_from`'s run."""
    shutil.copytree(start_from.cache, project / ".dvc" / "cache", copy_function=os.link)


def _as_repository(project: Path, overrides: dict[str, dict]) -> Path:
    set_params(project, overrides)
    run(["git", "init", "-q"], project)
    commit(project, "copy of the project")
    return project


def reproduce_once(folder: Path, overrides: dict[str, dict]) -> Reproduced:
    """The project copied with `overrides` and reproduced by the real `dvc repro` from an empty
    cache, once for every process that asks with the same `folder` (`made_once`)."""

    def reproduce(folder: Path) -> None:
        _copy_files(ROOT, project_files(), folder / "source")
        _copy_files(folder / "source", _files_under(folder / "source"), folder / "project")
        result = dvc(_as_repository(folder / "project", overrides), "repro")
        (folder / "repro.json").write_text(json.dumps([result.stdout, result.stderr]))

    made_once(folder, reproduce)
    stdout, stderr = json.loads((folder / "repro.json").read_text())
    return Reproduced(folder / "source", folder / "project", stdout, stderr)


def _copy_files(source_root: Path, names: Iterable[str], target: Path) -> None:
    for name in names:
        source = source_root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _files_under(root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()]


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
