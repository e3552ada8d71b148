"""Stage profile: the class models of the "not like Fashion-MNIST" flag's pixel checks, fitted on
the training split alone (fmnist.pipeline.ood.fit_profile); train builds them into
model.tflite's graph with the rest of the flag."""

from __future__ import annotations

import time
from pathlib import Path

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.core.dataset import CLASS_NAMES, load_split
from fmnist.pipeline.ood.fit_profile import fit_on_training
from fmnist.pipeline.ood.profile_format import to_bytes
from fmnist.pipeline.stages.runner import stage_main


def _run(root: Path) -> None:
    start = time.perf_counter()
    train = load_split(root / paths.TRAIN_NPZ)
    data = to_bytes(fit_on_training(train.images, train.labels, len(CLASS_NAMES)))
    write_bytes(root / paths.OOD_PROFILE, data)
    print(
        f"profile: {root / paths.OOD_PROFILE} ({len(data):,} bytes) fitted in "
        f"{time.perf_counter() - start:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages profile [--root DIR]`."""
    return stage_main("profile", _run, argv)
