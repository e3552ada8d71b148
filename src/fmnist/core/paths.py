"""Every path the pipeline reads or writes, relative to the project root (DVC runs stages there)."""

from __future__ import annotations

import os
from pathlib import Path

PARAMS = Path("params.yaml")
# Written by the check stage once params.yaml passes the loader; prepare depends on it.
PARAMS_CHECKED = Path("data/params.checked")

PREPARED_DIR = Path("data/prepared")
TRAIN_NPZ = PREPARED_DIR / "train.npz"
TEST_NPZ = PREPARED_DIR / "test.npz"
# The images evaluate measures the "not like Fashion-MNIST" flag on (fmnist.pipeline.ood.sets),
# and test images as a user's files would bring them.
OOD_SETS = Path("data/ood_sets.npz")
# What the flag knows of clothing (fmnist.pipeline.ood.profile_format), fitted on the training split
# alone; train seals it into model.tflite, so it is fitted once, not on every training run.
OOD_PROFILE = Path("data/ood_profile.bin")

# The trained Keras model, for more training; the LiteRT export beside it is what ships:
# evaluate, predict and `fmnist predict` run it.
KERAS_MODEL = Path("models/model.keras")
MODEL = Path("models/model.tflite")
# dvclive's directory: per-epoch curves under plots/metrics/, the last epoch in metrics.json.
TRAIN_LIVE = Path("reports/live")
EVALUATE_METRICS = Path("metrics/evaluate.json")
# Where in it scikit-learn's per-class report lives: `dvc metrics diff` and `dvc exp show` sort a
# file's keys (and list the files in no fixed order), so "z_" keeps its per-class figures after the
# five headline ones rather than before them.
PER_CLASS_KEY = "z_per_class"
# The "not like Fashion-MNIST" flag's figures: after the headline rows, before the per-class ones.
OOD_KEY = "unlike_fashion_mnist"
PREDICT_METRICS = Path("metrics/predict.json")
PREDICTIONS = Path("reports/predictions.json")
CONFUSION = Path("reports/confusion.json")
PER_CLASS = Path("reports/per_class.json")
RELIABILITY = Path("reports/reliability.json")  # the shipped, calibrated probabilities
RELIABILITY_UNCALIBRATED = Path("reports/reliability_uncalibrated.json")  # softmax of the logits
FIGURES_DIR = Path("reports/figures")

# Where a user points the pipeline at their own copy of the data: a directory or a base URL.
DATA_ENV = "FMNIST_DATA"
DEBIAN_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")


def download_cache_dir() -> Path:
    """Directory for downloaded .gz files, shared by every clone of the project."""
    if override := os.environ.get("FMNIST_CACHE"):
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fmnist"
