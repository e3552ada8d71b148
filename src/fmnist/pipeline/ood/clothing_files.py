"""Clothing as it reaches the model from a user's file: drawn dark on light, saved at some size
and format, then decoded by `fmnist predict`'s own decoding (inverted, trimmed, refitted).

The round trip resamples and compresses: a decoded image is softer or sharper than the
original, so the checks keep separate thresholds for files, fitted on images made here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fmnist.decoding import load_image

# Sizes a file is saved at, as multiples of 28 (1: the 28x28 original itself), and the share
# saved as JPEG (quality 75-95) rather than PNG.
SCALES = (1, 2, 3, 4, 6, 8)
JPEG_SHARE = 0.5


def encode(image: np.ndarray, scale: int, jpeg_quality: int | None) -> bytes:
    """A (28, 28) [0, 1] light-on-black image as a file: dark on white, `scale` times the size
    (bicubic), PNG or (with a quality) JPEG."""
    gray = np.round(255 * (1.0 - image)).astype(np.uint8)
    picture = Image.fromarray(gray, mode="L")
    if scale != 1:
        picture = picture.resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    if jpeg_quality is None:
        picture.save(buffer, format="PNG", compress_level=1)
    else:
        picture.save(buffer, format="JPEG", quality=jpeg_quality)
    return buffer.getvalue()


def as_files(images: np.ndarray, seed: int) -> np.ndarray:
    """Each image saved as a file (size and format drawn from `seed`) and decoded again."""
    rng = np.random.default_rng(seed)
    decoded = []
    for image in images:
        scale = int(rng.choice(SCALES))
        quality = int(rng.integers(75, 96)) if rng.random() < JPEG_SHARE else None
        decoded.append(load_image(io.BytesIO(encode(image, scale, quality)), "round trip"))
    return np.stack(decoded) if decoded else np.zeros((0, 28, 28), np.float32)
