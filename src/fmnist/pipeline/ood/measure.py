"""How well the flag tells each set from clothing: the figures evaluate writes to metrics.

For every set, against clothing of the same kind (test images as arrays, or as files): AUROC
of the score, the share of the set still taken as clothing when 95 % of clothing is kept
(FPR at 95 % TPR), and the share the shipped threshold flags.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from fmnist.ood.score import KINDS, from_outputs
from fmnist.pipeline.ood.sets import SETS

# The shipped model's scores for images of a kind: (images, kind) -> (N,) scores.
Scorer = Callable[[np.ndarray, str], np.ndarray]


def detection(clothing: np.ndarray, others: np.ndarray) -> dict[str, float]:
    """AUROC, FPR at 95 % TPR and the share flagged, from scores (higher: less like clothing)."""
    truth = np.concatenate([np.zeros(len(clothing)), np.ones(len(others))])
    kept = np.quantile(clothing, 0.95)
    return {
        "auroc": float(roc_auc_score(truth, np.concatenate([clothing, others]))),
        "fpr_at_95": float(np.mean(others <= kept)),
        "flagged": float(np.mean(others > 1.0)),
    }


def ood_metrics(
    score: Scorer, reference: dict[str, np.ndarray], sets: dict[str, np.ndarray]
) -> dict:
    """The metrics, from clothing's scores of each kind (`reference`) and the scorer for the
    sets: clothing flagged per kind, then every set's detection figures (held-back sets
    apart)."""
    found: dict = {
        "clothing_flagged": {kind: float(np.mean(reference[kind] > 1.0)) for kind in KINDS},
        "sets": {},
        "held_back": {},
    }
    for ood_set in SETS:
        scores = score(sets[ood_set.name], ood_set.kind)
        group = "held_back" if ood_set.held_back else "sets"
        found[group][ood_set.name] = detection(reference[ood_set.kind], scores)
    return found


def scores_in(outputs: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """The flag's scores among a model's outputs, for images of `kind`."""
    return from_outputs(outputs, kind).score


def worst_auroc(found: dict) -> float:
    """The lowest AUROC over every set, held-back ones included."""
    return min(row["auroc"] for group in ("sets", "held_back") for row in found[group].values())
