"""The checks, the score and the profile's bytes, on small hand-made inputs (fast tier)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmnist.ood.profile_format import (
    CHECKS,
    KINDS,
    Limit,
    Profile,
    ProfileError,
    from_bytes,
    to_bytes,
)
from fmnist.ood.score import assess, ratios, statistics
from fmnist.pipeline.ood.fit_profile import fit_gaussians, limits


def garments(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Stand-ins for clothing: a textured bright block of varying size, left (class 0) or
    right (class 1) of the frame."""
    images = np.zeros((count, 28, 28), np.float32)
    labels = rng.integers(0, 2, count)
    for image, label in zip(images, labels, strict=True):
        height, width = int(rng.integers(12, 20)), int(rng.integers(6, 11))
        top, left = int(rng.integers(3, 28 - height - 2)), 3 + 11 * int(label)
        block = rng.uniform(0.4, 1.0, (height, width))
        block[rng.random((height, width)) < rng.uniform(0.0, 0.3)] = 0.0  # gaps: fill varies
        image[top : top + height, left : left + width] = block
    return images, labels


def tiny_profile(seed: int = 0) -> Profile:
    """A real fit on 400 stand-ins, limits on 400 more."""
    rng = np.random.default_rng(seed)
    images, labels = garments(rng, 400)
    pixels = fit_gaussians(images, labels, 2)
    flat = images.reshape(len(images), -1).astype(np.float64)
    shape = fit_gaussians(flat / np.linalg.norm(flat, axis=1, keepdims=True), labels, 2)
    partial = Profile(pixels, shape, {})
    found = limits(statistics(garments(rng, 400)[0], partial))
    return Profile(pixels, shape, {kind: found for kind in KINDS})


def test_a_checks_score_is_0_at_the_middle_and_1_at_either_limit():
    two_sided, one_sided = Limit(0.2, 0.5, 1.1), Limit(-math.inf, 10.0, 20.0)
    values = np.array([0.2, 0.5, 1.1, 0.35, 2.0])
    assert np.allclose(ratios(values, two_sided), [1.0, 0.0, 1.0, 0.5, 2.5])
    assert np.allclose(ratios(np.array([10.0, 20.0, 0.0, 40.0]), one_sided), [0, 1, -1, 3])


def test_the_edges_coverage_and_fill_checks_measure_what_they_say():
    profile = tiny_profile()
    black, half = np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
    half[:, :14] = 1.0  # one vertical edge of 28 unit steps, energy 392, half the pixels lit
    values = statistics(np.stack([black, half]), profile)
    assert values[0, CHECKS.index("edges")] == 0.0 and values[0, CHECKS.index("coverage")] == 0
    assert values[1, CHECKS.index("edges")] == pytest.approx(28 / 392)
    assert values[1, CHECKS.index("coverage")] == 0.5
    assert values[0, CHECKS.index("fill")] == 1.0  # no object: nothing to fill
    framed = np.zeros((28, 28), np.float32)
    framed[4:24, 4:24] = 0.5
    framed[10:14, 10:14] = 0.0  # a hole of 16 pixels in a 400-pixel object
    assert statistics(framed[None], profile)[0, CHECKS.index("fill")] == pytest.approx(384 / 400)


def test_limits_flag_the_asked_share_of_held_out_and_the_score_agrees():
    rng = np.random.default_rng(1)
    held_out = rng.normal(size=(4000, len(CHECKS)))
    found = limits(held_out, rate=0.05)
    scores = np.max([ratios(held_out[:, i], found[c]) for i, c in enumerate(CHECKS)], axis=0)
    assert abs(np.mean(scores > 1.0) - 0.05) < 0.002
    assert math.isinf(found["pixels"].low) and math.isinf(found["shape"].low)
    assert found["edges"].low < found["edges"].middle < found["edges"].high


def test_a_garment_like_input_passes_and_noise_and_blank_frames_are_flagged():
    profile = tiny_profile()
    rng = np.random.default_rng(2)
    garment = garments(rng, 1)[0][0]
    noise = rng.random((28, 28), dtype=np.float32)
    verdict = assess(np.stack([garment, noise, np.zeros((28, 28), np.float32)]), profile, "file")
    assert verdict.flagged.tolist() == [False, True, True]
    assert verdict.score[0] < 1.0 < verdict.score[1]


def test_the_profile_round_trips_through_its_bytes_exactly():
    profile = tiny_profile()
    data = to_bytes(profile)
    again = from_bytes(data)
    assert to_bytes(again) == data and to_bytes(tiny_profile()) == data
    assert np.array_equal(again.pixels.bases, profile.pixels.bases)
    images = np.random.default_rng(3).random((5, 28, 28), dtype=np.float32)
    assert assess(images, again, "tensor").score.tobytes() == (
        assess(images, profile, "tensor").score.tobytes()
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"other" + data, "not an fmnist-ood/1 profile"),
        (lambda data: data[:-4], "cut short"),
        (lambda data: data + b"\0\0\0\0", "4 bytes after the last array"),
        (lambda data: data.replace(b'"tensor"', b'"tensur"', 1), "tensor"),
    ],
    ids=["foreign", "truncated", "trailing", "renamed-kind"],
)
def test_a_damaged_profile_is_refused_in_one_line(damage, message):
    with pytest.raises(ProfileError, match=message) as caught:
        from_bytes(damage(to_bytes(tiny_profile())))
    assert "\n" not in str(caught.value)
