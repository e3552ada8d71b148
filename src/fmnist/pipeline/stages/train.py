"""Stage train: fit the chosen network on the training split; save the model, its LiteRT export
and the curves."""

from __future__ import annotations

import time
from pathlib import Path

from dvclive import Live

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.core.dataset import load_split
from fmnist.memory import available_memory
from fmnist.pipeline.ood.profile_format import from_bytes, read_profile
from fmnist.pipeline.params import load_params
from fmnist.pipeline.stages.runner import stage_main
from fmnist.pipeline.training.export import AGREEMENT_IMAGES
from fmnist.pipeline.training.fit import fit, make_deterministic
from fmnist.pipeline.training.flag_fit import export_with_flag
from fmnist.pipeline.training.network import (
    build_model,
    check_memory,
    save_model,
    scoring_batch,
    uses_xla,
)
from fmnist.pipeline.training.temperature import twin_temperature


def log_epoch(live: Live, row: dict) -> None:
    """One epoch's curves through dvclive: train/* from the batches, test/* for monitoring."""
    live.log_metric("train/loss", row["loss"])
    live.log_metric("train/accuracy", row["accuracy"])
    live.log_metric("test/loss", row["held_out_loss"])
    live.log_metric("test/accuracy", row["held_out_accuracy"])
    live.next_step()


def _run(root: Path) -> None:
    params = load_params(root / paths.PARAMS).train
    train, test = load_split(root / paths.TRAIN_NPZ), load_split(root / paths.TEST_NPZ)
    profile = from_bytes(read_profile(root / paths.OOD_PROFILE))  # refused before training
    weights = build_model(params, len(train.labels)).count_params()
    check_memory(params, weights, len(test.labels), available_memory())  # before the twin too
    start = time.perf_counter()
    temperature = twin_temperature(params, train)
    twin_s = time.perf_counter() - start
    make_deterministic(params.seed)
    model = build_model(params, len(train.labels))
    # dvcyaml=None: dvc.yaml is ours and declares the plots; no experiment saving, no report.
    with Live(str(root / paths.TRAIN_LIVE), dvcyaml=None, save_dvc_exp=False, report=None) as live:
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
            flip=params.flip,
            shift=params.shift,
            label_smoothing=params.label_smoothing,
            score_batch=scoring_batch(params),
        )
        fit_s = time.perf_counter() - start
        live.summary["temperature"] = temperature.value
    start = time.perf_counter()
    # Checked against Keras on real images before it is written: what ships computes the same.
    checks = test.images[:AGREEMENT_IMAGES]
    tflite = export_with_flag(
        model, profile, train.images, checks, params.test_time_flip, temperature.value
    )
    export_s = time.perf_counter() - start
    save_model(model, root / paths.KERAS_MODEL)
    write_bytes(root / paths.MODEL, tflite)
    last = history[-1]
    print(
        f"train: {params.epochs} epochs in {fit_s:.2f} s, loss {last['loss']:.4f}, "
        f"accuracy {last['accuracy']:.4f} (test, monitored only: {last['held_out_accuracy']:.4f}); "
        f"temperature {temperature.value:.3f} from a twin on {temperature.held_out:,} held-out "
        f"training images (its accuracy there {temperature.twin_accuracy:.4f}, its fit "
        f"{twin_s:.2f} s); the flag fitted and {root / paths.MODEL} exported in {export_s:.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m fmnist.pipeline.stages train [--root DIR]`."""
    return stage_main("train", _run, argv)
