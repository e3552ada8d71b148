"""What every stage's `main(argv)` shares: the arguments and the mapping of errors to exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from fmnist.core.errors import run_stage


def stage_main(name: str, run: Callable[[Path], None], argv: list[str] | None) -> int:
    """Parse a stage's arguments (the project root, default the working directory, where DVC
    runs it) and run it, mapping our errors to one line and an exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m fmnist.pipeline.stages {name}")
    parser.add_argument(
        "--root", type=Path, default=Path(), help="the project's root (default: here)"
    )
    root = parser.parse_args(argv).root
    return run_stage(name, lambda: run(root))
