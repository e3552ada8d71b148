"""The verdict of the "not like Fashion-MNIST" flag, as the shipped model computes it and users
see it. The checks run inside model.tflite's graph (fmnist.pipeline.training.flag_graph builds
them; fmnist.pipeline.ood holds their fitting and the NumPy reference): here, only which outputs
hold the verdict, the checks' names, and the verdict in the form the CLI and the server give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The shipped model's flag outputs for each input kind: the score (flagged above 1) and the index
# in FLAG_CHECKS of the check furthest out. Kinds: arrays as given, and images decoded from files
# (resampled, trimmed and compressed on the way, so sharper or softer than the originals).
KIND_OUTPUTS = {"tensor": ("ood_score", "ood_check"), "file": ("ood_score_file", "ood_check_file")}
KINDS = tuple(KIND_OUTPUTS)
# The shipped flag's checks, in the graph's order; users see these names. Five on the 28x28
# pixels, then the network's own features (the distance to the nearest training image's).
FLAG_CHECKS = ("pixels", "shape", "edges", "coverage", "fill", "semantic")
# Each check's finding in plain words, as the CLI, its JSON and the page say it (docs/trust.md
# has the measures). Edges, coverage and fill are two-sided: too much or too little.
REASONS = {
    "pixels": "its pixels are unlike any garment's in Fashion-MNIST",
    "shape": "its shape is unlike any garment's, whatever its brightness",
    "edges": "too smooth or too busy for a garment (a blank frame, a blur, noise)",
    "coverage": "too much or too little of the frame is lit for a garment photographed alone",
    "fill": "the object fills its box unlike a garment (a photo squeezed into the frame)",
    "semantic": "the network knows no training image like it: likely not clothing",
}
TRUST_PAGE = "docs/trust.md"  # where the flag, its checks and its limits are explained


@dataclass(frozen=True)
class Assessment:
    """Per image: the score (flagged above 1) and the check that gave it."""

    score: np.ndarray  # (N,) float64
    check: np.ndarray  # (N,) index into FLAG_CHECKS

    @property
    def flagged(self) -> np.ndarray:
        return self.score > 1.0


def from_outputs(outputs: dict[str, np.ndarray], kind: str) -> Assessment | None:
    """The verdict the shipped model computed for images of `kind`, or None if it has no flag."""
    score_name, check_name = KIND_OUTPUTS[kind]
    if score_name not in outputs:
        return None
    return Assessment(outputs[score_name].astype(np.float64), outputs[check_name])


def describe(assessment: Assessment, index: int) -> dict:
    """One image's verdict as users see it in JSON: score, flag, the check behind it and what
    that check found, in plain words."""
    score = float(assessment.score[index])
    check = FLAG_CHECKS[int(assessment.check[index])]
    return {"score": score, "flagged": score > 1.0, "check": check, "reason": REASONS[check]}
