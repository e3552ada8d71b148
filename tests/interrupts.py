"""Ctrl-C at chosen moments, without timing: a `sitecustomize` that sends the process SIGINT at
its Nth Python audit event (imports, file opens, compiles, ...) once fmnist's guard is in place.

Sleeping a guessed delay before the signal tests a different moment on a loaded machine than on
a quiet one; counting events tests the same moment every time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

SITECUSTOMIZE = """
import json, os, signal, sys

_target = int(os.environ["FMNIST_TEST_INTERRUPT_AT"])
_report = os.environ["FMNIST_TEST_EVENTS"]
_count = 0
_done_at = None
_firing = False


def _hook(event, args):
    global _count, _done_at, _firing
    if _firing or getattr(sys.unraisablehook, "__module__", None) != "fmnist.entry":
        return  # the guard is not in place yet: the interpreter's own start-up
    _count += 1
    if _done_at is None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        _done_at = _count  # the command returned: the guard now ignores Ctrl-C
    if _count == _target:
        _firing = True
        os.kill(os.getpid(), signal.SIGINT)
        _firing = False


def _write():
    with open(_report, "w") as f:
        json.dump({"events": _count, "done_at": _done_at}, f)


import atexit
atexit.register(_write)
sys.addaudithook(_hook)
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    events: int
    done_at: int | None


def run_interrupted(command: list[str], at: int, folder: Path, cwd: Path | None = None) -> Run:
    """Run `command` with SIGINT sent at its `at`-th event after the guard (0: never)."""
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = folder / "events.json"
    report.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
        "FMNIST_TEST_INTERRUPT_AT": str(at),
        "FMNIST_TEST_EVENTS": str(report),
    }
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        # As from a terminal: a shell without job control starts background jobs, CI's among
        # them, with SIGINT ignored, and Python then installs no handler of its own.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    counted = json.loads(report.read_text()) if report.exists() else {}
    return Run(
        result.returncode,
        result.stdout,
        result.stderr,
        counted.get("events", 0),
        counted.get("done_at"),
    )
