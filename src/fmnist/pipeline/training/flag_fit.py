"""The flag fitted for one trained network (its penultimate features of training images, the
bank and every limit, from the training split alone: fmnist.pipeline.ood.semantic), and the
export that ships it."""

from __future__ import annotations

import numpy as np

from fmnist.pipeline.ood import clothing_files
from fmnist.pipeline.ood.fit_profile import held_out_count
from fmnist.pipeline.ood.profile_format import Profile
from fmnist.pipeline.ood.semantic import BANK, Flag, fit_flag, unit_rows
from fmnist.pipeline.training.backend import keras
from fmnist.pipeline.training.export import export, features_of, shipped_model

# Held-out training images also saved as files and decoded, for the file limits: 2,000 fix the
# 95th percentile to within about half a percent.
HELD_OUT_FILES = 2000
# Draws the bank's images and the files' sizes and formats: fixed, so the flag depends on the
# network and the training data only.
SEED = 24


def features(extractor: keras.Model, images: np.ndarray) -> np.ndarray:
    """The features `extractor` (export.features_of) gives `images`, float32."""
    return np.asarray(extractor.predict(images, batch_size=1024, verbose=0), np.float32)


def fit_for(model: keras.Model, profile: Profile, images: np.ndarray) -> Flag:
    """The flag for `model`: the bank from the images the class models were fitted on (all but
    the last HELD_OUT), the limits from those last ones, as arrays and as files."""
    held = held_out_count(len(images))
    fit_images, held_out = images[:-held], images[-held:]
    rng = np.random.default_rng(SEED)
    rows = np.sort(rng.choice(len(fit_images), min(BANK, len(fit_images)), replace=False))
    extractor = features_of(model)
    bank = unit_rows(features(extractor, fit_images[rows])).astype(np.float32)
    files = clothing_files.as_files(held_out[:HELD_OUT_FILES], SEED)
    kinds = {
        "tensor": (held_out, features(extractor, held_out)),
        "file": (files, features(extractor, files)),
    }
    return fit_flag(profile, bank, kinds)


def export_with_flag(
    model: keras.Model,
    profile: Profile,
    train_images: np.ndarray,
    check_images: np.ndarray,
    test_time_flip: bool,
    temperature: float,
) -> bytes:
    """The sealed model.tflite train writes: the network (mirror-averaged with test_time_flip),
    its probabilities at `temperature` and the flag fitted for it, checked against Keras on
    `check_images`."""
    flag = fit_for(model, profile, train_images)
    shipped = shipped_model(model, flag, test_time_flip, temperature)
    return export(shipped, check_images, shipped_model(model, None, test_time_flip, temperature))
