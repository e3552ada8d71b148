"""Shared fixtures: the real Fashion-MNIST data, verified, from whatever source set-up provided;
what takes long to make, made once per run for both xdist workers (the flag's profile and sets,
the reproduced project that the project copies start from); and the order of the files."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fmnist.core.dataset import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Split,
    to_split,
)
from fmnist.pipeline.params import load_params
from fmnist.pipeline.sources import default_sources
from fmnist.pipeline.stages.prepare import fetch_all

ROOT = Path(__file__).resolve().parents[1]

# The longest files first (pytest --durations), so that no xdist worker starts a long file while
# the other runs out of work (`make test` passes --no-loadscope-reorder, which keeps this order;
# xdist's own puts the files with most tests first). The first builds the session's reproduced
# run (`one_epoch_run`); the second needs none, and keeps the other core busy meanwhile. Files
# not listed follow in their usual order.
LONGEST_FIRST = [
    "tests/e2e/test_dvc_contract.py",
    "tests/pipeline/training/test_fit.py",
    "tests/pipeline/test_remote.py",
    "tests/e2e/test_dvc_runs.py",
    "tests/e2e/test_dvc_experiments.py",
    "tests/pipeline/stages/test_mains.py",
    "tests/e2e/test_interrupt.py",
    "tests/e2e/test_plots.py",
    "tests/serve/test_image.py",
    "tests/pipeline/training/test_export.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def real_content() -> dict[str, bytes]:
    """The four official files' decompressed content, verified by checksum."""
    params = load_params(ROOT / "params.yaml").prepare
    sources = default_sources(params.mirrors)
    return fetch_all(params, sources)


@pytest.fixture(scope="session")
def real_train(real_content) -> Split:
    return to_split(real_content[TRAIN_IMAGES.name], real_content[TRAIN_LABELS.name], "train")


@pytest.fixture(scope="session")
def real_test(real_content) -> Split:
    return to_split(real_content[TEST_IMAGES.name], real_content[TEST_LABELS.name], "test")


def session_run(request) -> Path | None:
    """The session's reproduced project when this pytest run builds it anyway (the full suite):
    the flag's sets and profile there are what the real stages wrote. None otherwise (the fast
    tier), and the fixtures below make them in-process."""
    if any("one_epoch_run" in item.fixturenames for item in request.session.items):
        return request.getfixturevalue("one_epoch_run").project
    return None


@pytest.fixture(scope="session")
def ood_sets_file(request, real_test, tmp_path_factory) -> Path:
    """data/ood_sets.npz as the ood_sets stage writes it from the real test split (made once per
    run, like the profile below: both workers would otherwise spend the time)."""
    from fmnist.core import paths
    from fmnist.core.dataset import save_split
    from fmnist.pipeline.stages import ood_sets

    if (project := session_run(request)) is not None:
        return project / paths.OOD_SETS

    def make(root: Path) -> None:
        kept = sets_cache(real_test)
        if kept.exists():
            (root / paths.OOD_SETS).parent.mkdir(parents=True)
            shutil.copyfile(kept, root / paths.OOD_SETS)
            return
        save_split(root / paths.TEST_NPZ, real_test)
        assert ood_sets.main(["--root", str(root)]) == 0
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / paths.OOD_SETS, kept.with_suffix(".part"))
        kept.with_suffix(".part").replace(kept)

    return made_once(session_folder(tmp_path_factory) / "ood_sets", make) / paths.OOD_SETS


# What decides the sets' bytes: their code, decoding, the stage, the locked packages (the fonts
# and icon themes are pinned by hash inside things.py), and the test split.
_SETS_INPUTS = ("src/fmnist/pipeline/ood", "src/fmnist/core", "src/fmnist/pipeline/stages")
_SETS_FILES = ("src/fmnist/decoding.py", "src/fmnist/memory.py", "uv.lock")


def sets_cache(real_test: Split) -> Path:
    """Where the fast tier keeps the ood_sets stage's output between runs: the same code, data
    and packages make the same bytes, so an edit loop that changes none of them does not wait
    the stage's 30 s again. Keyed by all of them; the full suite never reads it (its sets are
    the reproduced run's)."""
    digest = hashlib.sha256(real_test.images.tobytes())
    files = [p for folder in _SETS_INPUTS for p in sorted((ROOT / folder).rglob("*.py"))]
    for path in [*files, *(ROOT / name for name in _SETS_FILES)]:
        digest.update(f"{path.relative_to(ROOT)}\n".encode() + path.read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fmnist" / "test-ood-sets" / f"{digest.hexdigest()[:32]}.npz"


@pytest.fixture(scope="session")
def profile(request, real_train, tmp_path_factory) -> bytes:
    """The input profile train fits on the real training split (fmnist.ood), as bytes."""
    from fmnist.core import paths
    from fmnist.pipeline.ood.fit_profile import fit_on_training
    from fmnist.pipeline.ood.profile_format import to_bytes

    if (project := session_run(request)) is not None:
        return (project / paths.OOD_PROFILE).read_bytes()

    def make(folder: Path) -> None:
        fitted = fit_on_training(real_train.images, real_train.labels, 10)
        (folder / "ood_profile.bin").write_bytes(to_bytes(fitted))

    shared = made_once(session_folder(tmp_path_factory) / "profile", make)
    return (shared / "ood_profile.bin").read_bytes()


# The trained fixture's temperature: set, not fitted (train fits it on a twin:
# tests/pipeline/training/test_temperature.py), so tests can hold the probabilities to it.
TEMPERATURE = 1.25


@pytest.fixture(scope="session")
def trained(real_train, real_test, profile, tmp_path_factory):
    """A real model: one epoch on the real training set, saved and exported as train does.

    Returns the Keras model and the path of its model.tflite (model.keras lies beside it).
    """
    # TensorFlow is imported here, not at collection, so tests that never train start fast.
    from fmnist.pipeline.ood.profile_format import from_bytes
    from fmnist.pipeline.training.fit import fit, make_deterministic
    from fmnist.pipeline.training.flag_fit import export_with_flag
    from fmnist.pipeline.training.network import build_model, save_model

    params = load_params(ROOT / "params.yaml").train
    make_deterministic(params.seed)
    model = build_model(params)
    fit(model, real_train, 1, params.batch_size, params.seed)
    folder = tmp_path_factory.mktemp("model")
    save_model(model, folder / "model.keras")
    tflite = export_with_flag(
        model, from_bytes(profile), real_train.images, real_test.images[:1000], False, TEMPERATURE
    )
    (folder / "model.tflite").write_bytes(tflite)
    return model, folder / "model.tflite"


def session_folder(tmp_path_factory) -> Path:
    """A folder that every xdist worker of this pytest run shares (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Held by one process at a time, released when the holder ends, even by a crash."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def made_once(folder: Path, make: Callable[[Path], None]) -> Path:
    """`folder`, filled by `make` once for every process that asks (both xdist workers of a run):
    the first does the work under a file lock, the others wait for it and read what it made."""
    with exclusive(folder.with_name(f"{folder.name}.lock")):
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)  # what an attempt that failed left
            folder.mkdir(parents=True)
            make(folder)
            (folder / ".made").touch()
    return folder


@pytest.fixture(scope="session")
def one_epoch_run(tmp_path_factory):
    """The project with one epoch of training, reproduced by the real `dvc repro` from an empty
    cache once per pytest run, whichever worker asks first (tests/e2e/test_pipeline.py checks that
    run). Every other project copy starts from it (`project_copy.make_project`)."""
    from .project_copy import ONE_EPOCH, reproduce_once

    return reproduce_once(session_folder(tmp_path_factory) / "one-epoch-run", ONE_EPOCH)
