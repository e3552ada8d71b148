"""Stage profile: what the "not like Fashion-MNIST" flag knows of clothing, fitted on the
training split alone (fmnist.pipeline.ood.fit_profile); train seals it into model.tflite."""

from __future__ import annotations

import time
from pathlib import Path

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.core.dataset import CLASS_NAMES, load_split
from fmnist.ood.profile_format import to_bytes
from fmnist.pipeline.ood.fit_profile import fit_on_training
from fmnist.pipeline.stages.runner import stage_main

# Draws the sizes and formats of the held-out images saved as files: fixed, so the profile
# depends on the training data and this code only, whatever the training params.
SEED = 24


def _run(root: Path) -> None:
    start = time.perf_counter()
    train = load_split(root / paths.TRAIN_NPZ)
    data = to_bytes(fit_on_training(train.images, train.labels, len(CLASS_NAMES), SEED))
    write_bytes(root / paths.OOD_PROFILE, data)
    print(
        f"profile: {root / paths.OOD_PROFILE} ({len(data):,} bytes) fitted in "
        f"{time.perf_counter() - start:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages profile [--root DIR]`."""
    return stage_main("profile", _run, argv)
