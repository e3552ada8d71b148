"""The pixel checks' statistics and the profile's bytes, on small hand-made inputs (fast tier)."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.pipeline.ood.fit_profile import fit_gaussians
from fmnist.pipeline.ood.pixel_checks import statistics
from fmnist.pipeline.ood.profile_format import CHECKS, Profile, ProfileError, from_bytes, to_bytes


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
    """A real fit on 400 stand-ins."""
    rng = np.random.default_rng(seed)
    images, labels = garments(rng, 400)
    pixels = fit_gaussians(images, labels, 2)
    flat = images.reshape(len(images), -1).astype(np.float64)
    shape = fit_gaussians(flat / np.linalg.norm(flat, axis=1, keepdims=True), labels, 2)
    return Profile(pixels, shape)


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


def test_a_garment_is_likelier_than_noise_and_a_blank_frame_under_the_class_models():
    profile = tiny_profile()
    rng = np.random.default_rng(2)
    garment = garments(rng, 1)[0][0]
    noise = rng.random((28, 28), dtype=np.float32)
    values = statistics(np.stack([garment, noise, np.full((28, 28), 0.5, np.float32)]), profile)
    pixels, shape = values[:, CHECKS.index("pixels")], values[:, CHECKS.index("shape")]
    assert pixels[0] < pixels[1] and pixels[0] < pixels[2]
    assert shape[0] < shape[1] and shape[0] < shape[2]


def test_the_profile_round_trips_through_its_bytes_exactly():
    profile = tiny_profile()
    data = to_bytes(profile)
    again = from_bytes(data)
    assert to_bytes(again) == data and to_bytes(tiny_profile()) == data
    assert np.array_equal(again.pixels.bases, profile.pixels.bases)
    images = np.random.default_rng(3).random((5, 28, 28), dtype=np.float32)
    assert statistics(images, again).tobytes() == statistics(images, profile).tobytes()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"other" + data, "not an fmnist-ood/2 profile"),
        (lambda data: data.replace(b"fmnist-ood/2", b"fmnist-ood/1", 1), "not an fmnist-ood/2"),
        (lambda data: data[:-4], "cut short"),
        (lambda data: data + b"\0\0\0\0", "4 bytes after the last array"),
        (lambda data: data.replace(b'"pixels.means"', b'"pixels.meant"', 1), "pixels.means"),
    ],
    ids=["foreign", "format-1", "truncated", "trailing", "renamed-array"],
)
def test_a_damaged_profile_is_refused_in_one_line(damage, message):
    with pytest.raises(ProfileError, match=message) as caught:
        from_bytes(damage(to_bytes(tiny_profile())))
    assert "\n" not in str(caught.value)
