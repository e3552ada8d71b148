"""The DVC contract, proven on the real pipeline and data with the real `dvc`: reruns that change
nothing leave everything byte for byte as it was, the run-cache answers for a run it has seen,
`dvc metrics diff` and `dvc params diff` compare commits, and a fresh clone reproduces the
committed run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT
from ..project_copy import commit, dvc, link_cache, ran_stages, run, set_params, status
from .conftest import ALL, DOWNSTREAM_OF_TRAIN, snapshot

# Real dvc runs in project copies, and the like: the full suite only (make test).
pytestmark = pytest.mark.slow


def test_an_edit_that_keeps_the_output_reruns_no_downstream_stage(project, base):
    with (project / "src/fmnist/pipeline/stages/train.py").open("a") as handle:
        handle.write("\n# an edit that changes no behaviour\n")
    # train reruns, writes a byte-identical model, so evaluate and predict have nothing to do.
    assert ran_stages(dvc(project, "repro").stdout) == ["train"]
    for model in ("models/model.keras", "models/model.tflite"):
        assert (project / model).read_bytes() == base[2][model]
    assert status(project) == set()


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
    # --no-run-cache: this repro really trains, whatever an earlier test left in the cache.
    set_params(project, {"train": {"epochs": 3}})
    assert "Running stage 'train'" in dvc(project, "repro", "--no-run-cache").stdout
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


def test_forced_rerun_is_byte_identical(project, base):
    assert ran_stages(dvc(project, "repro", "--force").stdout) == ALL
    assert snapshot(project) == base[2]
    run(["git", "diff", "--exit-code"], project)


@pytest.fixture(scope="module")
def committed_clone(tmp_path_factory, one_epoch_run) -> Path:
    """A clone of this repository, reproduced: the committed model, data and metrics.

    Its cache starts from the session's run, which computed the data and the flag's sets and
    profile from the same files (when the tree is committed): those are restored, and train's
    ten epochs really run. evaluate and predict then find their inputs as the lock has them."""
    folder = tmp_path_factory.mktemp("committed")
    clone = folder / "clone"
    run(["git", "clone", "-q", str(ROOT), str(clone)], folder)
    link_cache(clone, one_epoch_run)
    assert "train" in ran_stages(dvc(clone, "repro").stdout)
    return clone


def test_fresh_clone_reproduces_the_committed_run(committed_clone):
    """The clone, reproduced, gives back the committed lock and metrics."""
    clone = committed_clone
    changed = run(["git", "status", "--porcelain"], clone).stdout
    assert changed == "", f"the committed run did not reproduce:\n{changed}"


def readme_section(title: str) -> str:
    """The README's text under `### title`, up to the next heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"### {title}\n")
    ends = [i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1)) if i > 0]
    return text[start : min(ends)]


def blocks(section: str, language: str = "") -> list[str]:
    """The fenced blocks of `section` in `language` (none: the plain blocks)."""
    parts = section.split("```")
    return [body[len(language) + 1 :] for body in parts[1::2] if body.startswith(language + "\n")]


def shell_steps(block: str) -> list[tuple[str, str]]:
    """Each `$ command` line of a block and the output lines printed under it."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


def fresh_shell(command: str, folder: Path) -> str:
    """`command` in a new bash in `folder`, with a PATH that does not hold the project's
    environment (as a user's new terminal), its output."""
    env = {**os.environ, "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    return done.stdout


def test_the_readmes_predict_and_serve_examples_run_as_printed(committed_clone, tmp_path):
    """The README's "Predict your own images" and "Serve it" examples, as written, on the
    committed model: from a new shell (the README's activation line puts fmnist on the PATH),
    against a real server; every output as the README prints it."""
    from ..serve.running import serving

    clone = committed_clone
    made = [clone / ".venv", clone / "boot.png", clone / "request.json"]
    (clone / ".venv").symlink_to(ROOT / ".venv")  # what `make repro` makes in a clone
    try:
        steps = shell_steps(blocks(readme_section("Predict your own images"))[0])
        assert [command.split()[0] for command, _ in steps] == ["source", "python", "fmnist"]
        script = "\n".join(["set -e", *(command for command, _ in steps)])  # comments end
        assert fresh_shell(script, clone).strip() == steps[-1][1]
        section = readme_section("Serve it")
        (python,) = blocks(section, "python")
        *_, printed = python.strip().splitlines()
        expected = printed.split("  # ", 1)[1]
        model = clone / "models/model.tflite"
        with serving(model, tmp_path, "--quiet", "--workers", "1") as server:
            here = f"127.0.0.1:{server.port}"
            code = python.replace("127.0.0.1:8080", here)
            ran = subprocess.run(
                [sys.executable, "-c", code], cwd=clone, capture_output=True, text=True, timeout=120
            )
            assert ran.returncode == 0, ran.stderr
            assert ran.stdout.strip() == expected
            for block in blocks(section):
                for command, output in shell_steps(block):
                    if command.startswith("make serve"):
                        continue  # the server itself: running above
                    command = command.replace("localhost:8080", here)
                    activated = f"source .venv/bin/activate && {command}"
                    assert fresh_shell(activated, clone).strip() == output, command
    finally:
        for path in made:
            path.unlink(missing_ok=True)
