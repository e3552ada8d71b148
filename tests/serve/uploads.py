"""Files a user gives the page: a photo of a test image, noise, a dropped PNG, a text file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist.core.dataset import CLASS_NAMES, Split
from fmnist.decoding import load_input
from fmnist.inference.classifier import Classifier

NOTES = b"Things to pack:\n- a coat\n- two shirts\n- sandals\n"


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A Split's float image in [0, 1] back to the dataset's bytes (exact: they were x / 255)."""
    return np.round(image * 255).astype(np.uint8)


def photo_like(image: np.ndarray, path: Path) -> Path:
    """A test image as a photo of it might come: dark on white, large, off-centre, in a JPEG."""
    dark_on_white = Image.fromarray(255 - as_uint8(image))
    large = dark_on_white.resize((280, 280), Image.Resampling.LANCZOS).convert("RGB")
    canvas = Image.new("RGB", (420, 360), "white")
    canvas.paste(large, (90, 30))
    canvas.save(path, "JPEG", quality=95)
    return path


def a_photo_classified_right(
    classifier: Classifier, test: Split, folder: Path
) -> tuple[Path, np.ndarray, str]:
    """The first of the first 50 test images whose photo is classified as its label: the photo,
    the images `fmnist predict` decodes from it, and the class."""
    for index in range(50):
        photo = photo_like(test.images[index], folder / f"photo-{index}.jpg")
        decoded = load_input(photo).images
        expected = CLASS_NAMES[int(classifier.logits(decoded)[0].argmax())]
        if expected == CLASS_NAMES[test.labels[index]]:
            return photo, decoded, expected
    pytest.fail("none of the first 50 test images, as photos, is classified right")


def noise_png(path: Path) -> Path:
    """96x96 uniform gray-level noise, seeded."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96), np.uint8)).save(path)
    return path


def dropped_png(image: np.ndarray) -> bytes:
    """A test image dark on white, enlarged, as an RGB PNG's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(255 - as_uint8(image)).resize((112, 112)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()
