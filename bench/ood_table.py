"""The flag's table for docs/trust.md: every set's AUROC with its bootstrap 95 % interval, FPR at
95 % TPR and the share flagged, for each model given, the held-back sets apart, worst first.

    python bench/ood_table.py dense=models/model.tflite cnn=/path/to/cnn/model.tflite

Reads data/ood_sets.npz and data/prepared/test.npz; scores with the shipped graph (the same
`Classifier.assess` evaluate uses). Intervals: 2,000 resamples of the clothing and of the set,
each with replacement (percentile method), seeded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from fmnist.core import paths
from fmnist.core.dataset import load_split
from fmnist.inference.classifier import load_classifier
from fmnist.pipeline.ood.measure import detection
from fmnist.pipeline.ood.sets import CLOTHING_FILES_KEY, SETS

ROOT = Path(__file__).resolve().parents[1]
RESAMPLES = 2000


def auroc(reference: np.ndarray, others: np.ndarray) -> float:
    """P(a set's score > clothing's), ties counted half: the AUROC, by sorting."""
    ordered = np.sort(reference)
    below = np.searchsorted(ordered, others, side="left")
    not_above = np.searchsorted(ordered, others, side="right")
    return float(np.mean(below + not_above) / (2 * len(ordered)))


def interval(reference: np.ndarray, others: np.ndarray, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = [
        auroc(rng.choice(reference, len(reference)), rng.choice(others, len(others)))
        for _ in range(RESAMPLES)
    ]
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def rows(model: Path) -> list[dict]:
    classifier = load_classifier(model)
    with np.load(ROOT / paths.OOD_SETS) as arrays:
        sets = {name: arrays[name] for name in arrays.files}
    clothing = {
        "tensor": load_split(ROOT / paths.TEST_NPZ).images,
        "file": sets.pop(CLOTHING_FILES_KEY),
    }
    reference = {kind: classifier.assess(images, kind).score for kind, images in clothing.items()}
    found = []
    for number, ood_set in enumerate(SETS):
        scores = classifier.assess(sets[ood_set.name], ood_set.kind).score
        low, high = interval(reference[ood_set.kind], scores, number)
        figures = detection(reference[ood_set.kind], scores)
        found.append(
            {"set": ood_set.name, "images": len(scores), "held_back": ood_set.held_back}
            | figures
            | {"low": low, "high": high}
        )
    for kind, scores in reference.items():
        found.append({"set": f"clothing ({kind})", "flagged": float(np.mean(scores > 1))})
    return found


def main(arguments: list[str]) -> None:
    models = dict(argument.split("=", 1) for argument in arguments)
    tables = {name: {row["set"]: row for row in rows(Path(path))} for name, path in models.items()}
    first = next(iter(tables.values()))
    names = list(models)
    print(
        "clothing flagged: "
        + "; ".join(
            f"{n}: {100 * tables[n]['clothing (tensor)']['flagged']:.1f} % as arrays, "
            f"{100 * tables[n]['clothing (file)']['flagged']:.1f} % as files"
            for n in names
        )
    )
    header = " | ".join(f"{n}: AUROC [95 % interval] | FPR@95 | flagged" for n in names)
    for held_back in (False, True):
        print(f"\n| {'held-back set' if held_back else 'set'} (images) | {header} |")
        print("|---|" + "---|---|---|" * len(names))
        chosen = [r for r in first.values() if r.get("held_back") is held_back]
        chosen.sort(key=lambda r: min(tables[n][r["set"]]["auroc"] for n in names))
        for row in chosen:
            cells = []
            for n in names:
                r = tables[n][row["set"]]
                cells.append(
                    f"{r['auroc']:.3f} [{r['low']:.3f}, {r['high']:.3f}] | "
                    f"{r['fpr_at_95']:.3f} | {r['flagged']:.3f}"
                )
            print(f"| {row['set']} ({row['images']:,}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
