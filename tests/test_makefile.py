"""The Makefile as a newcomer meets it: `make` lists the targets, and a bad params.yaml stops
every target that reads it once, in one line, before the data step or DVC runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

# The targets that read params.yaml (through the data step, DVC or both).
READERS = ["check", "data", "repro", "cnn", "experiments", "plots", "report"]
READERS += ["test", "tests", "test-fast", "bench"]


def make(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`make` in `folder`, its environment taken as set up (`-o`: never re-synced)."""
    # Not the settings of a make this suite may run under (`make test`): MAKEFLAGS, MAKELEVEL.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.synced", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split()


def test_make_alone_lists_every_target_in_one_line_each():
    listed = make(ROOT)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    names = [line.split()[1] for line in lines]
    assert sorted(names) == sorted(set(phony_targets()) - {"help"})
    assert all(re.fullmatch(r"  make [a-z-]+ +\S.*", line) for line in lines), lines


def test_make_tests_runs_the_suite_like_make_test():
    dry = make(ROOT, "-n", "tests")
    assert dry.returncode == 0 and "pytest -n 2 --dist loadfile" in dry.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("epochs: 10", "epochs: 0"), "train.epochs: 0 is out of range, must be >= 1"),
        (
            ("  epochs: 10", "\tepochs: 10"),
            "params.yaml: a tab character at line 15, column 1; YAML indents with spaces only",
        ),
    ],
    ids=["out-of-range", "tab"],
)
def test_a_bad_param_stops_every_target_once_in_one_line(tmp_path, edit, message):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    params = (ROOT / "params.yaml").read_text()
    assert edit[0] in params
    (tmp_path / "params.yaml").write_text(params.replace(edit[0], edit[1]))
    for target in READERS:
        result = make(tmp_path, target)
        ours = [line for line in result.stderr.splitlines() if not line.startswith("make: *** ")]
        assert result.returncode != 0, target
        assert ours == [f"fmnist check: error: {message}"], (target, result.stderr)
        assert result.stdout == "", (target, result.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile", "params.yaml", "scripts"]
