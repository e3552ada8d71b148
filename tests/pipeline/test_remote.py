"""The team workflow against a real S3 server (`rclone serve s3` on loopback): push, pull in a
fresh clone, experiments and the run-cache across clones, the model as an artifact, faults."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist.pipeline import remote

from ..project_copy import (
    ONE_EPOCH,
    Reproduced,
    commit,
    dvc,
    link_cache,
    make_project,
    project_env,
    ran_stages,
    restored_stages,
    run,
    set_params,
)

pytestmark = pytest.mark.slow

ALL_STAGES = ["check", "prepare", "ood_sets", "profile", "train", "evaluate", "predict"]
TRACKED = [
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/model.keras",
    "models/model.tflite",
    "reports/live/metrics.json",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reaped(server: remote.Server) -> remote.Server:
    """`server`, whose rclone this process started, waited for in a thread: once stopped it is
    gone at once, not a zombie child that `remote.stop` takes for a live server for 5 s."""

    def wait() -> None:
        with contextlib.suppress(ChildProcessError):  # subprocess may have reaped it first
            os.waitpid(server.pid, 0)

    threading.Thread(target=wait, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real S3 server of its own for this module, on a free loopback port, stopped at the end."""
    root = tmp_path_factory.mktemp("s3")
    started = reaped(remote.start(free_port(), root))
    yield started, root
    remote.stop(root)


@pytest.fixture(scope="module")
def origin(tmp_path_factory, server, one_epoch_run):
    """A bare git origin and clone A, whose one-epoch run is committed, pushed and dvc-pushed.

    A's cache holds the session's run and nothing else: its repro restores every stage from the
    run-cache, and `dvc push --run-cache` sends that run as a run of A's own."""
    base = tmp_path_factory.mktemp("team")
    run(["git", "init", "-q", "--bare", "-b", "main", str(base / "origin.git")], base)
    a = make_project(base / "a", ONE_EPOCH, one_epoch_run)
    output = dvc(a, "repro").stdout
    assert restored_stages(output) == ALL_STAGES and ran_stages(output) == [], output
    commit(a, "a one-epoch run")
    run(["git", "remote", "add", "origin", str(base / "origin.git")], a)
    run(["git", "push", "-q", "origin", "HEAD:main"], a)
    remote.configure(a, server[0])
    dvc(a, "push", "--run-cache")
    return base, a, digests(a, TRACKED)


def digests(project: Path, names: list[str]) -> dict[str, str]:
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in names}


def clone(
    base: Path, name: str, server: remote.Server, start_from: Reproduced | None = None
) -> Path:
    """A clone of origin with the remote configured; its cache empty, or holding `start_from`."""
    run(["git", "clone", "-q", "-b", "main", str(base / "origin.git"), str(base / name)], base)
    remote.configure(base / name, server)
    if start_from is not None:
        link_cache(base / name, start_from)
    return base / name


def test_credentials_live_only_in_config_local(origin):
    _, a, _ = origin
    local = (a / ".dvc/config.local").read_text()
    assert "secret_access_key" in local and "endpointurl" in local
    tracked = run(["git", "ls-files"], a).stdout.split()
    assert ".dvc/config.local" not in tracked
    assert run(["git", "status", "--porcelain"], a).stdout == ""
    for name in tracked:
        text = (a / name).read_bytes()
        assert b"secret_access_key" not in text or name.endswith((".py", ".md")), name


def test_repository_commits_no_credentials():
    from ..conftest import ROOT

    committed = (ROOT / ".dvc/config").read_text()
    assert "secret" not in committed and "access_key" not in committed
    assert "/config.local" in (ROOT / ".dvc/.gitignore").read_text().split()


def test_a_fresh_clone_is_ready_with_dvc_pull(origin, server, tmp_path):
    base, _a, committed = origin
    b = clone(base, "b", server[0])
    pulled = dvc(b, "pull")
    assert "Everything is up to date" not in pulled.stdout
    assert digests(b, TRACKED) == committed
    output = dvc(b, "repro").stdout
    assert ran_stages(output) == [] and restored_stages(output) == []
    assert [line for line in output.splitlines() if line.startswith("Stage")] == [
        f"Stage '{stage}' didn't change, skipping" for stage in ALL_STAGES
    ]
    assert run(["git", "status", "--porcelain"], b).stdout == ""
    test = np.load(b / "data/prepared/test.npz")["images"]
    Image.fromarray(np.rint(test[0] * 255).astype(np.uint8)).save(tmp_path / "boot.png")
    script = Path(sys.executable).parent / "fmnist"
    predicted = subprocess.run(
        [script, "predict", tmp_path / "boot.png"], cwd=b, capture_output=True, text=True
    )
    assert predicted.returncode == 0 and ": Ankle boot " in predicted.stdout, predicted.stderr


def exp_names(project: Path) -> set[str]:
    shown = json.loads(dvc(project, "exp", "show", "--json").stdout)
    return {
        experiment["name"]
        for commit_row in shown
        for experiment in (commit_row.get("experiments") or [])
        if experiment.get("name")
    }


def test_experiments_travel_between_clones(origin, server, one_epoch_run):
    base, a, _committed = origin
    # Seed 7, which the run-cache and artifact tests below ask for again in A: A's own run-cache
    # answers them (whether they train or restore, they assert the same).
    dvc(a, "exp", "run", "-n", "seed-7", "-S", "train.seed=7")
    model = digests(a, ["models/model.tflite"])
    dvc(a, "exp", "push", "origin", "seed-7")
    # B's cache starts from the session's run, as a teammate's holds the data already: its
    # experiment trains, the data and the profile are restored. A's model is not in it.
    b = clone(base, "exp-b", server[0], one_epoch_run)
    dvc(b, "exp", "run", "-n", "seed-2", "-S", "train.seed=2")
    dvc(b, "exp", "push", "origin", "seed-2")
    dvc(b, "exp", "pull", "origin", "seed-7")
    applied = dvc(b, "exp", "apply", "seed-7")
    assert "Running stage" not in applied.stdout
    assert digests(b, ["models/model.tflite"]) == model  # A's bytes, without training
    # A sweep split across A and B, seen in one table from a third clone.
    c = clone(base, "exp-c", server[0], one_epoch_run)
    dvc(c, "exp", "pull", "origin", "seed-7", "seed-2")
    assert {"seed-7", "seed-2"} <= exp_names(c)


def test_run_cache_restores_training_in_another_clone(origin, server):
    base, a, _committed = origin
    set_params(a, {"train": {"seed": 7}})
    dvc(a, "repro")
    dvc(a, "push", "--run-cache")
    model = digests(a, ["models/model.tflite"])
    run(["git", "checkout", "-q", "--", "."], a)
    dvc(a, "checkout", "--force")
    b = clone(base, "cache-b", server[0])
    set_params(b, {"train": {"seed": 7}})
    output = dvc(b, "repro", "--pull").stdout
    assert "train" in restored_stages(output) and "train" not in ran_stages(output), output
    # Their metrics and plots are git's, not the cache's: these two run again (README).
    assert ran_stages(output) == ["evaluate", "predict"], output
    assert digests(b, ["models/model.tflite"]) == model
    # The pull-request report of this clone against main, as CI posts it.
    run([sys.executable, "-m", "fmnist.pipeline.report", "main"], b)
    report = (b / "build/report.md").read_text()
    assert re.search(r"\| params\.yaml +\| train\.seed +\| 42 +\| 7 +\|", report), report
    assert re.search(r"\| metrics/evaluate\.json +\| test_accuracy +\| 0\.\d+ +\| 0\.\d+", report)
    assert re.search(
        r"\| Shirt \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \|", report
    )
    assert "![confusion](reports/figures/confusion.png)" in report


def tag_version(project: Path, version: str) -> None:
    """A GTO-style version tag of the model artifact, pushed to origin."""
    tag = f"fmnist-classifier@{version}"
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    run(["git", *identity, "tag", "-a", tag, "-m", f"fmnist-classifier {version}"], project)
    run(["git", "push", "-q", "origin", tag], project)


def get_artifact(base: Path, server_root: Path, out: Path, *version: str) -> str:
    """`dvc artifacts get` from a directory outside any clone; the fetched file's digest."""
    out.mkdir()
    dvc(
        out,
        "artifacts",
        "get",
        str(base / "origin.git"),
        "fmnist-classifier",
        *version,
        "--config",
        str(server_root / "remote.config"),
    )
    return digests(out, ["model.tflite"])["model.tflite"]


def test_the_model_is_a_versioned_artifact_fetched_from_outside(origin, server, tmp_path):
    base, a, committed = origin
    tag_version(a, "v1.0.0")
    # Seed 7 again (see test_experiments_travel_between_clones).
    set_params(a, {"train": {"seed": 7}})
    dvc(a, "repro")
    commit(a, "seed 7")
    run(["git", "push", "-q", "origin", "HEAD:main"], a)
    dvc(a, "push")
    tag_version(a, "v1.1.0")
    newer = digests(a, ["models/model.tflite"])["models/model.tflite"]
    assert newer != committed["models/model.tflite"]
    assert get_artifact(base, server[1], tmp_path / "latest") == newer
    assert (
        get_artifact(base, server[1], tmp_path / "v1", "--rev", "v1.0.0")
        == committed["models/model.tflite"]
    )


def make_remote(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`make push` / `make pull`'s command, run in a clone (with `env` added to its environment)."""
    return subprocess.run(
        [sys.executable, "-m", "fmnist.pipeline.remote", *args],
        cwd=project,
        env={**project_env(project), **(env or {})},
        capture_output=True,
        text=True,
    )


def test_a_server_that_is_down_gets_a_hint(origin, server):
    base, _a, _committed = origin
    b = clone(base, "down-b", server[0])
    remote.configure(b, remote.Server(0, free_port(), "nobody", "nothing"))
    # One attempt: botocore's retries (about 6 s of back-off) end in the same refusal.
    pulled = make_remote(b, "pull", env={"AWS_MAX_ATTEMPTS": "1"})
    assert pulled.returncode != 0
    assert "hint: no S3 server answers at the remote's endpoint; `make remote-up`" in pulled.stderr


def test_wrong_credentials_get_a_hint(origin, server):
    base, _a, _committed = origin
    b = clone(base, "keys-b", server[0])
    good = server[0]
    remote.configure(b, remote.Server(good.pid, good.port, good.access_key_id, "wrong-secret"))
    pulled = make_remote(b, "pull")
    assert pulled.returncode != 0 and "(403)" in pulled.stdout + pulled.stderr
    assert "hint: the remote refused the credentials in .dvc/config.local" in pulled.stderr


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def kill_midway(command: list[str], cwd: Path, watched: Path, kill) -> int:
    """Start `command`; once 20 MB have arrived in `watched`, call kill(process). The exit code."""
    process = subprocess.Popen(
        command, cwd=cwd, env=project_env(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if watched.exists() and size(watched) > 20_000_000:
            kill(process)
            break
        time.sleep(0.02)
    return process.wait(timeout=60)


def test_interrupted_push_and_pull_complete_on_rerun(origin, server, tmp_path, one_epoch_run):
    base, _a, _committed = origin
    # E holds the data already, as a teammate's clone does: its pull fetches only what main
    # committed since. F, below, starts empty.
    e = clone(base, "fault-e", server[0], one_epoch_run)
    dvc(e, "pull")
    pulled = digests(e, TRACKED)
    # A second server, killed in the middle of a push and started again on the same objects.
    root, port = tmp_path / "s3", free_port()
    first = reaped(remote.start(port, root))
    try:
        assert remote.start(port, root).pid == first.pid  # idempotent: the same server
        remote.configure(e, first)
        push = [sys.executable, "-m", "dvc", "push"]
        assert kill_midway(push, e, root / "data", lambda _: remote.stop(root)) != 0
        second = reaped(remote.start(port, root))
        # A new process with the same keys: the clones configured before still get in.
        assert second.pid != first.pid and second.secret_access_key == first.secret_access_key
        assert dvc(e, "push").returncode == 0
        assert digests(e, TRACKED) == pulled  # the local cache is intact
        f = clone(base, "fault-f", second)
        pull = [sys.executable, "-m", "dvc", "pull"]
        assert kill_midway(pull, f, f / ".dvc/cache", lambda process: process.kill()) != 0
        dvc(f, "pull")
        assert digests(f, TRACKED) == pulled  # nor is the remote corrupted
        assert dvc(f, "status", "--cloud").stdout.strip().endswith("are in sync.")
    finally:
        remote.stop(root)


def test_make_targets_start_once_configure_and_stop(origin, tmp_path):
    base, _a, _committed = origin
    clone_dir = base / "targets"
    run(["git", "clone", "-q", "-b", "main", str(base / "origin.git"), str(clone_dir)], base)
    env = {**project_env(clone_dir), "FMNIST_CACHE": str(tmp_path / "cache")}
    port = str(free_port())

    def target(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "fmnist.pipeline.remote", *args]
        return subprocess.run(command, cwd=clone_dir, env=env, capture_output=True, text=True)

    try:
        first, again = target("up", "--port", port), target("up", "--port", port)
        assert first.returncode == 0 and again.returncode == 0, first.stderr
        pid = json.loads((tmp_path / "cache/s3/server.json").read_text())["pid"]
        assert f"(pid {pid})" in first.stdout and f"(pid {pid})" in again.stdout
        assert (tmp_path / "cache/s3/keys.json").stat().st_mode & 0o077 == 0
        assert (
            f"endpointurl = http://127.0.0.1:{port}"
            in (clone_dir / ".dvc/config.local").read_text()
        )
        assert run(["git", "status", "--porcelain"], clone_dir).stdout == ""
        assert "running on" in target("status").stdout
    finally:
        assert target("down").stdout.strip() == "remote: stopped"
    assert target("down").stdout.strip() == "remote: no server was running"
