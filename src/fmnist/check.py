"""Stage check: the whole params.yaml through the strict loader, before any other stage runs.

DVC deletes a stage's previous outputs before it runs the stage's command, so a stage that
refuses its params has already lost them. This stage comes first (prepare depends on its one
output): a bad key anywhere stops `dvc repro` here, and nothing else is touched. Its output
never changes, so passing it reruns nothing downstream.
"""

from __future__ import annotations

from fmnist import paths
from fmnist.atomic import write_bytes
from fmnist.errors import run_stage
from fmnist.params import load_params

CHECKED = "params.yaml passed fmnist's checks\n"


def _run() -> None:
    load_params()
    write_bytes(paths.PARAMS_CHECKED, CHECKED.encode())


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.check`."""
    del argv
    return run_stage("check", _run)


if __name__ == "__main__":
    raise SystemExit(main())
