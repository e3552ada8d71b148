"""The flag's choice checked: every candidate the protocol allows (docs/trust.md, round two), the
rule that picks among them, and the rule again with each tuning set left out in turn.

    python bench/ood_choice.py dense=models/model.keras cnn=/path/to/cnn/model.keras

Candidates under the cost cap (a bank of 2,048, the shipped one): the semantic check as the
distance to the k-th nearest bank image, k in KS, or the Mahalanobis distance to the nearest
class mean (shared covariance) on the same unit features; each fused with the five pixel checks
by FUSIONS. Everything is fitted on the training split alone: the bank and the class means on
the first 54,000 images, every spread, and the Gaussian density, on the last 6,000 (as arrays,
and 2,000 of them as files), as train fits the shipped flag. The rule: the highest worst-set
AUROC over the tuning sets, taking the worse of the models; ties to the earlier candidate
(cheaper). Held-back sets are not read. Prints the full table's top rows, then one row per
left-out set: what the rule picks without it, and that pick's AUROC on it against the full
choice's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ood_table import auroc  # bench/: the same AUROC as the flag's table

from fmnist.core import paths
from fmnist.core.dataset import load_split
from fmnist.pipeline.ood import clothing_files
from fmnist.pipeline.ood.fit_profile import HELD_OUT
from fmnist.pipeline.ood.pixel_checks import statistics
from fmnist.pipeline.ood.profile_format import from_bytes, read_profile
from fmnist.pipeline.ood.semantic import ALL_CHECKS, BANK, check_ratios, spread, unit_rows
from fmnist.pipeline.ood.sets import CLOTHING_FILES_KEY, SETS
from fmnist.pipeline.training.backend import keras
from fmnist.pipeline.training.export import features_of
from fmnist.pipeline.training.flag_fit import HELD_OUT_FILES, SEED, features

ROOT = Path(__file__).resolve().parents[1]
KS = (1, 2, 4, 5, 10, 25, 50, 300)
PIXEL_CHECKS = len(ALL_CHECKS) - 1


FUSIONS = {
    "pixel score + semantic": lambda r, _: r[:, :PIXEL_CHECKS].max(axis=1) + r[:, -1],
    "largest of the six": lambda r, _: r.max(axis=1),
    "sum of the six": lambda r, _: r.sum(axis=1),
    "Euclidean length": lambda r, _: np.sqrt((r * r).sum(axis=1)),
    "Gaussian density": lambda _, table_density: table_density,
}


def semantic_columns(unit: np.ndarray, bank: np.ndarray, means: np.ndarray, precision) -> dict:
    """Every semantic candidate's value for unit features (N, D): name -> (N,)."""
    similarity = unit @ bank.T
    ranked = -np.sort(-similarity, axis=1)
    found = {f"{k} of {len(bank):,}": 1.0 - ranked[:, k - 1] for k in KS}
    centred = unit[:, None, :] - means[None]  # (N, classes, D)
    found["Mahalanobis"] = ((centred @ precision) * centred).sum(axis=2).min(axis=1)
    return found


class Candidates:
    """One model's candidate scores: fitted on the training split, applied to any images."""

    def __init__(self, model: keras.Model, profile, train) -> None:
        self.extractor, self.profile = features_of(model), profile
        fit_images, fit_labels = train.images[:-HELD_OUT], train.labels[:-HELD_OUT]
        rng = np.random.default_rng(SEED)
        rows = np.sort(rng.choice(len(fit_images), BANK, replace=False))
        self.bank = unit_rows(features(self.extractor, fit_images[rows]))
        unit = unit_rows(features(self.extractor, fit_images))
        self.means = np.stack([unit[fit_labels == c].mean(axis=0) for c in range(10)])
        centred = unit - self.means[fit_labels]
        covariance = centred.T @ centred / len(unit) + 1e-6 * np.eye(unit.shape[1])
        self.precision = np.linalg.inv(covariance)
        held = train.images[-HELD_OUT:]
        kinds = {"tensor": held, "file": clothing_files.as_files(held[:HELD_OUT_FILES], SEED)}
        self.fitted = {kind: self._fit(images) for kind, images in kinds.items()}

    def tables(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Semantic candidate -> the six raw checks, (N, 6)."""
        pixel = statistics(images, self.profile)
        unit = unit_rows(features(self.extractor, images))
        columns = semantic_columns(unit, self.bank, self.means, self.precision)
        return {name: np.column_stack([pixel, column]) for name, column in columns.items()}

    def _fit(self, images: np.ndarray) -> dict:
        """Per semantic candidate: the six spreads and the Gaussian density's mean and precision."""
        fitted = {}
        for name, table in self.tables(images).items():
            spreads = [spread(table[:, i], check) for i, check in enumerate(ALL_CHECKS)]
            mean = table.mean(axis=0)
            covariance = np.cov(table, rowvar=False) + 1e-9 * np.eye(table.shape[1])
            fitted[name] = (spreads, mean, np.linalg.inv(covariance))
        return fitted

    def scores(self, images: np.ndarray, kind: str) -> dict[str, np.ndarray]:
        """Candidate name -> scores (N,) for images of `kind`."""
        found = {}
        for name, table in self.tables(images).items():
            spreads, mean, precision = self.fitted[kind][name]
            ratios = check_ratios(table, tuple(spreads))
            centred = table - mean
            density = ((centred @ precision) * centred).sum(axis=1)
            for fusion, rule in FUSIONS.items():
                found[f"{name}: {fusion}"] = rule(ratios, density)
        return found


def aurocs(model_path: Path) -> dict[str, dict[str, float]]:
    """Candidate -> tuning set -> AUROC, for one model."""
    model = keras.models.load_model(model_path, compile=False)
    profile = from_bytes(read_profile(ROOT / paths.OOD_PROFILE))
    candidates = Candidates(model, profile, load_split(ROOT / paths.TRAIN_NPZ))
    with np.load(ROOT / paths.OOD_SETS) as arrays:
        sets = {s.name: arrays[s.name] for s in SETS if not s.held_back}
        clothing = {
            "tensor": load_split(ROOT / paths.TEST_NPZ).images,
            "file": arrays[CLOTHING_FILES_KEY],
        }
    reference = {kind: candidates.scores(images, kind) for kind, images in clothing.items()}
    table: dict[str, dict[str, float]] = {}
    for ood_set in (s for s in SETS if not s.held_back):
        for name, scores in candidates.scores(sets[ood_set.name], ood_set.kind).items():
            table.setdefault(name, {})[ood_set.name] = auroc(reference[ood_set.kind][name], scores)
    return table


def choose(tables: dict, left_out: str | None = None) -> tuple[str, float]:
    """The rule: the candidate of the highest worst-set AUROC (the worse model's)."""
    best, best_value = "", -1.0
    for name in next(iter(tables.values())):
        value = min(
            auroc_value
            for table in tables.values()
            for set_name, auroc_value in table[name].items()
            if set_name != left_out
        )
        if value > best_value:
            best, best_value = name, value
    return best, best_value


def main(arguments: list[str]) -> None:
    models = dict(argument.split("=", 1) for argument in arguments)
    tables = {name: aurocs(Path(path)) for name, path in models.items()}
    names = list(models)
    worst = {
        candidate: [min(tables[m][candidate].values()) for m in names]
        for candidate in tables[names[0]]
    }
    ranked = sorted(worst, key=lambda c: -min(worst[c]))
    print(f"| candidate (bank {BANK:,}) | worst tuning set, {' / '.join(names)} |\n|---|---|")
    for candidate in ranked[:12]:
        print(f"| {candidate} | {' / '.join(f'{v:.3f}' for v in worst[candidate])} |")
    chosen, value = choose(tables)
    print(f"\nchosen on every tuning set: {chosen} ({value:.3f})\n")
    models_named = " / ".join(names)
    print(f"| left out | picked without it | its AUROC there, {models_named} | the full choice's |")
    print("|---|---|---|---|")
    same = 0
    for set_name in tables[names[0]][chosen]:
        picked, _ = choose(tables, set_name)
        same += picked == chosen
        theirs = " / ".join(f"{tables[m][picked][set_name]:.3f}" for m in names)
        ours = " / ".join(f"{tables[m][chosen][set_name]:.3f}" for m in names)
        label = "the same" if picked == chosen else picked
        print(f"| {set_name} | {label} | {theirs} | {ours} |")
    print(f"\nthe same choice with {same} of {len(tables[names[0]][chosen])} sets left out")


if __name__ == "__main__":
    main(sys.argv[1:])
