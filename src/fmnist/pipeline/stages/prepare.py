"""Stage prepare: fetch and verify the four IDX files, scale pixels to [0, 1], write the splits.

Imports no TensorFlow, so it starts in well under a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fmnist.core import paths
from fmnist.core.dataset import (
    RAW_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    save_split,
    to_split,
)
from fmnist.pipeline.params import PrepareParams, load_params
from fmnist.pipeline.sources import Source, default_sources, fetch
from fmnist.pipeline.stages.runner import stage_main


def fetch_all(params: PrepareParams, sources: list[Source]) -> dict[str, bytes]:
    """Verified decompressed content of every official file, by file name."""
    cache = paths.download_cache_dir()
    return {raw.name: fetch(raw, sources, cache, params.download_timeout_s) for raw in RAW_FILES}


def _run(root: Path) -> None:
    params = load_params(root / paths.PARAMS).prepare
    content = fetch_all(params, default_sources(params.mirrors))
    train = to_split(content[TRAIN_IMAGES.name], content[TRAIN_LABELS.name], "train")
    test = to_split(content[TEST_IMAGES.name], content[TEST_LABELS.name], "test")
    save_split(root / paths.TRAIN_NPZ, train)
    save_split(root / paths.TEST_NPZ, test)
    print(f"prepare: {len(train.labels)} train and {len(test.labels)} test images", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages prepare [--root DIR]`."""
    return stage_main("prepare", _run, argv)
