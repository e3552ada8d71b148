"""Tune the CNN on the seeded validation split: one candidate per call, one JSON line each.

`python bench/tune_cnn.py NAME '{"epochs": 10, "cnn": {"filters": [32, 64]}}'` trains
params.yaml's train section with those overrides (and model: cnn) on 54,000 training images,
scores the other 6,000 after every epoch, and appends the result to bench/tune_results.jsonl:
the last and best validation accuracy, the last one with flip averaging (the model on each
image and its mirror, logits averaged, as `train.test_time_flip` ships it) and the fit time.
Each result also scores weight averages (SWA-style: the mean of the weights at the end of
each of the last k epochs, for each k in AVERAGED_EPOCHS), with flip averaging, as
"val_averaged": measured here, not part of the recipe unless they win.
The test set is never read here. `python bench/tune_cnn.py --table` prints the results as the
README's table.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fmnist.core import paths  # noqa: E402
from fmnist.core.dataset import Split, load_split  # noqa: E402
from fmnist.pipeline.params import TrainParams, load_params  # noqa: E402
from fmnist.pipeline.training.export import shipped_model  # noqa: E402
from fmnist.pipeline.training.fit import fit, make_deterministic  # noqa: E402
from fmnist.pipeline.training.network import build_model, uses_xla  # noqa: E402

VALIDATION_SIZE = 6000
VALIDATION_SEED = 2024  # fixed apart from train.seed, so every candidate sees the same split
RESULTS = ROOT / "bench" / "tune_results.jsonl"
AVERAGED_EPOCHS = (3, 5, 10, 15)


def validation_split(train: Split) -> tuple[Split, Split]:
    """The seeded 54,000 / 6,000 split of the training set."""
    order = np.random.default_rng(VALIDATION_SEED).permutation(len(train.labels))
    fit_part, held = np.sort(order[VALIDATION_SIZE:]), np.sort(order[:VALIDATION_SIZE])
    return (
        Split(np.ascontiguousarray(train.images[fit_part]), train.labels[fit_part]),
        Split(np.ascontiguousarray(train.images[held]), train.labels[held]),
    )


def candidate(base: TrainParams, overrides: dict) -> TrainParams:
    """params.yaml's train section, as the CNN, with `overrides` (cnn: a dict of its own)."""
    cnn_overrides = overrides.pop("cnn", {})
    if "filters" in cnn_overrides:
        cnn_overrides["filters"] = tuple(cnn_overrides["filters"])
    cnn = dataclasses.replace(base.cnn, **cnn_overrides)
    return dataclasses.replace(base, model="cnn", cnn=cnn, **overrides)


def accuracy(model, split: Split) -> float:
    logits = model.predict(split.images, batch_size=500, verbose=0)
    logits = np.asarray(logits["logits"] if isinstance(logits, dict) else logits)
    return float(np.mean(logits.argmax(axis=1) == split.labels))


def averaged_scores(model, snapshots: list[list[np.ndarray]], validation: Split) -> dict:
    """Flip-averaged validation accuracy of the mean of the last k epochs' weights, per k; the
    model's own (last) weights are put back afterwards."""
    last, scores = model.get_weights(), {}
    for k in AVERAGED_EPOCHS:
        if k <= len(snapshots):
            model.set_weights([np.mean(ws, axis=0) for ws in zip(*snapshots[-k:], strict=True)])
            scores[str(k)] = accuracy(shipped_model(model, None, True, 1.0), validation)
    model.set_weights(last)
    return scores


def main(name: str, overrides_json: str) -> None:
    overrides = json.loads(overrides_json)
    params = candidate(load_params(ROOT / paths.PARAMS).train, dict(overrides))
    train, validation = validation_split(load_split(ROOT / paths.TRAIN_NPZ))
    make_deterministic(params.seed)
    model = build_model(params, len(train.labels))
    snapshots: list[list[np.ndarray]] = []
    most = max(AVERAGED_EPOCHS)

    def on_epoch(row: dict) -> None:
        print(json.dumps(row), flush=True)
        snapshots.append(model.get_weights())
        del snapshots[:-most]

    start = time.perf_counter()
    history = fit(
        model,
        train,
        params.epochs,
        params.batch_size,
        params.seed,
        held_out=validation,
        on_epoch=on_epoch,
        jit_compile=uses_xla(params),
        flip=params.flip,
        shift=params.shift,
        label_smoothing=params.label_smoothing,
    )
    fit_s = time.perf_counter() - start
    curve = [row["held_out_accuracy"] for row in history]
    result = {
        "name": name,
        "overrides": overrides,
        "parameters": model.count_params(),
        "epochs": params.epochs,
        "fit_s": round(fit_s, 1),
        # What 60,000 images would take at the same speed: the budget is for `make cnn`.
        "fit_s_60k": round(fit_s * 60_000 / len(train.labels), 1),
        "val_last": curve[-1],
        "val_best": max(curve),
        "val_flip_averaged": accuracy(shipped_model(model, None, True, 1.0), validation),
        "val_averaged": averaged_scores(model, snapshots, validation),
        "val_curve": curve,
    }
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result))


def table() -> str:
    """The results so far, one Markdown row per candidate, in the order they ran."""
    rows = [
        "| candidate | filters | dropout (conv, dense) | epochs | batch | Adam rate, warm-up | "
        "flip | shift | smoothing | "
        "fit, 60,000 images | validation last / best | with flip averaging | "
        "weights of the last 3 / 5 / 10 / 15 epochs averaged |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for line in RESULTS.read_text().splitlines():
        result = json.loads(line)
        given = result["overrides"]
        scores = result.get("val_averaged", {})
        averaged = " / ".join(f"{scores[str(k)]:.4f}" for k in AVERAGED_EPOCHS if str(k) in scores)
        rows.append(
            f"| {result['name']} | {given['cnn']['filters']} | "
            f"{given['cnn']['dropout']}, {given['cnn']['dense_dropout']} | {result['epochs']} | "
            f"{given['batch_size']} | {given['learning_rate']}, {given['warmup_epochs']} | "
            f"{'yes' if given['flip'] else 'no'} | {given.get('shift', 0)} | "
            f"{given['label_smoothing']} | {result['fit_s_60k']:.0f} s | "
            f"{result['val_last']:.4f} / {result['val_best']:.4f} | "
            f"{result['val_flip_averaged']:.4f} | {averaged} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(table())
    else:
        main(*sys.argv[1:3])
