"""Stage prepare: fetch and verify the four IDX files, scale pixels to [0, 1], write the splits.

Imports no TensorFlow, so it starts in well under a second.
"""

from __future__ import annotations

import os
import sys

from fmnist import paths
from fmnist.dataset import (
    RAW_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    save_split,
    to_split,
)
from fmnist.errors import run_stage
from fmnist.params import PrepareParams, load_params
from fmnist.sources import Source, fetch, ordered_sources


def fetch_all(params: PrepareParams, sources: list[Source]) -> dict[str, bytes]:
    """Verified decompressed content of every official file, by file name."""
    cache = paths.download_cache_dir()
    return {raw.name: fetch(raw, sources, cache, params.download_timeout_s) for raw in RAW_FILES}


def _run() -> None:
    params = load_params().prepare
    sources = ordered_sources(os.environ.get(paths.DATA_ENV), paths.DEBIAN_DATA_DIR, params.mirrors)
    content = fetch_all(params, sources)
    train = to_split(content[TRAIN_IMAGES.name], content[TRAIN_LABELS.name], "train")
    test = to_split(content[TEST_IMAGES.name], content[TEST_LABELS.name], "test")
    save_split(paths.TRAIN_NPZ, train)
    save_split(paths.TEST_NPZ, test)
    print(f"prepare: {len(train.labels)} train and {len(test.labels)} test images", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.prepare`."""
    del argv
    return run_stage("prepare", _run)


if __name__ == "__main__":
    raise SystemExit(main())
