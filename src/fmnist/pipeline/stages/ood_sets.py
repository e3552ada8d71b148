"""Stage ood_sets: the images the "not like Fashion-MNIST" flag is measured on, made offline
and byte-reproducibly, and test clothing as a user's files bring it."""

from __future__ import annotations

import time
from pathlib import Path

from fmnist.core import paths
from fmnist.core.dataset import load_split, save_arrays
from fmnist.pipeline.ood import clothing_files, sets
from fmnist.pipeline.ood.sets import CLOTHING_FILES, CLOTHING_FILES_KEY
from fmnist.pipeline.stages.runner import stage_main

SEED = 24


def _run(root: Path) -> None:
    start = time.perf_counter()
    test = load_split(root / paths.TEST_NPZ)
    arrays = {CLOTHING_FILES_KEY: clothing_files.as_files(test.images[:CLOTHING_FILES], SEED)}
    for number, ood_set in enumerate(sets.SETS):
        arrays[ood_set.name] = sets.build(ood_set, SEED + 1 + number)
    save_arrays(root / paths.OOD_SETS, arrays)
    count = sum(len(images) for name, images in arrays.items() if name != CLOTHING_FILES_KEY)
    print(
        f"ood_sets: {len(sets.SETS)} sets, {count:,} images, and {CLOTHING_FILES:,} test images "
        f"as files in {time.perf_counter() - start:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages ood_sets [--root DIR]`."""
    return stage_main("ood_sets", _run, argv)
