"""The semantic check and the fused score in NumPy (fmnist.pipeline.ood.semantic): the reference
the shipped graph is held to."""

from __future__ import annotations

import math

import numpy as np

from fmnist.pipeline.ood import semantic
from fmnist.pipeline.ood.semantic import Limit


def test_the_distance_is_zero_to_a_bank_image_and_one_to_an_orthogonal_one():
    bank = semantic.unit_rows(np.array([[1.0, 0.0, 0.0], [0.0, 3.0, 4.0]])).astype(np.float32)
    queries = np.array([[0.0, 6.0, 8.0], [0.0, 0.0, 0.0], [0.0, -4.0, 3.0], [2.0, 0.0, 0.0]])
    distance = semantic.nearest_distance(queries, bank)
    assert np.allclose(distance, [0.0, 1.0, 1.0, 0.0], atol=1e-7)  # all-zero features: 1


def test_ratios_count_a_one_sided_checks_low_side_as_nothing_and_never_go_below_zero():
    one_sided = Limit(-math.inf, 10.0, 20.0)
    two_sided = Limit(0.0, 1.0, 3.0)
    table = np.array([[0.0, 0.0], [10.0, 1.0], [30.0, 5.0], [15.0, 0.5]])
    ratios = semantic.check_ratios(table, (one_sided, two_sided))
    assert np.allclose(ratios, [[0.0, 1.0], [0.0, 0.0], [2.0, 2.0], [0.5, 0.5]])


def test_the_fusion_adds_the_semantic_check_to_the_largest_pixel_check():
    ratios = np.array([[0.2, 0.9, 0.0, 0.1, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0, 0.0, 2.0]])
    assert np.allclose(semantic.fused(ratios), [1.3, 2.0])


def test_the_threshold_flags_the_chosen_share_of_held_out_clothing(profile, real_train):
    from fmnist.pipeline.ood.profile_format import from_bytes

    rng = np.random.default_rng(0)
    images = real_train.images[-3000:]
    features = rng.standard_normal((3000, 16)).astype(np.float32)
    bank = semantic.unit_rows(rng.standard_normal((64, 16))).astype(np.float32)
    flag = semantic.fit_flag(from_bytes(profile), bank, {"tensor": (images, features)})
    table = semantic.values(images, features, flag)
    verdict = semantic.assess(table, flag, "tensor")
    assert abs(np.mean(verdict.flagged) - semantic.FLAG_RATE) <= 0.001
    assert set(np.unique(verdict.check)) <= set(range(len(semantic.ALL_CHECKS)))
