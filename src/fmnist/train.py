"""Stage train: fit the tutorial's network on the training split; save model and history."""

from __future__ import annotations

import time

from fmnist import paths
from fmnist.atomic import write_json
from fmnist.dataset import load_split
from fmnist.errors import run_stage
from fmnist.fit import fit, make_deterministic
from fmnist.model import build_model, save_model
from fmnist.params import load_params


def _run() -> None:
    params = load_params().train
    train = load_split(paths.TRAIN_NPZ)
    make_deterministic(params.seed)
    model = build_model(params)
    start = time.perf_counter()
    history = fit(model, train, params.epochs, params.batch_size, params.seed)
    fit_s = time.perf_counter() - start
    save_model(model, paths.MODEL)
    write_json(paths.TRAIN_HISTORY, history)
    last = history[-1]
    print(
        f"train: {params.epochs} epochs in {fit_s:.2f} s, "
        f"loss {last['loss']:.4f}, accuracy {last['accuracy']:.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.train`."""
    del argv
    return run_stage("train", _run)


if __name__ == "__main__":
    raise SystemExit(main())
