"""`make bench`'s inference rows: LiteRT on model.tflite beside Keras' own model.predict.

Run by bench/run.py on projects it has trained. Every timing is a median over interleaved
rounds: this machine is shared, and each round sees both sides under the same load.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROUNDS = 3

# Run inside a project: both runtimes over all 70,000 images, interleaved, as evaluate does.
_SIDE_BY_SIDE = f"""
import json, statistics, sys, time
import numpy as np
from fmnist.core import paths
from fmnist.core.dataset import load_split
from fmnist.inference.classifier import load_classifier
from fmnist.pipeline.training.backend import keras
images = np.concatenate([load_split(paths.TEST_NPZ).images, load_split(paths.TRAIN_NPZ).images])
classifier = load_classifier(paths.MODEL)
model = keras.saving.load_model(paths.KERAS_MODEL, compile=False)
times = {{"litert_s": [], "keras_s": []}}
for _ in range({ROUNDS}):
    start = time.perf_counter(); ours = classifier.logits(images)
    times["litert_s"].append(time.perf_counter() - start)
    start = time.perf_counter(); theirs = model.predict(images, batch_size=1000, verbose=0)
    times["keras_s"].append(time.perf_counter() - start)
result = {{name: statistics.median(values) for name, values in times.items()}}
result["max_abs_logit_difference"] = float(np.abs(ours - theirs).max())
result["argmax_disagreements"] = int((ours.argmax(1) != theirs.argmax(1)).sum())
print(json.dumps(result))
"""


def side_by_side(project: Path, env: dict[str, str]) -> dict[str, float]:
    """LiteRT's and Keras' seconds over the 70,000 images, their largest logit difference and
    how many images they classify differently."""
    run = subprocess.run(
        [sys.executable, "-c", _SIDE_BY_SIDE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def write_inputs(project: Path, folder: Path) -> tuple[Path, Path, Path]:
    """One PNG, a folder of 2,000 PNGs and a (100000, 28, 28) .npy, from the real test images."""
    from PIL import Image

    test = np.load(project / "data/prepared/test.npz")["images"]
    pixels = np.rint(test * 255).astype(np.uint8)
    pngs = folder / "pngs"
    pngs.mkdir(parents=True)
    for index in range(2000):
        Image.fromarray(pixels[index]).save(pngs / f"{index:04d}.png")
    array = folder / "images.npy"
    np.save(array, np.tile(pixels, (10, 1, 1)))
    return pngs / "0000.png", pngs, array


def cli_seconds(project: Path, env: dict[str, str], inputs: Path) -> float:
    """Median wall time of `fmnist predict INPUTS` as a whole process, output discarded."""
    script = Path(sys.executable).parent / "fmnist"
    walls = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(
            [script, "predict", inputs], cwd=project, env=env, stdout=subprocess.DEVNULL, check=True
        )
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def report_rows(r: dict, met: Callable[[bool], str]) -> list[tuple[str, str, str]]:
    """The table rows of these measurements: (measure, value, whether its target is met)."""
    disagreements = f"{r['dense_argmax_disagreements']} / {r['cnn_argmax_disagreements']}"
    differences = (
        f"{r['dense_max_abs_logit_difference']:.1e} / {r['cnn_max_abs_logit_difference']:.1e}"
    )
    return [
        ("dense: 70,000 images, LiteRT", f"{r['dense_litert_s']:.2f} s", ""),
        ("dense: 70,000 images, Keras model.predict", f"{r['dense_keras_s']:.2f} s", ""),
        ("  Keras / LiteRT", f"{r['dense_keras_s'] / r['dense_litert_s']:.1f}x", ""),
        ("CNN (1 epoch): 70,000 images, LiteRT", f"{r['cnn_litert_s']:.2f} s", ""),
        ("CNN: 70,000 images, Keras model.predict", f"{r['cnn_keras_s']:.2f} s", ""),
        ("  Keras / LiteRT", f"{r['cnn_keras_s'] / r['cnn_litert_s']:.1f}x", ""),
        ("max abs logit difference, dense / CNN", differences, ""),
        ("argmax disagreements of 70,000, dense / CNN", disagreements, ""),
        (
            "CNN: dvc repro -f -s evaluate (target <= 8 s)",
            f"{r['cnn_evaluate_rerun_s']:.2f} s",
            met(r["cnn_evaluate_rerun_s"] <= 8),
        ),
        (
            "fmnist predict, one PNG, whole process (<= 1 s)",
            f"{r['cli_one_png_s']:.2f} s",
            met(r["cli_one_png_s"] <= 1),
        ),
        ("fmnist predict, folder of 2,000 PNGs", f"{r['cli_png_folder_per_s']:,.0f}/s", ""),
        (
            "fmnist predict, dense, 100,000 from .npy (>= 20,000/s)",
            f"{r['cli_npy_dense_per_s']:,.0f}/s",
            met(r["cli_npy_dense_per_s"] >= 20_000),
        ),
        ("fmnist predict, CNN, 100,000 from .npy", f"{r['cli_npy_cnn_per_s']:,.0f}/s", ""),
    ]
