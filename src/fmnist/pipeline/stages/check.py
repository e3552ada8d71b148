"""Stage check: the whole params.yaml through the strict loader, before any other stage runs.

DVC deletes a stage's previous outputs before it runs the stage's command, so a stage that
refuses its params has already lost them. This stage comes first (prepare depends on its one
output): a bad key anywhere stops `dvc repro` here, and nothing else is touched. Its output
never changes, so passing it reruns nothing downstream.
"""

from __future__ import annotations

from pathlib import Path

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.pipeline.params import load_params
from fmnist.pipeline.stages.runner import stage_main

CHECKED = "params.yaml passed fmnist's checks\n"


def _run(root: Path) -> None:
    load_params(root / paths.PARAMS)
    write_bytes(root / paths.PARAMS_CHECKED, CHECKED.encode())


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages check [--root DIR]`."""
    return stage_main("check", _run, argv)
