"""The one error type a user can cause, and the wrapper that turns it into a one-line message."""

from __future__ import annotations

import sys
from collections.abc import Callable


class FmnistError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


def run_stage(name: str, stage: Callable[[], int | None]) -> int:
    """Run a command's I/O function and map our errors to a message on stderr and exit code 1;
    its own exit code, if it returns one, otherwise 0."""
    try:
        code = stage()
    except FmnistError as error:
        print(f"fmnist {name}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fmnist {name}: interrupted", file=sys.stderr)
        return 130
    return code or 0
