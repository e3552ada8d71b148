"""Stage train: fit the chosen network on the training split; save the model, its LiteRT export
and the curves."""

from __future__ import annotations

import time

from dvclive import Live

from fmnist import paths
from fmnist.atomic import write_bytes
from fmnist.dataset import load_split
from fmnist.errors import run_stage
from fmnist.export import AGREEMENT_IMAGES, export
from fmnist.fit import fit, make_deterministic
from fmnist.memory import available_memory
from fmnist.model import build_model, check_memory, save_model, uses_xla
from fmnist.params import load_params


def log_epoch(live: Live, row: dict) -> None:
    """One epoch's curves through dvclive: train/* from the batches, test/* for monitoring."""
    live.log_metric("train/loss", row["loss"])
    live.log_metric("train/accuracy", row["accuracy"])
    live.log_metric("test/loss", row["held_out_loss"])
    live.log_metric("test/accuracy", row["held_out_accuracy"])
    live.next_step()


def _run() -> None:
    params = load_params().train
    train, test = load_split(paths.TRAIN_NPZ), load_split(paths.TEST_NPZ)
    make_deterministic(params.seed)
    model = build_model(params, len(train.labels))
    check_memory(params, model.count_params(), len(test.labels), available_memory())
    # dvcyaml=None: dvc.yaml is ours and declares the plots; no experiment saving, no report.
    with Live(str(paths.TRAIN_LIVE), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        start = time.perf_counter()
        history = fit(
            model,
            train,
            params.epochs,
            params.batch_size,
            params.seed,
            held_out=test,
            on_epoch=lambda row: log_epoch(live, row),
            jit_compile=uses_xla(params),
        )
        fit_s = time.perf_counter() - start
    start = time.perf_counter()
    # Checked against Keras on real images before it is written: what ships computes the same.
    tflite = export(model, test.images[:AGREEMENT_IMAGES])
    export_s = time.perf_counter() - start
    save_model(model, paths.KERAS_MODEL)
    write_bytes(paths.MODEL, tflite)
    last = history[-1]
    print(
        f"train: {params.epochs} epochs in {fit_s:.2f} s, loss {last['loss']:.4f}, "
        f"accuracy {last['accuracy']:.4f} (test, monitored only: {last['held_out_accuracy']:.4f}); "
        f"{paths.MODEL} exported in {export_s:.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.train`."""
    del argv
    return run_stage("train", _run)


if __name__ == "__main__":
    raise SystemExit(main())
