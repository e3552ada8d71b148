"""The one error type a user can cause, and the wrapper that turns it into a one-line message."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

# What a newcomer has for a missing or damaged pipeline output: the make targets, not a stage.
RESTORE_HINT = "`make repro` builds it, or `make pull` fetches it from the team's DVC remote"


class FmnistError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


def run_stage(name: str, stage: Callable[[], int | None]) -> int:
    """Run a command's I/O function and map our errors to a message on stderr and exit code 1;
    its own exit code, if it returns one, otherwise 0."""
    try:
        code = stage()
    except FmnistError as error:
        print(f"fmnist {name}: error: {error}{_after_experiment()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fmnist {name}: interrupted", file=sys.stderr)
        return 130
    return code or 0


def _after_experiment() -> str:
    """What a failed `dvc exp run` in the workspace leaves behind, which DVC does not say: its
    -S values stay in params.yaml. (DVC names the experiment in DVC_EXP_NAME and the workspace
    in DVC_ROOT; a queued or --temp run works in a copy and leaves nothing.)"""
    root = os.environ.get("DVC_ROOT")
    if "DVC_EXP_NAME" not in os.environ or not root or Path(root).resolve() != Path.cwd().resolve():
        return ""
    return (
        "; `dvc exp run` left its -S values in params.yaml: `git checkout params.yaml` undoes them"
    )
